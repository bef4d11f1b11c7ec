// tests/pool/pool_basic_test.cpp — the pool API, one concept per test: alloc/map/free,
// straddling objects, huge objects, sizes, errors, limits, statistics, RSS.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/counters.h"
#include "pool/pool.h"
#include "pool/size_class.h"
#include "pool_test_util.h"

namespace uzswap::pool {
namespace {

using testing::check_object;
using testing::fill_object;

std::unique_ptr<Pool> make_pool(PoolConfig cfg = {}) {
  auto p = Pool::create(cfg);
  EXPECT_TRUE(p);
  return p;
}

void store(Pool& pool, Handle h, uint64_t seed) {
  size_t size = pool.object_size(h);
  void* p = pool.map(h, MapMode::WriteOnly);
  ASSERT_NE(p, nullptr);
  fill_object(p, size, seed);
  pool.unmap(h);
}

size_t verify(Pool& pool, Handle h, uint64_t seed) {
  size_t size = pool.object_size(h);
  void* p = pool.map(h, MapMode::ReadOnly);
  if (!p) return 0;
  size_t bad = check_object(p, size, seed);
  pool.unmap(h);
  return bad == size ? size : bad;
}

TEST(Pool, EverySizeRoundTrips) {
  auto pool = make_pool();
  std::vector<Handle> hs;
  for (size_t size = 1; size <= kPageSize; ++size) {
    Handle h = pool->alloc(size);
    ASSERT_NE(h, kNoHandle) << size;
    EXPECT_EQ(pool->object_size(h), size);
    store(*pool, h, size);
    hs.push_back(h);
  }
  for (size_t i = 0; i < hs.size(); ++i) ASSERT_EQ(verify(*pool, hs[i], i + 1), i + 1) << "size " << i + 1;
  EXPECT_EQ(pool->stats().objects, kPageSize);
  for (Handle h : hs) pool->free(h);
  EXPECT_EQ(pool->stats().objects, 0u);
  // One empty zspage per class is kept for reuse; compaction frees them.
  EXPECT_EQ(pool->stats().zspages, pool->num_classes());
  pool->compact();
  EXPECT_EQ(pool->stats().backing_pages, 0u);
  EXPECT_EQ(pool->stats().zspages, 0u);
}

TEST(Pool, OneEmptyZspageIsKeptPerClassAndReused) {
  auto pool = make_pool();
  uint64_t created0 = counter_read(Counter::pool_zspage_created);
  // 32-byte class, 128 objects a one-page zspage: fill exactly two zspages.
  std::vector<Handle> hs;
  for (int i = 0; i < 256; ++i) hs.push_back(pool->alloc(24));
  EXPECT_EQ(counter_read(Counter::pool_zspage_created) - created0, 2u);
  // Alloc/free at the boundary reuses the kept empty zspage instead of building one
  // each time.
  for (int i = 0; i < 100; ++i) pool->free(pool->alloc(24));
  EXPECT_EQ(counter_read(Counter::pool_zspage_created) - created0, 3u);
  EXPECT_EQ(pool->stats().backing_pages, 3u);
  EXPECT_EQ(pool->class_stats(0).freeable, 1u);
  for (Handle h : hs) pool->free(h);
  EXPECT_EQ(pool->stats().backing_pages, 1u);  // two freed, one kept
  EXPECT_EQ(pool->compact(), 1u);
  EXPECT_EQ(pool->stats().backing_pages, 0u);
}

TEST(Pool, StraddlingObjectsAreAssembledAndWrittenBack) {
  // 3072-byte slots: objects 1 and 2 of a 3-page zspage straddle a page boundary.
  auto pool = make_pool();
  uint64_t straddles0 = counter_read(Counter::pool_map_straddle);
  std::vector<Handle> hs;
  for (int i = 0; i < 8; ++i) hs.push_back(pool->alloc(3000));
  for (size_t i = 0; i < hs.size(); ++i) store(*pool, hs[i], 100 + i);
  for (size_t i = 0; i < hs.size(); ++i) EXPECT_EQ(verify(*pool, hs[i], 100 + i), 3000u);
  EXPECT_GT(counter_read(Counter::pool_map_straddle), straddles0);
  // ReadWrite: a partial change lands in the pages, and a second one undoes it.
  for (size_t i = 0; i < hs.size(); ++i) {
    auto* p = static_cast<uint8_t*>(pool->map(hs[i], MapMode::ReadWrite));
    ASSERT_NE(p, nullptr);
    p[2999] ^= 0xff;
    p[0] ^= 0xff;
    pool->unmap(hs[i]);
    uint8_t buf[3000], expect[3000];
    pool->read(hs[i], buf, sizeof buf);
    fill_object(expect, 3000, 100 + i);
    expect[2999] ^= 0xff;
    expect[0] ^= 0xff;
    EXPECT_EQ(memcmp(buf, expect, 3000), 0);
    p = static_cast<uint8_t*>(pool->map(hs[i], MapMode::ReadWrite));
    p[2999] ^= 0xff;
    p[0] ^= 0xff;
    pool->unmap(hs[i]);
  }
  for (size_t i = 0; i < hs.size(); ++i) EXPECT_EQ(verify(*pool, hs[i], 100 + i), 3000u);
  // A ReadOnly mapping of a straddling object never writes back.
  auto* p = static_cast<uint8_t*>(pool->map(hs[1], MapMode::ReadOnly));
  p[0] ^= 1;
  pool->unmap(hs[1]);
  EXPECT_EQ(verify(*pool, hs[1], 101), 3000u);
  for (Handle h : hs) pool->free(h);
}

TEST(Pool, TwoMappingsAtOnceAndNoMore) {
  auto pool = make_pool();
  Handle a = pool->alloc(3000), b = pool->alloc(3000), c = pool->alloc(100);
  store(*pool, a, 1);
  store(*pool, b, 2);
  void* pa = pool->map(a, MapMode::ReadOnly);
  void* pb = pool->map(b, MapMode::ReadOnly);
  ASSERT_NE(pa, nullptr);
  ASSERT_NE(pb, nullptr);
  EXPECT_EQ(check_object(pa, 3000, 1), 3000u);
  EXPECT_EQ(check_object(pb, 3000, 2), 3000u);
  EXPECT_EQ(pool->map(c, MapMode::ReadOnly), nullptr);  // kMaxMapped == 2
  pool->unmap(a);
  pool->unmap(b);
  EXPECT_NE(pool->map(c, MapMode::ReadOnly), nullptr);
  pool->unmap(c);
}

TEST(Pool, HugeObjectsTakeAWholePageRaw) {
  auto pool = make_pool();
  Handle h = pool->alloc(kPageSize);
  ASSERT_NE(h, kNoHandle);
  store(*pool, h, 7);
  auto* p = static_cast<char*>(pool->map(h, MapMode::ReadOnly));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);  // raw: no header in front
  pool->unmap(h);
  EXPECT_EQ(verify(*pool, h, 7), kPageSize);
  EXPECT_EQ(pool->stats().backing_pages, 1u);
  pool->free(h);
  pool->compact();
  EXPECT_EQ(pool->stats().backing_pages, 0u);
}

TEST(Pool, ErrorsAreReportedNotFatal) {
  auto pool = make_pool();
  AllocError err = AllocError::None;
  EXPECT_EQ(pool->alloc(0, &err), kNoHandle);
  EXPECT_EQ(err, AllocError::TooLarge);
  EXPECT_EQ(pool->alloc(kPageSize + 1, &err), kNoHandle);
  EXPECT_EQ(err, AllocError::TooLarge);
  uint64_t invalid0 = counter_read(Counter::pool_handle_invalid);
  pool->free(kNoHandle);
  pool->free(123456789);
  EXPECT_EQ(pool->map(kNoHandle, MapMode::ReadOnly), nullptr);
  EXPECT_EQ(pool->object_size(99999), 0u);
  Handle h = pool->alloc(10, &err);
  EXPECT_EQ(err, AllocError::None);
  pool->free(h);
  pool->free(h);  // double free: refused, counted
  EXPECT_EQ(pool->map(h, MapMode::ReadOnly), nullptr);
  pool->unmap(h);
  EXPECT_GE(counter_read(Counter::pool_handle_invalid), invalid0 + 5);
  EXPECT_EQ(pool->stats().objects, 0u);
}

TEST(Pool, HardLimitRefusesThenRecovers) {
  PoolConfig cfg;
  cfg.limit_bytes = 16 * kPageSize;
  auto pool = make_pool(cfg);
  std::vector<Handle> hs;
  AllocError err = AllocError::None;
  for (;;) {
    Handle h = pool->alloc(kPageSize, &err);
    if (h == kNoHandle) break;
    hs.push_back(h);
  }
  EXPECT_EQ(err, AllocError::Limit);
  EXPECT_EQ(hs.size(), 16u);
  EXPECT_LE(pool->stats().backing_pages * kPageSize, cfg.limit_bytes);
  pool->free(hs.back());
  hs.pop_back();
  EXPECT_NE(pool->alloc(kPageSize, &err), kNoHandle);
  pool->set_limit(0);
  EXPECT_NE(pool->alloc(kPageSize, &err), kNoHandle);
  EXPECT_EQ(pool->stats().limit_bytes, 0u);
}

TEST(Pool, OsRefusingMemoryIsNoMemory) {
  testing::FailingProvider prov;
  PoolConfig cfg;
  cfg.provider = &prov;
  auto pool = make_pool(cfg);
  prov.fail_after(3);
  std::vector<Handle> hs;
  AllocError err = AllocError::None;
  for (;;) {
    Handle h = pool->alloc(kPageSize, &err);
    if (h == kNoHandle) break;
    hs.push_back(h);
  }
  EXPECT_EQ(err, AllocError::NoMemory);
  EXPECT_EQ(hs.size(), 3u);
  // A multi-page zspage that gets only some of its pages gives them back.
  EXPECT_EQ(pool->alloc(3000, &err), kNoHandle);
  EXPECT_EQ(prov.stats().pages_used, 3u);
  prov.never_fail();
  Handle h = pool->alloc(3000, &err);
  EXPECT_NE(h, kNoHandle);
  pool->free(h);
  for (Handle x : hs) pool->free(x);
  pool->compact();
  EXPECT_EQ(prov.stats().pages_used, 0u);
}

TEST(Pool, StatsColumnsAddUp) {
  auto pool = make_pool();
  std::vector<Handle> hs;
  uint64_t bytes = 0;
  for (int i = 0; i < 5000; ++i) {
    size_t size = 1 + (testing::mix64(i) % kPageSize);
    hs.push_back(pool->alloc(size));
    bytes += size;
  }
  PoolStats s = pool->stats();
  EXPECT_EQ(s.objects, 5000u);
  EXPECT_EQ(s.object_bytes, bytes);
  uint64_t used = 0, pages = 0, zspages_pages = 0;
  for (size_t c = 0; c < pool->num_classes(); ++c) {
    ClassStats cs = pool->class_stats(c);
    EXPECT_EQ(cs.index, c);
    EXPECT_LE(cs.obj_used, cs.obj_allocated);
    EXPECT_EQ(cs.pages_used % cs.pages_per_zspage, 0u);
    uint64_t zspages = cs.pages_used / cs.pages_per_zspage;
    EXPECT_LE(cs.almost_full + cs.almost_empty, zspages);
    EXPECT_LE(cs.freeable, cs.pages_used);
    used += cs.obj_used;
    pages += cs.pages_used;
    zspages_pages += zspages;
  }
  EXPECT_EQ(used, s.objects);
  EXPECT_EQ(pages, s.backing_pages);
  EXPECT_EQ(zspages_pages, s.zspages);
  EXPECT_GE(s.provider_bytes, s.backing_pages * kPageSize);
  EXPECT_GT(s.metadata_bytes, 0u);
  EXPECT_LT(s.metadata_bytes, s.backing_pages * kPageSize / 8);
  EXPECT_EQ(pool->footprint_bytes(), s.backing_pages * kPageSize + s.metadata_bytes);
  size_t walked = 0;
  pool->walk_objects([&](Handle, size_t) { ++walked; });
  EXPECT_EQ(walked, 5000u);
  size_t walked_pages = 0;
  pool->walk_backing_pages([&](void*) { ++walked_pages; });
  EXPECT_EQ(walked_pages, s.backing_pages);
  for (Handle h : hs) pool->free(h);
}

TEST(Pool, AlmostFullAndAlmostEmptyFollowTheKernelsThreshold) {
  auto pool = make_pool();
  // 32-byte class: 128 objects in one page.
  size_t size = kMinClassSize - kObjHeaderSize;
  size_t ci = 0;
  std::vector<Handle> hs;
  for (int i = 0; i < 128; ++i) hs.push_back(pool->alloc(size));
  ClassStats cs = pool->class_stats(ci);
  ASSERT_EQ(cs.size, kMinClassSize);
  EXPECT_EQ(cs.obj_allocated, 128u);
  EXPECT_EQ(cs.almost_full + cs.almost_empty, 0u);  // full
  for (int i = 0; i < 10; ++i) pool->free(hs[i]);  // 118/128 > 3/4
  cs = pool->class_stats(ci);
  EXPECT_EQ(cs.almost_full, 1u);
  EXPECT_EQ(cs.almost_empty, 0u);
  for (int i = 10; i < 100; ++i) pool->free(hs[i]);  // 28/128
  cs = pool->class_stats(ci);
  EXPECT_EQ(cs.almost_full, 0u);
  EXPECT_EQ(cs.almost_empty, 1u);
  EXPECT_EQ(cs.obj_used, 28u);
  for (int i = 100; i < 128; ++i) pool->free(hs[i]);
}

TEST(Pool, RssFallsWhenThePoolShrinks) {
  auto pool = make_pool();
  std::vector<Handle> hs;
  size_t before = testing::rss_bytes();
  for (int i = 0; i < 40000; ++i) {  // ~80 MiB
    Handle h = pool->alloc(2000);
    ASSERT_NE(h, kNoHandle);
    store(*pool, h, i);
    hs.push_back(h);
  }
  size_t full = testing::rss_bytes();
  EXPECT_GT(full, before + (60u << 20));
  for (Handle h : hs) pool->free(h);
  pool->compact();
  EXPECT_LT(testing::rss_bytes(), full - (60u << 20));
  EXPECT_EQ(pool->stats().provider_bytes, 0u);
}

TEST(Pool, HandlesAreStableAndNeverZero) {
  auto pool = make_pool();
  std::vector<Handle> hs;
  for (int i = 0; i < 1000; ++i) {
    Handle h = pool->alloc(64 + i % 512);
    ASSERT_NE(h, kNoHandle);
    hs.push_back(h);
    store(*pool, h, h);
  }
  pool->compact();
  for (Handle h : hs) EXPECT_EQ(verify(*pool, h, h), pool->object_size(h));
  for (Handle h : hs) pool->free(h);
}

}  // namespace
}  // namespace uzswap::pool
