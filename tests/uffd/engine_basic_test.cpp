// tests/uffd/engine_basic_test.cpp — single-threaded behaviour of the fault engine:
// first touch, eviction to the pool and back, staging hits, same-filled pages, rejects,
// the forced fallback eviction path, stop() bringing everything back.
#include <gtest/gtest.h>

#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 1024;  // 4 MiB

void write_all(uint8_t* mem, size_t pages, uint64_t seq) {
  for (size_t i = 0; i < pages; ++i) fill_page(mem + i * kPage, i, seq);
}

size_t count_bad(const uint8_t* mem, size_t pages, uint64_t seq) {
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) bad += !check_page(mem + i * kPage, i, seq);
  return bad;
}

TEST(EngineBasic, FirstTouchReadsZeros) {
  EngineConfig cfg;
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  EXPECT_TRUE(engine->is_managed(mem + 5 * kPage));
  uint64_t runs0 = count(Counter::fault_zero_run);
  for (size_t i = 0; i < kPages; ++i) ASSERT_EQ(mem[i * kPage + 100], 0);
  // Bulk zero-fill: far fewer uffd faults than pages.
  EXPECT_LE(count(Counter::fault_zero_run) - runs0, kPages / 64);
  write_all(mem, kPages, 1);
  EXPECT_EQ(count_bad(mem, kPages, 1), 0u);
  engine->unmanage(mem, kPages * kPage, false);
  EXPECT_FALSE(engine->is_managed(mem));
  munmap(mem, kPages * kPage);
}

void evict_and_refault(bool force_copy) {
  EngineConfig cfg = aggressive_config();
  cfg.force_copy_evict = force_copy;
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  write_all(mem, kPages, 7);
  uint64_t pool0 = count(Counter::fault_pool);
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= kPages * 9 / 10; }, 20))
      << "stored " << engine->stats().stored_pages;
  EngineStats s = engine->stats();
  EXPECT_GT(s.compressed_bytes, 0u);
  EXPECT_LT(s.compressed_bytes, s.stored_pages * kPage);
  EXPECT_EQ(count_bad(mem, kPages, 7), 0u);
  EXPECT_GE(count(Counter::fault_pool) - pool0, kPages / 2);
  if (force_copy) {
    EXPECT_GT(count(Counter::evict_fallback), 0u);
  }
}

TEST(EngineBasic, EvictToPoolAndRefault) { evict_and_refault(false); }

TEST(EngineBasic, ForcedFallbackEvictAndRefault) { evict_and_refault(true); }

TEST(EngineBasic, StagedRefaultIsAMoveBack) {
  EngineConfig cfg = aggressive_config();
  cfg.stage_seconds = 3600;  // never old enough to compress
  cfg.pressure_stage_seconds = 3600;  // not even far over the limit
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  write_all(mem, kPages, 3);
  ASSERT_TRUE(wait_until([&] { return engine->stats().staged_pages >= kPages * 9 / 10; }, 20));
  uint64_t staged0 = count(Counter::fault_staged);
  EXPECT_EQ(count_bad(mem, kPages, 3), 0u);
  EXPECT_GE(count(Counter::fault_staged) - staged0, kPages / 2);
}

TEST(EngineBasic, SameFilledPagesNeedNoPoolObject) {
  EngineConfig cfg = aggressive_config();
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  for (size_t i = 0; i < kPages; ++i) {
    auto* w = reinterpret_cast<uint32_t*>(mem + i * kPage);
    uint32_t pattern = i % 2 ? static_cast<uint32_t>(i * 2654435761u) : 0;
    for (size_t k = 0; k < kPage / 4; ++k) w[k] = pattern;
    if (i % 2 == 0) w[0] = 0;  // zero pages written explicitly (present, not the zero page)
  }
  ASSERT_TRUE(wait_until([&] { return engine->stats().same_filled_pages >= kPages * 9 / 10; }, 20));
  EXPECT_EQ(engine->stats().stored_pages, 0u);
  for (size_t i = 0; i < kPages; ++i) {
    auto* w = reinterpret_cast<uint32_t*>(mem + i * kPage);
    uint32_t pattern = i % 2 ? static_cast<uint32_t>(i * 2654435761u) : 0;
    for (size_t k = 0; k < kPage / 4; ++k) ASSERT_EQ(w[k], pattern) << i << " " << k;
  }
}

TEST(EngineBasic, IncompressiblePagesAreRejectedAndStayIntact) {
  EngineConfig cfg = aggressive_config();
  UZ_START_ENGINE(engine, cfg);
  constexpr size_t n = 256;
  auto* mem = static_cast<uint8_t*>(map_anon(n * kPage));
  ASSERT_TRUE(engine->manage(mem, n * kPage));
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n * kPage / 8; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    reinterpret_cast<uint64_t*>(mem)[i] = x;
  }
  uint64_t rejects0 = count(Counter::reject_compress_poor);
  ASSERT_TRUE(wait_until([&] { return count(Counter::reject_compress_poor) - rejects0 >= n / 2; }, 20));
  x = 88172645463325252ull;
  for (size_t i = 0; i < n * kPage / 8; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ASSERT_EQ(reinterpret_cast<uint64_t*>(mem)[i], x);
  }
  EXPECT_EQ(engine->stats().stored_pages, 0u);
}

TEST(EngineBasic, StopBringsEverythingBack) {
  EngineConfig cfg = aggressive_config();
  EngineStartResult r;
  Engine* engine = Engine::start(cfg, &r);
  if (engine == nullptr) {
    if (in_ci()) FAIL() << r.message;
    GTEST_SKIP() << r.message;
  }
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  write_all(mem, kPages, 11);
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= kPages / 2; }, 20));
  Engine::destroy(engine);  // stop(): restore, unregister, join
  // Unregistered now: every page must be present with its data, no handler needed.
  EXPECT_EQ(count_bad(mem, kPages, 11), 0u);
  munmap(mem, kPages * kPage);
}

}  // namespace
}  // namespace uzswap::test
