// tests/races/fallback_zap_window_test.cpp — a layout change inside the copy fallback's
// zap window (uffd/evict.cpp, "Zap window"), made to happen every time.
//
// The evictor has claimed a page's zap (EvictingZap) but not yet issued its madvise when
// the program does what the preload does for munmap + mmap: unmanage (discard), munmap,
// map a fresh range at the same address, manage it and write to it. Had unmanage
// returned at once, the late madvise would zap the fresh page and the write would read
// back as zeros. The fault-injection hook (EngineConfig::before_fallback_zap) holds the
// evictor in the window until the program's write is done, or for kHoldMs when the
// program cannot get there (unmanage waits for the zap: the correct outcome).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/uffd/test_util.h"
#include "uffd/core.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 4;
constexpr int kHoldMs = 200;

std::atomic<bool> g_hook_armed{false};
std::atomic<bool> g_in_window{false};
std::atomic<bool> g_program_wrote{false};

void hold_in_window(uintptr_t) {
  if (!g_hook_armed.exchange(false)) return;  // only the first zap waits
  g_in_window = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHoldMs);
  while (!g_program_wrote.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(EvictionRace, RemapInsideTheFallbackZapWindowKeepsTheNewData) {
  EngineConfig cfg;  // no limit, no cold age: no reclaimer thread; we drive eviction
  cfg.force_copy_evict = true;
  cfg.before_fallback_zap = hold_in_window;
  UZ_START_ENGINE(engine, cfg);
  auto* core = static_cast<uffd::EngineCore*>(engine);
  const size_t len = kPages * kPage;
  uint8_t* base = map_managed_filled(engine, len, 0x5a);
  ASSERT_NE(base, nullptr);
  g_in_window = false;
  g_program_wrote = false;
  g_hook_armed = true;
  std::atomic<bool> evictor_done{false};
  std::thread evictor([&] {
    // The first passes clear the marks of freshly faulted pages (second chance).
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!g_in_window.load() && std::chrono::steady_clock::now() < give_up) {
      core->stage_cold(kPages);
      core->release_staging();
    }
    evictor_done = true;
  });
  while (!g_in_window.load() && !evictor_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!g_in_window.load()) evictor.join();
  ASSERT_TRUE(g_in_window.load()) << "no fallback zap was attempted";
  engine->unmanage(base, len, true);
  ASSERT_EQ(munmap(base, len), 0);
  void* p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ASSERT_EQ(p, base);
  ASSERT_TRUE(engine->manage(base, len));
  memset(base, 0xa7, len);
  g_program_wrote = true;
  evictor.join();
  size_t bad = 0;
  for (size_t pg = 0; pg < kPages; ++pg)
    for (size_t i = 0; i < kPage; i += 512) bad += base[pg * kPage + i] != 0xa7;
  EXPECT_EQ(bad, 0u) << "bytes of the new mapping lost to the old mapping's zap";
  engine->unmanage(base, len, true);
  munmap(base, len);
}

}  // namespace
}  // namespace uzswap::test
