// tests/uffd/throttle_test.cpp — first touches parked by the throttle (policy/throttle.h,
// uffd/throttle.cpp) with a real userfaultfd: many threads first-touching memory under a
// small limit while reclaim runs (every page checked), a limit reclaim cannot reach
// (the program must still progress), and the paths that must wake a parked fault
// without the throttle releasing it: stop(), unmanage(), munmap. Also refaults under
// pressure, which are not parked but make their handler compress (direct reclaim).
//
// A lost wake-up hangs a thread forever; each test runs its threads under a watchdog
// that fails the test (and the ctest TIMEOUT property bounds the binary).
#include <errno.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Fails the test and prints the engine's counters if `done` is not set in time: a thread
// stuck in a fault that nothing will ever wake.
class Watchdog {
 public:
  explicit Watchdog(double seconds) : thread_([this, seconds] { run(seconds); }) {}
  ~Watchdog() {
    done_.store(true);
    thread_.join();
  }

 private:
  void run(double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done_.load()) {
      if (std::chrono::steady_clock::now() > end) {
        fprintf(stderr, "watchdog: threads still blocked after %.0f s (lost wake-up?)\n", seconds);
        print_engine_counters();
        _exit(3);  // a hung thread cannot be joined: end the test binary, failing it
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Incompressible, deterministic page content (the pool rejects it: reclaim cannot shrink
// the footprint by compressing it).
void fill_random(uint8_t* p, uint64_t index) {
  uint64_t x = index * 0x9E3779B97F4A7C15ull + 88172645463325252ull;
  auto* w = reinterpret_cast<uint64_t*>(p);
  for (size_t i = 0; i < kPage / 8; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w[i] = x;
  }
}

bool check_random(const uint8_t* p, uint64_t index) {
  uint8_t want[kPage];
  fill_random(want, index);
  return memcmp(p, want, kPage) == 0;
}

uint64_t parked_now() {
  return count(Counter::fault_throttled) - count(Counter::throttle_release_relieved) -
         count(Counter::throttle_release_timeout) - count(Counter::throttle_release_stop);
}

TEST(Throttle, ManyThreadsFirstTouchUnderASmallLimit) {
  constexpr size_t kThreads = 8;
  constexpr size_t kPagesPerThread = 2048;  // 8 MiB each, 64 MiB in all
  EngineConfig cfg;
  cfg.limit_bytes = 16 * kMiB;  // throttle margin 4 MiB
  cfg.reclaim_threads = 1;
  UZ_START_ENGINE(engine, cfg);
  const size_t pages = kThreads * kPagesPerThread;
  auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, pages * kPage));
  const uint64_t throttled0 = count(Counter::fault_throttled);
  std::atomic<size_t> bad{0};
  {
    Watchdog dog(240);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const size_t base = t * kPagesPerThread;
        // Pass 1: first touches (throttled past the margin). Pass 2: every page read
        // back (refaults: never throttled) and rewritten. Pass 3: read back again.
        for (size_t i = base; i < base + kPagesPerThread; ++i) fill_page(mem + i * kPage, i, 1);
        for (size_t i = base; i < base + kPagesPerThread; ++i) {
          if (!check_page(mem + i * kPage, i, 1)) bad.fetch_add(1);
          fill_page(mem + i * kPage, i, 2);
        }
        for (size_t i = base; i < base + kPagesPerThread; ++i)
          if (!check_page(mem + i * kPage, i, 2)) bad.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(bad.load(), 0u);
  print_engine_counters();
  EXPECT_GT(count(Counter::fault_throttled) - throttled0, 0u)
      << "64 MiB written under a 16 MiB limit: some first touches must have waited";
  size_t final_bad = 0;
  for (size_t i = 0; i < pages; ++i) final_bad += !check_page(mem + i * kPage, i, 2);
  EXPECT_EQ(final_bad, 0u);
  engine->stop();
  EXPECT_EQ(parked_now(), 0u) << "every parked fault was released exactly once";
  munmap(mem, pages * kPage);
}

TEST(Throttle, LimitReclaimCannotReachStillProgresses) {
  // Incompressible data: every staged page is rejected and put back, the footprint never
  // drops, yet the limit is not "unreachable" (the pool is empty). Parked faults must be
  // released by their deadline, so the program advances.
  constexpr size_t kThreads = 4;
  constexpr size_t kPagesPerThread = 2048;
  EngineConfig cfg;
  cfg.limit_bytes = 8 * kMiB;
  UZ_START_ENGINE(engine, cfg);
  const size_t pages = kThreads * kPagesPerThread;
  auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, pages * kPage));
  const uint64_t timeout0 = count(Counter::throttle_release_timeout);
  std::atomic<size_t> bad{0};
  {
    Watchdog dog(240);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const size_t base = t * kPagesPerThread;
        for (size_t i = base; i < base + kPagesPerThread; ++i) fill_random(mem + i * kPage, i);
        for (size_t i = base; i < base + kPagesPerThread; ++i)
          if (!check_random(mem + i * kPage, i)) bad.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(count(Counter::throttle_release_timeout) - timeout0, 0u)
      << "faults were held and released by their deadline";
  EXPECT_FALSE(engine->stats().over_limit_unreachable);
  engine->stop();
  EXPECT_EQ(parked_now(), 0u);
  munmap(mem, pages * kPage);
}

TEST(Throttle, RefaultsUnderPressureCompressStagedPages) {
  // Refaults are never parked; past limit + margin the handler that served one compresses
  // staged pages (direct reclaim, policy/throttle.h "Refaults"). Here reclaim alone cannot
  // compress under pressure (pressure_stage_seconds 30): once the data sits compressed,
  // reading it all back pushes the footprint past the margin, and only the handlers'
  // compression can slow its growth. Without it, the whole 64 MiB would come back resident.
  constexpr size_t kPages = 16384;  // 64 MiB
  EngineConfig cfg;
  cfg.limit_bytes = 16 * kMiB;  // throttle margin 4 MiB
  cfg.stage_seconds = 0.05;
  cfg.pressure_stage_seconds = 30;
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  const uint64_t assist0 = count(Counter::reclaim_assist_pages);
  Watchdog dog(240);
  // Written 1 MiB at a time, each time waiting for reclaim to bring the footprint back
  // under the limit: never past the margin, so reclaim compresses at its ordinary pace.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (size_t i = 0; i < kPages; ++i) {
    fill_page(mem + i * kPage, i, 1);
    if (i % 256 != 255) continue;
    while (engine->stats().footprint_bytes > cfg.limit_bytes && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(engine->stats().stored_pages, kPages * 3 / 4) << "reclaim did not compress the data";
  size_t bad = 0;
  for (size_t i = 0; i < kPages; ++i) bad += !check_page(mem + i * kPage, i, 1);
  const EngineStats after = engine->stats();
  print_engine_counters();
  fprintf(stderr, "footprint after the read-back: %.1f MiB (limit 16, margin 4, data 64)\n",
          after.footprint_bytes / double(kMiB));
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(count(Counter::reclaim_assist_pages) - assist0, 0u) << "no handler compressed under pressure";
  // Each refault here is paid for by one compressed page (about 3/4 of a page freed), so
  // the footprint drifts up slowly (31 MiB measured); without the assist it is over 64.
  EXPECT_LT(after.footprint_bytes, 48 * kMiB) << "the read-back brought the data back resident";
  for (size_t i = 0; i < kPages; ++i) bad += !check_page(mem + i * kPage, i, 1);
  EXPECT_EQ(bad, 0u);
  engine->stop();
  munmap(mem, kPages * kPage);
}

TEST(Throttle, UnreachableLimitIsNeverThrottled) {
  // A limit below the engine's own metadata: flagged unreachable, first touches go through.
  EngineConfig cfg;
  cfg.limit_bytes = 64 * 1024;
  cfg.throttle_max_delay_ns = 10'000'000'000ull;  // a parked fault would take 10 s
  UZ_START_ENGINE(engine, cfg);
  ASSERT_TRUE(wait_until([&] { return engine->stats().over_limit_unreachable; }, 10));
  constexpr size_t pages = 8192;
  auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, pages * kPage));
  const uint64_t throttled0 = count(Counter::fault_throttled);
  {
    Watchdog dog(60);
    for (size_t i = 0; i < pages; ++i) fill_page(mem + i * kPage, i, 1);
  }
  EXPECT_EQ(count(Counter::fault_throttled) - throttled0, 0u);
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) bad += !check_page(mem + i * kPage, i, 1);
  EXPECT_EQ(bad, 0u);
  munmap(mem, pages * kPage);
}

