// preload/real_calls.cpp — see real_calls.h.
// State: three function pointers, written once by resolve_real_calls() (release) and read
// by every interposed call (acquire); nullptr means "use the raw system call".
#include "preload/real_calls.h"

#include <atomic>
#include <cerrno>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uzswap::preload {
namespace {

using MmapFn = void* (*)(void*, size_t, int, int, int, off_t);
using MunmapFn = int (*)(void*, size_t);
using MremapFn = void* (*)(void*, size_t, size_t, int, ...);

std::atomic<MmapFn> g_mmap{nullptr};
std::atomic<MunmapFn> g_munmap{nullptr};
std::atomic<MremapFn> g_mremap{nullptr};

// The kernel returns -errno in the result register; the C library convention is -1/errno
// (MAP_FAILED for mmap/mremap).
long raw_result(long r) {
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

}  // namespace

void resolve_real_calls() {
  g_mmap.store(reinterpret_cast<MmapFn>(dlsym(RTLD_NEXT, "mmap")), std::memory_order_release);
  g_munmap.store(reinterpret_cast<MunmapFn>(dlsym(RTLD_NEXT, "munmap")), std::memory_order_release);
  g_mremap.store(reinterpret_cast<MremapFn>(dlsym(RTLD_NEXT, "mremap")), std::memory_order_release);
}

void* real_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (MmapFn f = g_mmap.load(std::memory_order_acquire)) return f(addr, len, prot, flags, fd, offset);
  long r = raw_result(syscall(SYS_mmap, addr, len, prot, flags, fd, offset));
  return r == -1 ? MAP_FAILED : reinterpret_cast<void*>(r);
}

int real_munmap(void* addr, size_t len) {
  if (MunmapFn f = g_munmap.load(std::memory_order_acquire)) return f(addr, len);
  return static_cast<int>(raw_result(syscall(SYS_munmap, addr, len)));
}

void* real_mremap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr) {
  if (MremapFn f = g_mremap.load(std::memory_order_acquire)) return f(old_addr, old_len, new_len, flags, new_addr);
  long r = raw_result(syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr));
  return r == -1 ? MAP_FAILED : reinterpret_cast<void*>(r);
}

}  // namespace uzswap::preload
