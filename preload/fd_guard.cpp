// preload/fd_guard.cpp — the program cannot close or replace uzswap's descriptors
// (common/fd_guard.h says why and which).
//
// Interposed: close, close_range, closefrom, dup2, dup3. On one of uzswap's descriptors,
// on behalf of the program:
//   close(fd)              fails with EBADF, as for any number the program never opened;
//   close_range(a, b, fl)  acts on the parts of [a, b] around uzswap's descriptors;
//   closefrom(a)           the same, up to the highest number;
//   dup2/dup3(old, fd)     fail with EBADF, as for a number out of the program's range,
//                          rather than closing ours under the engine (not EBUSY: Linux
//                          documents it as a transient race, and callers retry it).
// uzswap's descriptors sit above the numbers programs use (fd_adopt), so the last case
// needs a program that picks high numbers on purpose. Calls made by libuzswap.so itself
// pass straight through.
//
// State: the real close, looked up once (glibc's close is a cancellation point: the
// program keeps that); the others are made with syscall(2).
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>

#include "common/fd_guard.h"
#include "preload/runtime.h"

namespace uzswap::preload {
namespace {

using CloseFn = int (*)(int);
std::atomic<CloseFn> g_real_close{nullptr};
thread_local bool t_resolving = false;

int real_close(int fd) {
  CloseFn f = g_real_close.load(std::memory_order_acquire);
  if (f == nullptr && !t_resolving) {
    t_resolving = true;  // dlsym may close a descriptor of its own: no recursion
    f = reinterpret_cast<CloseFn>(dlsym(RTLD_NEXT, "close"));
    t_resolving = false;
    g_real_close.store(f, std::memory_order_release);
  }
  return f != nullptr ? f(fd) : static_cast<int>(syscall(SYS_close, fd));
}

int sys_close_range(unsigned first, unsigned last, int flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

// close_range over [first, last] minus uzswap's descriptors. Arguments the kernel refuses
// go to it whole, so the program gets the kernel's EINVAL.
int close_range_around_ours(unsigned first, unsigned last, int flags) {
  if (first > last || (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) != 0)
    return sys_close_range(first, last, flags);
  int ours[kFdGuardSlots];
  size_t n = fd_ours(ours, kFdGuardSlots);
  unsigned from = first;
  int rc = 0;
  for (size_t i = 0; i < n && from <= last; ++i) {
    auto fd = static_cast<unsigned>(ours[i]);
    if (fd < from || fd > last) continue;
    if (fd > from && sys_close_range(from, fd - 1, flags) != 0) rc = -1;
    if (fd == UINT_MAX) return rc;
    from = fd + 1;
  }
  if (from <= last && from >= first && sys_close_range(from, last, flags) != 0) rc = -1;
  return rc;
}

}  // namespace
}  // namespace uzswap::preload

using uzswap::fd_is_ours;
using uzswap::preload::called_from_self;

extern "C" {

__attribute__((visibility("default"))) int close(int fd) {
  if (fd_is_ours(fd) && !called_from_self(__builtin_return_address(0))) {
    errno = EBADF;
    return -1;
  }
  return uzswap::preload::real_close(fd);
}

__attribute__((visibility("default"))) int close_range(unsigned first, unsigned last, int flags) noexcept {
  if (called_from_self(__builtin_return_address(0))) return uzswap::preload::sys_close_range(first, last, flags);
  return uzswap::preload::close_range_around_ours(first, last, flags);
}

__attribute__((visibility("default"))) void closefrom(int lowfd) noexcept {
  unsigned first = lowfd < 0 ? 0u : static_cast<unsigned>(lowfd);
  if (uzswap::preload::close_range_around_ours(first, UINT_MAX, 0) == 0) return;
  // No close_range here (before Linux 5.9): close one by one, without cancellation, as
  // glibc's fallback does.
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > INT_MAX) max = INT_MAX;
  for (long fd = first; fd < max; ++fd)
    if (!fd_is_ours(static_cast<int>(fd))) syscall(SYS_close, static_cast<int>(fd));
}

__attribute__((visibility("default"))) int dup2(int oldfd, int newfd) noexcept {
  if (oldfd == newfd) return fcntl(oldfd, F_GETFD) == -1 ? -1 : newfd;  // what dup2 does
  if (fd_is_ours(newfd) && !called_from_self(__builtin_return_address(0))) {
    errno = EBADF;
    return -1;
  }
  return static_cast<int>(syscall(SYS_dup3, oldfd, newfd, 0));
}

__attribute__((visibility("default"))) int dup3(int oldfd, int newfd, int flags) noexcept {
  if (oldfd != newfd && fd_is_ours(newfd) && !called_from_self(__builtin_return_address(0))) {
    errno = EBADF;
    return -1;
  }
  return static_cast<int>(syscall(SYS_dup3, oldfd, newfd, flags));
}

}  // extern "C"
