// tests/races/fallback_wp_zap_race_test.cpp — writers racing the fallback eviction
// (write-protect + copy + zap) page by page, with eviction driven directly (stage_cold)
// so that every page goes through Evicting -> EvictingZap -> Staged as often as possible.
//
// Each writer owns a set of pages; before each write it checks the page still holds what
// it last wrote. A write that lands after a cancelled eviction but before the kernel's
// zap (resolve_wp cancelling on EvictingZap once our own REMOVE event was read) is lost:
// the page reads back as zeros. Two noise threads widen the windows: unrelated mmap/munmap
// (mmap lock contention delays the evictor's zap after its REMOVE event is read) and
// MADV_DONTNEED on another managed region (pending events make resolution ioctls EAGAIN).
// The MOVE-mode variant is the control: UFFDIO_MOVE has no such window.
// A write that lands between an evictor's copy and its zap is lost with the old bytes
// coming back: a handler that cancelled an eviction and removed the protection only after
// a new claim had protected (no-op) and copied the page again (hence unprotect_as_owner).
// The two-evictor variant adds evictors racing each other's cancel-and-unprotect paths.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/uffd/test_util.h"
#include "uffd/core.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 64;
constexpr size_t kWriters = 2;

void run(bool force_copy, int evictors = 1) {
  EngineConfig cfg;  // no limit, no cold age: no reclaimer thread; we drive eviction
  cfg.force_copy_evict = force_copy;
  cfg.handler_threads = 2;
  UZ_START_ENGINE(engine, cfg);
  auto* core = static_cast<uffd::EngineCore*>(engine);
  auto* mem = static_cast<uint64_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  const size_t words = kPage / 8;
  for (size_t p = 0; p < kPages; ++p)
    for (size_t w = 0; w < words; ++w) mem[p * words + w] = (p << 32) | 1;
  std::atomic<bool> stop{false};
  std::atomic<size_t> bad{0}, writes{0};
  auto writer = [&](size_t t) {
    std::vector<uint64_t> val(kPages, 1);
    size_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (size_t p = t; p < kPages; p += kWriters) {
        volatile uint64_t* pg = mem + p * words;
        uint64_t want = (p << 32) | val[p];
        uint64_t got0 = pg[0], gotl = pg[words - 1];
        if (got0 != want || gotl != want) {
          if (bad.fetch_add(1) < 5)
            fprintf(stderr, "page %zu: want %#lx got first %#lx last %#lx\n", p,
                    (unsigned long)want, (unsigned long)got0, (unsigned long)gotl);
          // Resynchronise with what is there so one loss is counted once.
          val[p] = gotl & 0xffffffffu;
          want = (p << 32) | val[p];
        }
        ++val[p];
        uint64_t next = (p << 32) | val[p];
        pg[0] = next;
        pg[words - 1] = next;
        ++n;
      }
      if ((n & 63) == 0) std::this_thread::yield();
    }
    writes.fetch_add(n);
  };
  // Unrelated mmap/munmap churn: contends the mmap lock, so the evictor, woken once its
  // REMOVE event is read, takes longer to get back to zapping.
  auto noise = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      void* p = mmap(nullptr, 16 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) munmap(p, 16 * kPage);
    }
  };
  // MADV_DONTNEED on a separate managed region: its REMOVE events keep the kernel's
  // mmap_changing raised now and then, so resolution ioctls elsewhere get EAGAIN.
  const size_t other_len = 16 * kPage;
  auto* other = static_cast<uint8_t*>(map_anon(other_len));
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(engine->manage(other, other_len));
  auto dropper = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      other[0] = 1;
      madvise(other, other_len, MADV_DONTNEED);
    }
  };
  std::vector<std::thread> ws;
  for (size_t t = 0; t < kWriters; ++t) ws.emplace_back(writer, t);
  ws.emplace_back(noise);
  ws.emplace_back(dropper);
  std::atomic<size_t> staged{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(stress_seconds());
  auto evictor = [&] {
    while (std::chrono::steady_clock::now() < deadline) {
      staged.fetch_add(core->stage_cold(kPages));
      core->release_staging();
    }
  };
  std::vector<std::thread> evs;
  for (int i = 1; i < evictors; ++i) evs.emplace_back(evictor);
  evictor();
  for (auto& t : evs) t.join();
  stop = true;
  for (auto& w : ws) w.join();
  fprintf(stderr, "staged %zu pages, %zu writes, %zu lost\n", staged.load(), writes.load(), bad.load());
  EXPECT_GT(staged.load(), 0u);
  EXPECT_EQ(bad.load(), 0u) << "writes lost (pages read back other than last written)";
  engine->unmanage(mem, kPages * kPage, true);
  munmap(mem, kPages * kPage);
}

TEST(EvictionRace, WritesRacingMoveEviction) { run(false); }
TEST(EvictionRace, WritesRacingFallbackEviction) { run(true); }
TEST(EvictionRace, WritesRacingTwoFallbackEvictors) { run(true, 2); }

}  // namespace
}  // namespace uzswap::test
