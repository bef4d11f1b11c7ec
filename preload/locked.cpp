// preload/locked.cpp — see locked.h. The wrapped calls go straight to the kernel through
// syscall(2) (glibc's wrappers do nothing more), so no lookup is needed before the
// constructor. errno is preserved across our own work.
#include "preload/locked.h"

#include <atomic>
#include <cerrno>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/coverage.h"
#include "preload/eligibility.h"
#include "preload/fork_guard.h"
#include "preload/runtime.h"

namespace uzswap::preload {
namespace {

std::atomic<int> g_mlockall_flags{0};  // MCL_CURRENT | MCL_FUTURE given to the last mlockall, 0 after munlockall

uintptr_t page_down(const void* p) { return reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095}; }

// Unmanages [begin, end), bringing evicted pages back, if any of it may be managed.
void unmanage_for_lock(uintptr_t begin, uintptr_t end) {
  Engine* e = active_engine();
  if (e == nullptr || begin >= end) return;
  int saved = errno;
  ForkGuard guard;
  e = active_engine();
  if (e != nullptr) e->unmanage(reinterpret_cast<void*>(begin), end - begin, /*discard=*/false);
  errno = saved;
}

void note_lock(const void* addr, size_t len) {
  uintptr_t b = page_down(addr);
  uintptr_t e = page_round_up(reinterpret_cast<uintptr_t>(addr) + len);
  locked_ranges().add(b, e);
  unmanage_for_lock(b, e);
}

}  // namespace

RangeSet& locked_ranges() {
  static RangeSet s;  // constant-initialised
  return s;
}

bool locked_init() { return locked_ranges().init(); }

bool all_locked() { return g_mlockall_flags.load(std::memory_order_acquire) != 0; }

}  // namespace uzswap::preload

using uzswap::preload::g_mlockall_flags;

extern "C" {

__attribute__((visibility("default"))) int mlock(const void* addr, size_t len) noexcept {
  uzswap::preload::note_lock(addr, len);
  return static_cast<int>(syscall(SYS_mlock, addr, len));
}

__attribute__((visibility("default"))) int mlock2(const void* addr, size_t len, unsigned int flags) noexcept {
  uzswap::preload::note_lock(addr, len);
  return static_cast<int>(syscall(SYS_mlock2, addr, len, flags));
}

__attribute__((visibility("default"))) int munlock(const void* addr, size_t len) noexcept {
  uintptr_t b = uzswap::preload::page_down(addr);
  uzswap::preload::locked_ranges().remove_within(b, uzswap::preload::page_round_up(reinterpret_cast<uintptr_t>(addr) + len));
  return static_cast<int>(syscall(SYS_munlock, addr, len));
}

__attribute__((visibility("default"))) int mlockall(int flags) noexcept {
  // Set first: the coverage scan and the interposed mmap stop managing before we unmanage.
  g_mlockall_flags.fetch_or(flags & (MCL_CURRENT | MCL_FUTURE), std::memory_order_acq_rel);
  if (flags & MCL_CURRENT) uzswap::preload::coverage_unmanage_all();
  return static_cast<int>(syscall(SYS_mlockall, flags));
}

__attribute__((visibility("default"))) int munlockall() noexcept {
  g_mlockall_flags.store(0, std::memory_order_release);
  uzswap::preload::locked_ranges().clear();
  return static_cast<int>(syscall(SYS_munlockall));
}

}  // extern "C"
