// preload/interpose.cpp — mmap, mmap64, munmap and mremap, as the program sees them.
//
// Every call goes to the next definition (real_calls.h). Around it, while the engine runs
// (runtime.h) and the caller is not uzswap itself (return address in libuzswap.so):
//   mmap     a result that classify_mapping() accepts is handed to Engine::manage;
//            MAP_FIXED over managed memory first forgets the old contents (discard);
//   munmap   managed memory in the range is forgotten (discard) before it goes;
//   mremap   a managed range is unmanaged with its evicted pages brought back, moved or
//            resized by the kernel, then managed again at its new place (pages travel as
//            ordinary resident pages: correct without relying on the engine's REMAP
//            handling, and rare: allocators that mremap do it from inside libc);
//   madvise, mprotect: not interposed. DONTNEED/REMOVE reach the engine as userfaultfd
//            REMOVE events; a managed range that mprotect makes read-only or PROT_NONE
//            stays managed (the kernel keeps the registration); PROT_NONE reservations
//            are not managed when later made writable (eligibility.h).
// Manage/unmanage calls run under ForkGuard so that none slips between the fork prepare
// handler's snapshot and the fork (fork.cpp).
// State: InterposeStats (relaxed atomic counters). errno is preserved across our work.
#include "preload/interpose.h"

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <sys/mman.h>

#include "preload/eligibility.h"
#include "preload/locked.h"
#include "preload/own_memory.h"
#include "preload/fork_guard.h"
#include "preload/real_calls.h"
#include "preload/runtime.h"

namespace uzswap::preload {

InterposeStats& interpose_stats() {
  static InterposeStats s;
  return s;
}

namespace {

constexpr uintptr_t kPageMask = 4095;

bool page_aligned(const void* p) { return (reinterpret_cast<uintptr_t>(p) & kPageMask) == 0; }

// The engine if this call should be looked at: running, and not called from uzswap.
Engine* engine_for(const void* return_address) {
  Engine* e = active_engine();
  return (e != nullptr && !called_from_self(return_address)) ? e : nullptr;
}

// Could [addr, addr+len) hold managed memory? Every managed range is at least
// min_mapping long when managed, so a shorter range can only overlap one at its ends.
bool may_hold_managed(Engine* e, void* addr, size_t len) {
  if (len >= runtime().options.min_mapping) return true;
  const char* a = static_cast<const char*>(addr);
  return e->is_managed(a) || e->is_managed(a + len - 1);
}

void forget(Engine* e, void* addr, size_t len) {
  e->unmanage(addr, page_round_up(len), /*discard=*/true);
  interpose_stats().ranges_forgotten.fetch_add(1, std::memory_order_relaxed);
}

void manage(Engine* e, void* addr, size_t len) {
  InterposeStats& s = interpose_stats();
  if (e->manage(addr, page_round_up(len))) {
    s.mappings_managed.fetch_add(1, std::memory_order_relaxed);
    s.bytes_managed.fetch_add(page_round_up(len), std::memory_order_relaxed);
  } else {
    s.manage_refused.fetch_add(1, std::memory_order_relaxed);
  }
}

// uzswap's own mmap: its memory joins own_ranges() so the coverage scan never manages it.
void* own_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  void* p = real_mmap(addr, len, prot, flags, fd, offset);
  if (p != MAP_FAILED) own_memory_note_mmap(p, len);
  return p;
}

void* interposed_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset, const void* ret) {
  if (called_from_self(ret)) return own_mmap(addr, len, prot, flags, fd, offset);
  Engine* e = engine_for(ret);
  if (e == nullptr) return real_mmap(addr, len, prot, flags, fd, offset);
  bool replaces = (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE) && page_aligned(addr) && len > 0;
  // After mlockall(MCL_FUTURE) new mappings are locked by the kernel: never managed (locked.h).
  bool eligible = classify_mapping(len, prot, flags, fd, runtime().options.min_mapping) == MappingVerdict::Manage &&
                  !all_locked();
  if (!eligible && !(replaces && may_hold_managed(e, addr, len))) return real_mmap(addr, len, prot, flags, fd, offset);

  ForkGuard guard;
  e = active_engine();
  if (e == nullptr) return real_mmap(addr, len, prot, flags, fd, offset);
  if (replaces) forget(e, addr, len);
  void* p = real_mmap(addr, len, prot, flags, fd, offset);
  if (p != MAP_FAILED && eligible) {
    int saved = errno;
    manage(e, p, len);
    errno = saved;
  }
  return p;
}

int interposed_munmap(void* addr, size_t len, const void* ret) {
  if (called_from_self(ret)) {
    int r = real_munmap(addr, len);
    if (r == 0) own_memory_note_munmap(addr, len);
    return r;
  }
  Engine* e = engine_for(ret);
  if (e == nullptr || len == 0 || !page_aligned(addr) || !may_hold_managed(e, addr, len))
    return real_munmap(addr, len);
  ForkGuard guard;
  e = active_engine();
  if (e != nullptr) forget(e, addr, len);
  return real_munmap(addr, len);
}

void* interposed_mremap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr,
                        const void* ret) {
  Engine* e = engine_for(ret);
  if (e == nullptr || old_len == 0 || !page_aligned(old_addr)) return real_mremap(old_addr, old_len, new_len, flags, new_addr);
  bool was_managed = e->is_managed(old_addr);
  bool fixed_target = (flags & MREMAP_FIXED) && page_aligned(new_addr) && may_hold_managed(e, new_addr, new_len);
  if (!was_managed && !fixed_target) return real_mremap(old_addr, old_len, new_len, flags, new_addr);

  ForkGuard guard;
  e = active_engine();
  if (e == nullptr) return real_mremap(old_addr, old_len, new_len, flags, new_addr);
  if (fixed_target) forget(e, new_addr, new_len);
  if (was_managed) e->unmanage(old_addr, page_round_up(old_len), /*discard=*/false);
  void* p = real_mremap(old_addr, old_len, new_len, flags, new_addr);
  int saved = errno;
  if (p == MAP_FAILED) {
    if (was_managed) manage(e, old_addr, old_len);
  } else if (was_managed && page_round_up(new_len) >= runtime().options.min_mapping) {
    manage(e, p, new_len);
    interpose_stats().remaps_restored.fetch_add(1, std::memory_order_relaxed);
  }
  errno = saved;
  return p;
}

}  // namespace
}  // namespace uzswap::preload

using uzswap::preload::interposed_mmap;
using uzswap::preload::interposed_mremap;
using uzswap::preload::interposed_munmap;

extern "C" {

__attribute__((visibility("default"))) void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) noexcept {
  return interposed_mmap(addr, len, prot, flags, fd, offset, __builtin_return_address(0));
}

__attribute__((visibility("default"))) void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) noexcept {
  return interposed_mmap(addr, len, prot, flags, fd, offset, __builtin_return_address(0));
}

__attribute__((visibility("default"))) int munmap(void* addr, size_t len) noexcept {
  return interposed_munmap(addr, len, __builtin_return_address(0));
}

__attribute__((visibility("default"))) void* mremap(void* old_addr, size_t old_len, size_t new_len, int flags, ...) noexcept {
  void* new_addr = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  return interposed_mremap(old_addr, old_len, new_len, flags, new_addr, __builtin_return_address(0));
}

}  // extern "C"
