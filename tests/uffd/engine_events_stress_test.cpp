// tests/uffd/engine_events_stress_test.cpp — MADV_DONTNEED, MADV_FREE and mremap racing
// eviction, compression and faults. Each thread owns a region it writes (pages carry
// index and sequence), drops parts of (expecting zeros afterwards), frees parts of the way
// allocators do (MADV_FREE: the kernel sends the same REMOVE event but keeps present pages
// until memory runs short, so their bytes are undefined until written again; what is
// written afterwards must stay) and moves around with mremap, while reclaim evicts
// continuously. Ends with a byte check and a conservation check.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "pool/pool.h"
#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr size_t kThreads = 3;
constexpr size_t kRegionPages = 256;

constexpr uint64_t kUndefined = ~0ull;  // MADV_FREE'd, not written since

struct Region {
  uint8_t* mem = nullptr;
  std::vector<uint64_t> seq = std::vector<uint64_t>(kRegionPages, 0);  // 0 = zeros expected
};

bool page_ok(const Region& r, size_t i) {
  const uint8_t* p = r.mem + i * kPage;
  if (r.seq[i] == kUndefined) return true;
  if (r.seq[i] == 0) {
    for (size_t k = 0; k < kPage; k += 128)
      if (p[k] != 0) return false;
    return true;
  }
  return check_page(p, i, r.seq[i]);
}

void run(bool force_copy) {
  EngineConfig cfg = aggressive_config();
  cfg.stage_seconds = 0.002;
  cfg.force_copy_evict = force_copy;
  UZ_START_ENGINE(engine, cfg);
  std::vector<Region> regions(kThreads);
  for (auto& r : regions) {
    r.mem = static_cast<uint8_t*>(map_anon(kRegionPages * kPage));
    ASSERT_NE(r.mem, nullptr);
    ASSERT_TRUE(engine->manage(r.mem, kRegionPages * kPage));
  }
  std::atomic<size_t> bad{0};
  std::atomic<uint64_t> drops{0}, moves{0};
  const double seconds = stress_seconds();
  auto worker = [&](size_t t) {
    Region& r = regions[t];
    std::mt19937_64 rng(t + 101);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      unsigned op = rng() % 100;
      if (op < 80) {
        size_t i = rng() % kRegionPages;
        if (!page_ok(r, i)) bad.fetch_add(1);
        if (r.seq[i] == kUndefined) r.seq[i] = 0;
        fill_page(r.mem + i * kPage, i, ++r.seq[i] + 1);
        r.seq[i] += 1;
      } else if (op < 95) {
        size_t a = rng() % kRegionPages, n = 1 + rng() % 16;
        if (a + n > kRegionPages) n = kRegionPages - a;
        const bool lazy = rng() % 2 == 0;
        if (madvise(r.mem + a * kPage, n * kPage, lazy ? MADV_FREE : MADV_DONTNEED) != 0) bad.fetch_add(1000000);
        for (size_t i = a; i < a + n; ++i) r.seq[i] = lazy ? kUndefined : 0;
        drops.fetch_add(1);
      } else {
        void* m = mremap(r.mem, kRegionPages * kPage, kRegionPages * kPage, MREMAP_MAYMOVE | MREMAP_FIXED,
                         static_cast<uint8_t*>(mmap(nullptr, kRegionPages * kPage, PROT_NONE,
                                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
        if (m == MAP_FAILED) {
          bad.fetch_add(1000000);
        } else {
          r.mem = static_cast<uint8_t*>(m);
          moves.fetch_add(1);
        }
      }
      if (rng() % 32 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0u) << drops.load() << " drops, " << moves.load() << " moves";
  EXPECT_GT(drops.load(), 0u);
  EXPECT_GT(moves.load(), 0u);
  print_engine_counters();
  wait_until([&] { return evicted_pages(engine) >= kThreads * kRegionPages / 2; }, 10);
  size_t final_bad = 0;
  for (auto& r : regions)
    for (size_t i = 0; i < kRegionPages; ++i) final_bad += !page_ok(r, i);
  EXPECT_EQ(final_bad, 0u);
  // Conservation: the managed bytes are exactly the live regions; every stored page owns
  // exactly one pool object; unmapping everything frees them all.
  EXPECT_EQ(engine->stats().managed_bytes, kThreads * kRegionPages * kPage);
  // Reclaim and faults keep running: the two figures agree at some instant.
  EXPECT_TRUE(wait_until([&] { return engine->stats().stored_pages == engine->pool()->stats().objects; }, 10))
      << "every stored page owns one pool object";
  for (auto& r : regions) munmap(r.mem, kRegionPages * kPage);
  EXPECT_TRUE(wait_until([&] { return engine->pool()->stats().objects == 0; }, 5));
  EXPECT_EQ(engine->stats().managed_bytes, 0u);
  EXPECT_TRUE(wait_until([&] { return engine->stats().staged_pages == 0; }, 5));
}

TEST(EngineEventsStress, DontneedAndMremapRacingReclaim) { run(false); }

TEST(EngineEventsStress, DontneedAndMremapRacingFallbackReclaim) { run(true); }

}  // namespace
}  // namespace uzswap::test
