// preload/signal_interpose.cpp — sigaction and the signal() family, as the program sees
// them.
//
// For a fatal signal while the signal chain is on (signal_chain.h), each call reads and
// sets the program's view instead of the kernel's action, so that uzswap's handler stays
// installed and the program gets back the old action it would get without uzswap. Every
// other call goes straight to the next definition (the C library's).
// signal(), bsd_signal() and ssignal() are the C library's BSD signal: the signal itself
// masked while its handler runs, SA_RESTART (siginterrupt() is not seen: it changes the
// kernel's action directly, which the chain adopts at the next call). sysv_signal() is
// the one-shot, unmasked SysV form. sigset() is not interposed: the C library installs
// its action directly, which replaces uzswap's (the program's handler then also sees
// uzswap's faults) until the next sigaction or signal call puts the chain back.
// State: the next definitions, resolved on first use.
#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "preload/signal_chain.h"

namespace uzswap::preload {
namespace {

using SignalFn = sighandler_t (*)(int, sighandler_t);

std::atomic<SignalFn> g_next_signal{nullptr};
std::atomic<SignalFn> g_next_sysv_signal{nullptr};

SignalFn next(std::atomic<SignalFn>& slot, const char* name) {
  SignalFn f = slot.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<SignalFn>(dlsym(RTLD_NEXT, name));
    slot.store(f, std::memory_order_release);
  }
  return f;
}

// The chain's answer to a signal()-style call, or false if the call is not the chain's.
bool chained_signal(int sig, sighandler_t handler, int flags, bool mask_self, sighandler_t* old_handler) {
  if (handler == SIG_ERR) return false;  // the C library reports the error
  struct sigaction act{}, old{};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (mask_self) sigaddset(&act.sa_mask, sig);
  act.sa_flags = flags;
  if (!signal_chain_sigaction(sig, &act, &old)) return false;
  *old_handler = old.sa_handler;
  return true;
}

sighandler_t bsd_signal_call(int sig, sighandler_t handler) {
  sighandler_t old;
  if (chained_signal(sig, handler, SA_RESTART, /*mask_self=*/true, &old)) return old;
  SignalFn f = next(g_next_signal, "signal");
  if (f == nullptr) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  return f(sig, handler);
}

sighandler_t sysv_signal_call(int sig, sighandler_t handler) {
  sighandler_t old;
  if (chained_signal(sig, handler, static_cast<int>(SA_RESETHAND) | SA_NODEFER, /*mask_self=*/false, &old)) return old;
  SignalFn f = next(g_next_sysv_signal, "sysv_signal");
  if (f == nullptr) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  return f(sig, handler);
}

int sigaction_call(int sig, const struct sigaction* act, struct sigaction* old) {
  if (signal_chain_sigaction(sig, act, old)) return 0;
  return real_sigaction(sig, act, old);
}

}  // namespace
}  // namespace uzswap::preload

using uzswap::preload::bsd_signal_call;
using uzswap::preload::sigaction_call;
using uzswap::preload::sysv_signal_call;

extern "C" {

__attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  return sigaction_call(sig, act, old);
}
__attribute__((visibility("default"))) int __sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  return sigaction_call(sig, act, old);
}
__attribute__((visibility("default"))) sighandler_t signal(int sig, sighandler_t handler) noexcept {
  return bsd_signal_call(sig, handler);
}
__attribute__((visibility("default"))) sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept {
  return bsd_signal_call(sig, handler);
}
__attribute__((visibility("default"))) sighandler_t ssignal(int sig, sighandler_t handler) noexcept {
  return bsd_signal_call(sig, handler);
}
__attribute__((visibility("default"))) sighandler_t sysv_signal(int sig, sighandler_t handler) noexcept {
  return sysv_signal_call(sig, handler);
}
__attribute__((visibility("default"))) sighandler_t __sysv_signal(int sig, sighandler_t handler) noexcept {
  return sysv_signal_call(sig, handler);
}

}  // extern "C"
