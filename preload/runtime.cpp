// preload/runtime.cpp — see runtime.h.
#include "preload/runtime.h"

#include <link.h>

namespace uzswap::preload {

Runtime& runtime() {
  static Runtime r;  // constant-initialised: usable before any constructor ran
  return r;
}

namespace {

// dl_iterate_phdr callback: if this object holds `self_marker`, record the span of its
// loadable segments and stop.
int find_self(struct dl_phdr_info* info, size_t, void* data) {
  uintptr_t marker = reinterpret_cast<uintptr_t>(data);
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    uintptr_t end = begin + ph.p_memsz;
    if (begin < lo) lo = begin;
    if (end > hi) hi = end;
  }
  if (marker < lo || marker >= hi) return 0;
  runtime().self_begin = lo;
  runtime().self_end = hi;
  return 1;
}

}  // namespace

void runtime_locate_self() {
  dl_iterate_phdr(find_self, reinterpret_cast<void*>(&runtime_locate_self));
}

}  // namespace uzswap::preload
