// preload/atfork_first.cpp — uzswap's first fork child handler runs before everyone's.
//
// glibc runs atfork child handlers in the order they were registered, and a malloc
// (jemalloc in Debian's redis-server) registers its handlers in its own initialisation,
// which runs before our constructor (another library's constructor allocates first). In a
// fork child those handlers run before anything of ours, on memory that may have been
// evicted at the fork, and the child's copy of a managed range has lost its userfaultfd
// registration: an evicted page touched there reads as zeros, and a write lands on a
// fresh zero page (jemalloc's child handler resets fields of its arenas that its prepare
// handler never touched). So the child's transitional phase (fork.cpp, fork_child_first;
// uffd/engine_fork.cpp) must come first of all.
//
// Every registration goes through __register_atfork: pthread_atfork is a static stub
// (libc_nonshared.a) in each object that calls it, and the stub calls __register_atfork
// through the PLT, where this library comes first. On the first registration by anyone
// (ours from the constructor included) we register our child handler, then theirs.
//
// State (process-wide): g_first: 0 not registered, 1 being registered, 2 registered
// (or given up). A concurrent first registration waits for 2, so no handler can come
// before ours.
#include <dlfcn.h>
#include <sched.h>

#include <atomic>
#include <cerrno>

#include "preload/fork_guard.h"

extern "C" void* __dso_handle;

namespace uzswap::preload {
namespace {

using RegisterFn = int (*)(void (*)(), void (*)(), void (*)(), void*);

std::atomic<int> g_first{0};
std::atomic<bool> g_child_first_registered{false};

RegisterFn real_register() {
  static std::atomic<RegisterFn> fn{nullptr};
  RegisterFn f = fn.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<RegisterFn>(dlsym(RTLD_NEXT, "__register_atfork"));
    fn.store(f, std::memory_order_release);
  }
  return f;
}

void register_ours_first(RegisterFn real) {
  int expected = 0;
  if (g_first.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    if (real(nullptr, nullptr, fork_child_first, &__dso_handle) == 0)
      g_child_first_registered.store(true, std::memory_order_release);
    g_first.store(2, std::memory_order_release);
    return;
  }
  while (g_first.load(std::memory_order_acquire) != 2) sched_yield();
}

}  // namespace

bool fork_child_first_registered() { return g_child_first_registered.load(std::memory_order_acquire); }

}  // namespace uzswap::preload

using uzswap::preload::real_register;
using uzswap::preload::register_ours_first;

extern "C" __attribute__((visibility("default"))) int __register_atfork(void (*prepare)(), void (*parent)(),
                                                                       void (*child)(), void* dso) {
  auto real = real_register();
  if (real == nullptr) return ENOMEM;
  register_ours_first(real);
  return real(prepare, parent, child, dso);
}
