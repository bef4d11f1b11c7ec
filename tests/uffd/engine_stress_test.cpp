// tests/uffd/engine_stress_test.cpp — many threads writing while reclaim runs
// continuously; every page carries (index, sequence) and is checked on every visit and at
// the end; conservation of pool objects at the end. Both eviction paths, and both handler
// arrangements: the leader alone, and the leader calling helpers as faults overlap
// (uffd/fault_handler.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "pool/pool.h"
#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr size_t kThreads = 4;
constexpr size_t kPagesPerThread = 512;

void run_writers(bool force_copy, int handlers = 0) {
  EngineConfig cfg = aggressive_config();
  cfg.handler_threads = handlers;
  cfg.stage_seconds = 0.005;
  cfg.force_copy_evict = force_copy;
  cfg.reclaim_threads = 2;
  UZ_START_ENGINE(engine, cfg);
  const size_t pages = kThreads * kPagesPerThread;
  auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, pages * kPage));
  std::vector<uint64_t> seq(pages, 0);  // owned slice per thread: no sharing
  std::atomic<size_t> bad{0};
  std::atomic<uint64_t> visits{0};
  const double seconds = stress_seconds();
  auto worker = [&](size_t t) {
    std::mt19937_64 rng(t * 7919 + 1);
    const size_t base = t * kPagesPerThread;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    uint64_t n = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      size_t i = base + rng() % kPagesPerThread;
      uint8_t* p = mem + i * kPage;
      if (seq[i] == 0) {
        for (size_t k = 0; k < kPage; k += 512)
          if (p[k] != 0) bad.fetch_add(1);
      } else if (!check_page(p, i, seq[i])) {
        bad.fetch_add(1);
      }
      if (rng() % 2) {
        fill_page(p, i, ++seq[i]);
      } else {
        // A partial write into a page that may be mid-eviction: must never be lost.
        seq[i] += 1;
        uint8_t tmp[kPage];
        fill_page(tmp, i, seq[i]);
        memcpy(p + 2048, tmp + 2048, 2048);
        memcpy(p, tmp, 2048);
      }
      ++n;
      if (n % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    visits.fetch_add(n);
  };
  const uint64_t helper_calls = count(Counter::handler_helper_called);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0u) << "after " << visits.load() << " visits";
  if (handlers == 1) {
    EXPECT_EQ(count(Counter::handler_helper_called), helper_calls) << "no helper to call";
  } else if (handlers > 1) {
    EXPECT_GT(count(Counter::handler_helper_called), helper_calls) << "faults of 4 threads overlapped";
  }
  print_engine_counters();
  // Let reclaim evict more, then check every page once more.
  wait_until([&] { return evicted_pages(engine) >= pages / 2; }, 10);
  size_t final_bad = 0;
  for (size_t i = 0; i < pages; ++i)
    final_bad += seq[i] == 0 ? mem[i * kPage] != 0 : !check_page(mem + i * kPage, i, seq[i]);
  EXPECT_EQ(final_bad, 0u);
  // Reclaim and faults keep running: the two figures agree at some instant.
  EXPECT_TRUE(wait_until([&] { return engine->stats().stored_pages == engine->pool()->stats().objects; }, 10))
      << "every stored page owns one pool object";
  EXPECT_GT(count(force_copy ? Counter::evict_fallback : Counter::evict_staged), 0u);
  engine->stop();
  EXPECT_EQ(engine->pool()->stats().objects, 0u) << "stop() returned every stored page";
  final_bad = 0;
  for (size_t i = 0; i < pages; ++i)
    final_bad += seq[i] == 0 ? mem[i * kPage] != 0 : !check_page(mem + i * kPage, i, seq[i]);
  EXPECT_EQ(final_bad, 0u);
  munmap(mem, pages * kPage);
}

