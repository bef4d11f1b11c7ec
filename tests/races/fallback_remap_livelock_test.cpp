// tests/races/fallback_remap_livelock_test.cpp — the fallback evictor claiming a page that
// is not present. stage_cold picks candidates from a pagemap snapshot and claims them
// later; if the program meanwhile unmaps the range and maps a fresh one at the same
// address, the claimed page (Absent, never touched) is missing. The evictor's
// process_vm_readv then takes a missing fault on its own Evicting page, which the
// handlers defer forever (resolve_missing: "Fallback ... never wait for it"): the
// reclaim thread and every program thread touching that page spin in the kernel.
//
// A watchdog fails the test (and exits: the stuck threads cannot be joined) when the
// evictor or the remapper makes no progress for kStuckSeconds.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/uffd/test_util.h"
#include "uffd/core.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 256;
constexpr int kStuckSeconds = 5;
const int kStuckHold = getenv("REVIEW_HOLD") ? 30 : 0;

void run(bool force_copy) {
  EngineConfig cfg;  // no limit, no cold age: no reclaimer thread; we drive eviction
  cfg.force_copy_evict = force_copy;
  UZ_START_ENGINE(engine, cfg);
  auto* core = static_cast<uffd::EngineCore*>(engine);
  const size_t len = kPages * kPage;
  uint8_t* base = map_managed_filled(engine, len, 0x5a);
  ASSERT_NE(base, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> evict_rounds{0}, remaps{0};
  std::atomic<size_t> bad{0};
  std::thread evictor([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      core->stage_cold(kPages);
      core->release_staging();
      evict_rounds.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::thread remapper([&] {
    uint8_t fillv = 1;
    while (!stop.load(std::memory_order_relaxed)) {
      // What the preload does for munmap: forget (discard), then unmap.
      engine->unmanage(base, len, true);
      munmap(base, len);
      void* p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p != base) {
        bad.fetch_add(1);
        return;
      }
      engine->manage(base, len);
      // Give the evictor a moment with an untouched mapping, then fill half of it and
      // check the other half reads zeros.
      for (int i = 0; i < 20000; ++i) asm volatile("");
      ++fillv;
      for (size_t pg = 0; pg < kPages; pg += 2) memset(base + pg * kPage, fillv, kPage);
      for (size_t pg = 0; pg < kPages; ++pg) {
        uint8_t want = pg % 2 == 0 ? fillv : 0;
        uint8_t first = base[pg * kPage], last = base[pg * kPage + kPage - 1];
        if (first == want && last == want) continue;
        bad.fetch_add(1);
        fprintf(stderr, "remap %lu: page %zu want %u got first %u last %u; reread %u %u\n",
                (unsigned long)remaps.load(), pg, want, first, last, base[pg * kPage], base[pg * kPage + kPage - 1]);
      }
      remaps.fetch_add(1, std::memory_order_relaxed);
    }
  });
  const double seconds = stress_seconds();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t last_e = 0, last_r = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    uint64_t e = evict_rounds.load(), r = remaps.load();
    if (e != last_e && r != last_r) last_progress = std::chrono::steady_clock::now();
    last_e = e;
    last_r = r;
    if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(kStuckSeconds)) {
      fprintf(stderr, "stuck: no progress for %d s (evict rounds %lu, remaps %lu)\n", kStuckSeconds,
              (unsigned long)e, (unsigned long)r);
      ADD_FAILURE() << "evictor/remapper livelocked (fault on an Evicting page deferred forever)";
      fflush(stderr);
      sleep(kStuckHold);  // REVIEW_HOLD: time to look at the stuck threads
      _exit(1);
    }
  }
  stop = true;
  evictor.join();
  remapper.join();
  fprintf(stderr, "evict rounds %lu, remaps %lu, bad %zu\n", (unsigned long)evict_rounds.load(),
          (unsigned long)remaps.load(), bad.load());
  EXPECT_GT(remaps.load(), 0u);
  EXPECT_EQ(bad.load(), 0u);
  engine->unmanage(base, len, true);
  munmap(base, len);
}

TEST(EvictionRace, UnmapRemapRacingMoveEviction) { run(false); }
TEST(EvictionRace, UnmapRemapRacingFallbackEviction) { run(true); }

}  // namespace
}  // namespace uzswap::test