// An engine whose parked faults wait 20 s: only the path under test can wake them in time.
// `hot` (incompressible, present before manage(): no fault, no throttle) keeps the
// footprint far past the limit; `fresh` is never-touched memory the threads will fault on.
struct HeldFaults {
  static constexpr size_t kHotPages = 8192;   // 32 MiB against an 8 MiB limit
  static constexpr size_t kFreshPages = 1024;
  uint8_t* hot = nullptr;
  uint8_t* fresh = nullptr;

  static EngineConfig config() {
    EngineConfig cfg;
    cfg.limit_bytes = 8 * kMiB;
    cfg.throttle_max_delay_ns = 20'000'000'000ull;
    return cfg;
  }
  bool setup(Engine* engine) {
    hot = static_cast<uint8_t*>(map_anon(kHotPages * kPage));
    fresh = static_cast<uint8_t*>(map_anon(kFreshPages * kPage));
    if (hot == nullptr || fresh == nullptr) return false;
    for (size_t i = 0; i < kHotPages; ++i) fill_random(hot + i * kPage, i);
    if (!engine->manage(hot, kHotPages * kPage) || !engine->manage(fresh, kFreshPages * kPage)) return false;
    // The reclaimer's first measurements put the estimate past limit + margin.
    return wait_until([&] { return engine->stats().footprint_bytes > 20 * kMiB; }, 10);
  }
  ~HeldFaults() {
    if (hot) munmap(hot, kHotPages * kPage);
    if (fresh) munmap(fresh, kFreshPages * kPage);
  }
};

