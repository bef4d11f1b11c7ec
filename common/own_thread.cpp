// common/own_thread.cpp — see own_thread.h.
#include "common/own_thread.h"

#include <atomic>
#include <csignal>
#include <pthread.h>

namespace uzswap {
namespace {

thread_local bool t_own = false;
std::atomic<bool> g_take_fatal{false};

}  // namespace

static_assert(kFatalSignals[0] == SIGSEGV && kFatalSignals[1] == SIGBUS && kFatalSignals[2] == SIGILL &&
              kFatalSignals[3] == SIGFPE && kFatalSignals[4] == SIGABRT);

void own_thread_begin() {
  t_own = true;
  if (!g_take_fatal.load(std::memory_order_relaxed)) return;
  sigset_t fatal;
  sigemptyset(&fatal);
  for (int sig : kFatalSignals) sigaddset(&fatal, sig);
  pthread_sigmask(SIG_UNBLOCK, &fatal, nullptr);
}

bool is_own_thread() { return t_own; }

void own_threads_take_fatal_signals(bool take) { g_take_fatal.store(take, std::memory_order_relaxed); }

}  // namespace uzswap
