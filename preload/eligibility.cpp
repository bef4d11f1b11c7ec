// preload/eligibility.cpp — see eligibility.h. No state.
#include "preload/eligibility.h"

#include <sys/mman.h>

namespace uzswap::preload {

MappingVerdict classify_mapping(size_t len, int prot, int flags, int fd, size_t min_mapping) {
  if (!(flags & MAP_ANONYMOUS)) return MappingVerdict::NotAnonymous;
  // MAP_SHARED_VALIDATE has both type bits; anything but plain MAP_PRIVATE is shared.
  if ((flags & (MAP_SHARED | MAP_PRIVATE)) != MAP_PRIVATE) return MappingVerdict::Shared;
  if ((prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE)) return MappingVerdict::NotWritable;
  if (flags & (MAP_STACK | MAP_GROWSDOWN)) return MappingVerdict::Stack;
  if (flags & MAP_HUGETLB) return MappingVerdict::HugeTlb;
  if (flags & MAP_LOCKED) return MappingVerdict::Locked;
  if (page_round_up(len) < min_mapping) return MappingVerdict::TooSmall;
  (void)fd;  // ignored with MAP_ANONYMOUS, as the kernel does
  return MappingVerdict::Manage;
}

}  // namespace uzswap::preload
