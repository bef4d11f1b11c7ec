// preload/eligibility.h — which mappings the preload library hands to the engine.
//
// Managed: anonymous, private, readable and writable mappings of at least
// UZSWAP_MIN_MAPPING bytes. Never managed:
//   - MAP_SHARED (another process, or a fork child, may see the pages through the kernel);
//   - file-backed mappings (the file is the backing store already);
//   - MAP_STACK / MAP_GROWSDOWN (thread stacks: a fault handler may run on one);
//   - MAP_HUGETLB (userfaultfd MISSING on hugetlbfs works per huge page, not per 4 KiB);
//   - MAP_LOCKED (the program asked for the pages to stay resident);
//   - PROT_NONE or read-only reservations, even if made writable later with mprotect
//     (allocators that reserve then commit are covered at the allocator level instead);
//   - uzswap's own memory (decided by the caller from the return address).
// Pure: no state, unit tested.
#pragma once

#include <cstddef>

namespace uzswap::preload {

enum class MappingVerdict : int {
  Manage,
  TooSmall,
  NotAnonymous,
  Shared,
  NotWritable,
  Stack,
  HugeTlb,
  Locked,
};

MappingVerdict classify_mapping(size_t len, int prot, int flags, int fd, size_t min_mapping);

// len rounded up to the page size.
inline size_t page_round_up(size_t len) { return (len + 4095) & ~static_cast<size_t>(4095); }

}  // namespace uzswap::preload
