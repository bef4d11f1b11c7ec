// tests/pool/compact_test.cpp — compaction: sparse zspages empty into fuller ones, the
// emptied ones are freed, every object keeps its handle and its bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/counters.h"
#include "pool/pool.h"
#include "pool/size_class.h"
#include "pool_test_util.h"

namespace uzswap::pool {
namespace {

using testing::check_object;
using testing::fill_object;

struct Obj {
  Handle h;
  uint64_t seed;
};

std::vector<Obj> fill(Pool& pool, int n, size_t size_lo, size_t size_hi, uint64_t seed0) {
  std::vector<Obj> v;
  std::mt19937_64 rng(seed0);
  for (int i = 0; i < n; ++i) {
    size_t size = size_lo + rng() % (size_hi - size_lo + 1);
    Handle h = pool.alloc(size);
    EXPECT_NE(h, kNoHandle);
    void* p = pool.map(h, MapMode::WriteOnly);
    fill_object(p, size, seed0 + i);
    pool.unmap(h);
    v.push_back({h, seed0 + static_cast<uint64_t>(i)});
  }
  return v;
}

void verify_all(Pool& pool, const std::vector<Obj>& objs) {
  for (const Obj& o : objs) {
    size_t size = pool.object_size(o.h);
    void* p = pool.map(o.h, MapMode::ReadOnly);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(check_object(p, size, o.seed), size) << "handle " << o.h;
    pool.unmap(o.h);
  }
}

// Frees 3 of every 4 objects: every zspage is left about a quarter full.
std::vector<Obj> fragment(Pool& pool, std::vector<Obj> objs) {
  std::vector<Obj> keep;
  for (size_t i = 0; i < objs.size(); ++i)
    if (i % 4 == 0)
      keep.push_back(objs[i]);
    else
      pool.free(objs[i].h);
  return keep;
}

TEST(Compact, FreesSparseZspagesAndKeepsEveryByte) {
  auto pool = Pool::create({});
  auto objs = fragment(*pool, fill(*pool, 20000, 100, 3000, 1));
  PoolStats before = pool->stats();
  uint64_t freeable = 0;
  for (size_t c = 0; c < pool->num_classes(); ++c) freeable += pool->class_stats(c).freeable;
  EXPECT_GT(freeable, before.backing_pages / 2);
  uint64_t moved0 = counter_read(Counter::pool_compact_objects_moved);
  size_t freed = pool->compact();
  PoolStats after = pool->stats();
  EXPECT_EQ(freed, before.backing_pages - after.backing_pages);
  EXPECT_LT(after.backing_pages, before.backing_pages / 2);
  EXPECT_GT(counter_read(Counter::pool_compact_objects_moved), moved0);
  EXPECT_EQ(after.objects, objs.size());
  verify_all(*pool, objs);
  // After compaction at most one non-full zspage is left per class.
  for (size_t c = 0; c < pool->num_classes(); ++c) {
    ClassStats cs = pool->class_stats(c);
    EXPECT_EQ(cs.freeable, 0u) << "class " << c;
    EXPECT_LT(cs.obj_allocated - cs.obj_used, std::max<uint64_t>(1, cs.pages_per_zspage * kPageSize / cs.size));
  }
  // Compacting a compact pool moves nothing.
  EXPECT_EQ(pool->compact(), 0u);
  for (const Obj& o : objs) pool->free(o.h);
  pool->compact();
  EXPECT_EQ(pool->stats().backing_pages, 0u);
}

TEST(Compact, MappedObjectsPinTheirZspage) {
  auto pool = Pool::create({});
  // One class, 32-byte slots, 128 per page: 4 pages, then keep one object per page.
  auto objs = fill(*pool, 512, 24, 24, 5);
  std::vector<Obj> keep;
  for (size_t i = 0; i < objs.size(); ++i)
    if (i % 128 == 0)
      keep.push_back(objs[i]);
    else
      pool->free(objs[i].h);
  ASSERT_EQ(pool->stats().backing_pages, 4u);
  std::vector<void*> ptrs;
  for (int i = 0; i < 2; ++i) ptrs.push_back(pool->map(keep[i].h, MapMode::ReadOnly));
  pool->compact();
  // Two zspages are pinned by mappings; the other two merge into one.
  EXPECT_EQ(pool->stats().backing_pages, 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(check_object(ptrs[i], 24, keep[i].seed), 24u);
    pool->unmap(keep[i].h);
  }
  pool->compact();
  EXPECT_EQ(pool->stats().backing_pages, 1u);
  verify_all(*pool, keep);
  for (const Obj& o : keep) pool->free(o.h);
}

TEST(Compact, StartsAutomaticallyPastTheThreshold) {
  PoolConfig cfg;
  cfg.auto_compact_ratio = 0.7;
  auto pool = Pool::create(cfg);
  uint64_t auto0 = counter_read(Counter::pool_compact_auto);
  auto objs = fragment(*pool, fill(*pool, 20000, 500, 1500, 9));
  EXPECT_GT(counter_read(Counter::pool_compact_auto), auto0);
  PoolStats s = pool->stats();
  EXPECT_GT(static_cast<double>(s.object_bytes) / (s.backing_pages * kPageSize), 0.6);
  verify_all(*pool, objs);
  for (const Obj& o : objs) pool->free(o.h);
}

TEST(Compact, NoAutomaticCompactionWhenOff) {
  auto pool = Pool::create({});
  uint64_t auto0 = counter_read(Counter::pool_compact_auto);
  auto objs = fragment(*pool, fill(*pool, 5000, 500, 1500, 11));
  EXPECT_EQ(counter_read(Counter::pool_compact_auto), auto0);
  for (const Obj& o : objs) pool->free(o.h);
}

}  // namespace
}  // namespace uzswap::pool
