// tests/preload/signal_chain_stress.cpp — the program's view of a fatal signal changed
// by several threads (through signal_chain_sigaction, as the interposed sigaction does)
// while other threads raise that signal: every signal reaches exactly one of the
// handlers the program installed, every old action returned is one the program set,
// and uninstalling leaves the program's last action in the kernel.
// UZSWAP_STRESS_SECONDS (default 10, at most 10 here) bounds the run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <vector>

#include "preload/signal_chain.h"

namespace uzswap::preload {
namespace {

std::atomic<long> g_calls_a{0};
std::atomic<long> g_calls_b{0};
void handler_a(int) { g_calls_a.fetch_add(1, std::memory_order_relaxed); }
void handler_b(int) { g_calls_b.fetch_add(1, std::memory_order_relaxed); }

double stress_seconds() {
  const char* s = getenv("UZSWAP_STRESS_SECONDS");
  double v = s != nullptr ? atof(s) : 10;
  return v < 0.5 ? 0.5 : (v > 10 ? 10 : v);
}

struct sigaction action_of(void (*handler)(int), int flags) {
  struct sigaction a{};
  a.sa_handler = handler;
  sigemptyset(&a.sa_mask);
  a.sa_flags = flags;
  return a;
}

TEST(SignalChainStress, ViewChangesWhileSignalsArrive) {
  ASSERT_TRUE(signal_chain_install());
  const struct sigaction a = action_of(handler_a, 0);
  const struct sigaction b = action_of(handler_b, SA_NODEFER | SA_RESTART);
  ASSERT_TRUE(signal_chain_sigaction(SIGFPE, &a, nullptr));

  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(stress_seconds());
  std::atomic<long> raised{0}, bad_old{0}, changes{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (long i = 0; std::chrono::steady_clock::now() < until; ++i) {
        struct sigaction old;
        signal_chain_sigaction(SIGFPE, ((i + w) & 1) ? &a : &b, &old);
        if (old.sa_handler != handler_a && old.sa_handler != handler_b) bad_old.fetch_add(1);
        changes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (std::chrono::steady_clock::now() < until) {
        raise(SIGFPE);  // aimed at this thread, not uzswap's: the program's handler runs
        raised.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(bad_old.load(), 0);
  EXPECT_GT(changes.load(), 0);
  EXPECT_GT(raised.load(), 0);
  EXPECT_EQ(g_calls_a.load() + g_calls_b.load(), raised.load());

  ASSERT_TRUE(signal_chain_sigaction(SIGFPE, &b, nullptr));
  signal_chain_uninstall();
  struct sigaction now;
  ASSERT_EQ(real_sigaction(SIGFPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, handler_b);
  EXPECT_EQ(now.sa_flags & (SA_NODEFER | SA_RESTART | SA_SIGINFO), SA_NODEFER | SA_RESTART);
  EXPECT_FALSE(signal_chain_sigaction(SIGFPE, &a, nullptr));  // off: the caller makes the real call
  signal(SIGFPE, SIG_DFL);
}

}  // namespace
}  // namespace uzswap::preload