// stop() brings every evicted page back from a snapshot of the range table; a stats()
// call already measuring when stop() begins fills the same buffer. Several ranges, a
// thread asking for stats all along, and every page must be back after stop().
TEST(EngineStress, StatsWhileStopping) {
  constexpr size_t kRanges = 16, kRangePages = 32;
  for (int round = 0; round < 10; ++round) {
    UZ_START_ENGINE(engine, aggressive_config());
    std::vector<uint8_t*> mems;
    for (size_t r = 0; r < kRanges; ++r) {
      auto* m = static_cast<uint8_t*>(map_anon(kRangePages * kPage));
      ASSERT_NE(m, nullptr);
      ASSERT_TRUE(engine->manage(m, kRangePages * kPage));
      for (size_t i = 0; i < kRangePages; ++i) fill_page(m + i * kPage, r * kRangePages + i, 7);
      mems.push_back(m);
    }
    ASSERT_TRUE(wait_until([&] { return evicted_pages(engine) >= kRanges * kRangePages / 2; }, 10));
    std::atomic<bool> stop{false};
    std::thread reader([&] {
      while (!stop.load(std::memory_order_relaxed)) (void)engine->stats();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    engine->stop();
    stop = true;
    reader.join();
    size_t bad = 0;
    for (size_t r = 0; r < kRanges; ++r) {
      for (size_t i = 0; i < kRangePages; ++i) bad += check_page(mems[r] + i * kPage, r * kRangePages + i, 7) ? 0 : 1;
      munmap(mems[r], kRangePages * kPage);
    }
    ASSERT_EQ(bad, 0u) << "pages not brought back by stop() (round " << round << ")";
  }
}

// stop() while helpers are being called, serving, or on their way back to sleep: it must
// return (a helper asleep past the stop signal would hang the join) with every page back.
TEST(EngineStress, StopWhileHelpersComeAndGo) {
  constexpr size_t kThreadsHere = 4, kPagesEach = 64;
  for (int round = 0; round < 60; ++round) {
    EngineConfig cfg = aggressive_config();
    cfg.handler_threads = 4;
    UZ_START_ENGINE(engine, cfg);
    const size_t pages = kThreadsHere * kPagesEach;
    auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
    ASSERT_NE(mem, nullptr);
    ASSERT_TRUE(engine->manage(mem, pages * kPage));
    for (size_t i = 0; i < pages; ++i) fill_page(mem + i * kPage, i, 3);
    ASSERT_TRUE(wait_until([&] { return evicted_pages(engine) >= pages / 2; }, 10));
    std::atomic<bool> quit{false};
    std::atomic<size_t> bad{0};
    std::vector<std::thread> readers;
    for (size_t t = 0; t < kThreadsHere; ++t) {
      readers.emplace_back([&, t] {
        std::mt19937_64 rng(round * 31 + t);
        while (!quit.load(std::memory_order_relaxed)) {
          size_t i = t * kPagesEach + rng() % kPagesEach;
          if (!check_page(mem + i * kPage, i, 3)) bad.fetch_add(1);
        }
      });
    }
    // Let helpers be called and fall idle (5 ms) at different moments of the rounds.
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + (round % 4) * 3));
    quit = true;
    for (auto& th : readers) th.join();
    std::this_thread::sleep_for(std::chrono::microseconds((round % 5) * 1200));
    std::atomic<bool> stopped{false};
    std::thread watchdog([&] {
      if (!wait_until([&] { return stopped.load(); }, 30)) {
        fprintf(stderr, "stop() did not return within 30 s (round %d)\n", round);
        abort();
      }
    });
    engine->stop();
    stopped = true;
    watchdog.join();
    size_t after = 0;
    for (size_t i = 0; i < pages; ++i) after += check_page(mem + i * kPage, i, 3) ? 0 : 1;
    EXPECT_EQ(bad.load(), 0u) << "round " << round;
    ASSERT_EQ(after, 0u) << "pages not back after stop() (round " << round << ")";
    munmap(mem, pages * kPage);
  }
}

TEST(EngineStress, WritersWhileReclaimRuns) { run_writers(false); }

TEST(EngineStress, WritersWhileFallbackReclaimRuns) { run_writers(true); }

// The leader alone serves every thread's faults.
TEST(EngineStress, WritersWhileReclaimRunsOneHandler) { run_writers(false, 1); }

// Four writers fault at once: the leader calls helpers, which then wait on the
// userfaultfd too and go back to sleep when idle, many times over the run.
TEST(EngineStress, WritersWhileReclaimRunsWithHelpers) { run_writers(false, 4); }

}  // namespace
}  // namespace uzswap::test
