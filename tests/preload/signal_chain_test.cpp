// tests/preload/signal_chain_test.cpp — the fatal-signal chain (preload/signal_chain.h)
// and the crash report in a test process, where a real fault can be made on a thread
// marked as uzswap's: the report names it and its frames, and the process dies of the
// fault. (tests/preload/signal_behaviour.sh covers the library in real programs.) Under
// ThreadSanitizer these also check that the report makes no signal-unsafe call.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <csignal>
#include <thread>

#include "common/own_thread.h"
#include "preload/signal_chain.h"

namespace uzswap::preload {
namespace {

// A write to an inaccessible page (not through a null pointer, which UBSan would catch first).
void fault() {
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
}

__attribute__((noinline)) void fault_in_own_thread_here() {
  own_thread_begin();
  fault();
}

__attribute__((noinline)) void abort_in_own_thread_here() {
  own_thread_begin();
  abort();
}

template <typename Fn>
void run_installed(Fn fn) {
  if (!signal_chain_install()) _exit(2);
  std::thread t(fn);
  t.join();
  _exit(0);
}

TEST(CrashReportDeathTest, FaultOfOwnThreadIsReportedThenKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_installed(fault_in_own_thread_here), testing::KilledBySignal(SIGSEGV),
              "fatal signal SIGSEGV \\(11, code 2, address 0x[0-9a-f]+\\) in uzswap's thread \"[^\"]*\" \\(tid [0-9]+\\)\n"
              "[^\n]*backtrace[^\n]*\n"
              "([^\n]*\n)*[^\n]*#[0-9] 0x[0-9a-f]+ [^\n]*fault_in_own_thread_here[^\n]*\\(signal_chain_test\\+0x[0-9a-f]+\\)\n");
}

TEST(CrashReportDeathTest, AbortOfOwnThreadIsReportedThenKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_installed(abort_in_own_thread_here), testing::KilledBySignal(SIGABRT),
              "fatal signal SIGABRT \\(6, sent by pid [0-9]+\\) in uzswap's thread[^\n]*\n"
              "([^\n]*\n)*[^\n]*abort_in_own_thread_here[^\n]*\n"
              "([^\n]*\n)*[^\n]*this is a bug in uzswap");
}

// A fault of a thread that is not uzswap's, with SIG_DFL: no report, the same death.
TEST(CrashReportDeathTest, FaultOfOtherThreadKillsWithoutReport) {
#if UZSWAP_ASAN || UZSWAP_TSAN
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling is the program's here: it reports and exits";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_installed(fault), testing::KilledBySignal(SIGSEGV), "^$");
}

}  // namespace
}  // namespace uzswap::preload
