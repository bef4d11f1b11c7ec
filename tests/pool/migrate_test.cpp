// tests/pool/migrate_test.cpp — backing-page migration: isolate / migrate / putback of
// head and tail pages, refusal while mapped, pack_chunks() returning chunks to the OS.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "common/counters.h"
#include "pool/page_provider.h"
#include "pool/pool.h"
#include "pool_test_util.h"

namespace uzswap::pool {
namespace {

using testing::check_object;
using testing::fill_object;

std::vector<void*> backing_pages(Pool& pool) {
  std::vector<void*> v;
  pool.walk_backing_pages([&](void* p) { v.push_back(p); });
  return v;
}

void verify(Pool& pool, const std::vector<Handle>& hs) {
  for (size_t i = 0; i < hs.size(); ++i) {
    size_t size = pool.object_size(hs[i]);
    void* p = pool.map(hs[i], MapMode::ReadOnly);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(check_object(p, size, i), size) << i;
    pool.unmap(hs[i]);
  }
}

std::vector<Handle> fill(Pool& pool, int n, size_t size) {
  std::vector<Handle> hs;
  for (int i = 0; i < n; ++i) {
    Handle h = pool.alloc(size);
    void* p = pool.map(h, MapMode::WriteOnly);
    fill_object(p, size, i);
    pool.unmap(h);
    hs.push_back(h);
  }
  return hs;
}

TEST(Migrate, EveryPageHeadOrTailMovesAndBytesSurvive) {
  auto pool = Pool::create({});
  // 2064-byte slots: 8-page zspages with objects straddling tail pages.
  auto hs = fill(*pool, 200, 2050);
  auto pages = backing_pages(*pool);
  ASSERT_GT(pages.size(), 16u);
  uint64_t migrated0 = counter_read(Counter::pool_migrate_pages);
  for (void* p : pages) {
    ASSERT_TRUE(pool->isolate_page(p));
    EXPECT_FALSE(pool->isolate_page(p));  // already isolated
    EXPECT_EQ(pool->stats().isolated_pages, 1u);
    ASSERT_TRUE(pool->migrate_page(p));
    EXPECT_FALSE(pool->migrate_page(p));  // no longer a pool page
  }
  EXPECT_EQ(counter_read(Counter::pool_migrate_pages) - migrated0, pages.size());
  EXPECT_EQ(pool->stats().isolated_pages, 0u);
  auto now = backing_pages(*pool);
  EXPECT_EQ(now.size(), pages.size());
  verify(*pool, hs);
  for (Handle h : hs) pool->free(h);
}

TEST(Migrate, PutbackKeepsThePage) {
  auto pool = Pool::create({});
  auto hs = fill(*pool, 50, 700);
  auto pages = backing_pages(*pool);
  ASSERT_TRUE(pool->isolate_page(pages[0]));
  pool->putback_page(pages[0]);
  EXPECT_EQ(pool->stats().isolated_pages, 0u);
  EXPECT_FALSE(pool->migrate_page(pages[0]));  // not isolated any more
  EXPECT_EQ(backing_pages(*pool), pages);
  verify(*pool, hs);
  for (Handle h : hs) pool->free(h);
}

TEST(Migrate, MappedPageIsBusyUntilUnmapped) {
  auto pool = Pool::create({});
  auto hs = fill(*pool, 1, 24);  // 32-byte class: one-page zspages
  auto pages = backing_pages(*pool);
  ASSERT_EQ(pages.size(), 1u);
  void* p = pool->map(hs[0], MapMode::ReadOnly);
  ASSERT_TRUE(pool->isolate_page(pages[0]));
  uint64_t busy0 = counter_read(Counter::pool_migrate_busy);
  EXPECT_FALSE(pool->migrate_page(pages[0]));
  EXPECT_GT(counter_read(Counter::pool_migrate_busy), busy0);
  EXPECT_EQ(check_object(p, 24, 0), 24u);
  pool->unmap(hs[0]);
  EXPECT_TRUE(pool->migrate_page(pages[0]));  // still isolated: the retry succeeds
  EXPECT_NE(backing_pages(*pool)[0], pages[0]);
  verify(*pool, hs);
  pool->free(hs[0]);
}

TEST(Migrate, ForeignAndFreedPagesAreRefused) {
  auto pool = Pool::create({});
  char local[8192];
  EXPECT_FALSE(pool->isolate_page(local));
  auto hs = fill(*pool, 1, 100);
  auto pages = backing_pages(*pool);
  ASSERT_TRUE(pool->isolate_page(pages[0]));
  pool->free(hs[0]);  // the class keeps its one empty zspage, still isolated
  EXPECT_EQ(pool->stats().isolated_pages, 1u);
  pool->compact();    // the zspage dies with an isolated page: isolation is dropped
  EXPECT_EQ(pool->stats().isolated_pages, 0u);
  EXPECT_FALSE(pool->migrate_page(pages[0]));
  pool->putback_page(pages[0]);
  EXPECT_EQ(pool->stats().isolated_pages, 0u);
}

TEST(Migrate, DisabledMigrationRefusesEverything) {
  PoolConfig cfg;
  cfg.migration = false;
  auto pool = Pool::create(cfg);
  auto hs = fill(*pool, 10, 300);
  auto pages = backing_pages(*pool);
  EXPECT_FALSE(pool->isolate_page(pages[0]));
  EXPECT_EQ(pool->pack_chunks(), 0u);
  verify(*pool, hs);
  for (Handle h : hs) pool->free(h);
}

TEST(Migrate, PackChunksReturnsChunksToTheOs) {
  auto pool = Pool::create({});
  // 6000 single-page huge objects = ~12 chunks; keep every 8th: each chunk 1/8 full.
  std::vector<Handle> all = fill(*pool, 6000, 4096), keep;
  for (size_t i = 0; i < all.size(); ++i)
    if (i % 8 == 0)
      keep.push_back(all[i]);
    else
      pool->free(all[i]);
  PoolStats before = pool->stats();
  size_t rss_before = testing::rss_bytes();
  size_t chunks_before = before.provider_bytes / PageProvider::kChunkSize;
  ASSERT_GE(chunks_before, 11u);
  uint64_t released0 = counter_read(Counter::pool_chunks_released);
  size_t released = pool->pack_chunks();
  PoolStats after = pool->stats();
  size_t chunks_after = after.provider_bytes / PageProvider::kChunkSize;
  EXPECT_GE(released, chunks_before - 3);
  EXPECT_LE(chunks_after, 3u);  // 750 pages fit in 2 chunks
  EXPECT_EQ(counter_read(Counter::pool_chunks_released) - released0, chunks_before - chunks_after);
  EXPECT_EQ(after.backing_pages, before.backing_pages);
  EXPECT_LE(testing::rss_bytes(), rss_before + (1u << 20));
  // The surviving objects kept their handles and bytes.
  for (size_t k = 0; k < keep.size(); ++k) {
    void* p = pool->map(keep[k], MapMode::ReadOnly);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(check_object(p, 4096, k * 8), 4096u);
    pool->unmap(keep[k]);
  }
  for (Handle h : keep) pool->free(h);
}

}  // namespace
}  // namespace uzswap::pool