TEST(Throttle, StopWakesParkedFaults) {
  UZ_START_ENGINE(engine, HeldFaults::config());
  HeldFaults h;
  ASSERT_TRUE(h.setup(engine));
  const uint64_t stop0 = count(Counter::throttle_release_stop);
  constexpr size_t kThreads = 4;
  std::atomic<size_t> finished{0};
  auto t0 = std::chrono::steady_clock::now();
  {
    Watchdog dog(15);  // well under the 20 s delay
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        size_t i = t * (HeldFaults::kFreshPages / kThreads);
        fill_page(h.fresh + i * kPage, i, 5);
        finished.fetch_add(1);
      });
    }
    ASSERT_TRUE(wait_until([&] { return parked_now() >= 1; }, 10)) << "no fault was parked";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    engine->stop();
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(finished.load(), kThreads);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
  EXPECT_GT(count(Counter::throttle_release_stop) - stop0, 0u) << "stop() woke what was left";
  EXPECT_EQ(parked_now(), 0u);
  for (size_t t = 0; t < kThreads; ++t) {
    size_t i = t * (HeldFaults::kFreshPages / kThreads);
    EXPECT_TRUE(check_page(h.fresh + i * kPage, i, 5));
  }
  size_t bad = 0;
  for (size_t i = 0; i < HeldFaults::kHotPages; ++i) bad += !check_random(h.hot + i * kPage, i);
  EXPECT_EQ(bad, 0u);
}

TEST(Throttle, UnmanageWakesParkedFaults) {
  UZ_START_ENGINE(engine, HeldFaults::config());
  HeldFaults h;
  ASSERT_TRUE(h.setup(engine));
  std::atomic<bool> finished{false};
  {
    Watchdog dog(15);
    std::thread th([&] {
      fill_page(h.fresh, 0, 9);
      finished.store(true);
    });
    ASSERT_TRUE(wait_until([&] { return parked_now() >= 1; }, 10)) << "no fault was parked";
    engine->unmanage(h.fresh, HeldFaults::kFreshPages * kPage, false);
    th.join();
  }
  EXPECT_TRUE(finished.load());
  EXPECT_TRUE(check_page(h.fresh, 0, 9));
  engine->stop();  // the fault is still listed (20 s): stop() wakes it (harmlessly)
  EXPECT_EQ(parked_now(), 0u);
}

TEST(Throttle, MunmapOfAParkedSyscallBufferWakesIt) {
  // A read(2) into a never-touched managed page faults inside the kernel and is parked;
  // the range is then unmapped. The kernel does not wake the thread for that: the engine
  // must, and read(2) then fails with EFAULT instead of hanging.
  EngineConfig cfg = HeldFaults::config();
  cfg.throttle_max_delay_ns = 2'000'000'000ull;
  UZ_START_ENGINE(engine, cfg);
  HeldFaults h;
  ASSERT_TRUE(h.setup(engine));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  char data[64] = "parked";
  ASSERT_EQ(write(fds[1], data, sizeof(data)), static_cast<ssize_t>(sizeof(data)));
  std::atomic<ssize_t> rc{-2};
  std::atomic<int> err{0};
  uint8_t* buf = h.fresh;
  {
    Watchdog dog(20);
    std::thread th([&] {
      ssize_t n = read(fds[0], buf, sizeof(data));
      err.store(errno);
      rc.store(n);
    });
    ASSERT_TRUE(wait_until([&] { return parked_now() >= 1; }, 10)) << "no fault was parked";
    munmap(h.fresh, HeldFaults::kFreshPages * kPage);
    h.fresh = nullptr;
    th.join();
  }
  EXPECT_EQ(rc.load(), -1);
  EXPECT_EQ(err.load(), EFAULT);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace uzswap::test
