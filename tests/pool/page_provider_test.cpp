// tests/pool/page_provider_test.cpp — the default mmap provider.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "pool/os_memory.h"
#include "pool/page_provider.h"
#include "pool_test_util.h"

namespace uzswap::pool {
namespace {

TEST(PageProvider, PagesAreDistinctWritableAndOwned) {
  auto p = make_mmap_provider(size_t{64} << 20);
  ASSERT_TRUE(p);
  std::set<void*> pages;
  for (int i = 0; i < 1000; ++i) {
    void* pg = p->alloc_page();
    ASSERT_NE(pg, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pg) % kPageSize, 0u);
    EXPECT_TRUE(pages.insert(pg).second);
    memset(pg, i & 0xff, kPageSize);
    p->set_owner(pg, static_cast<uint32_t>(i + 1));
    EXPECT_TRUE(pool_owns_address(pg));
  }
  EXPECT_EQ(p->stats().pages_used, 1000u);
  EXPECT_EQ(p->stats().chunks_mapped, 2u);  // 512 pages a chunk
  for (void* pg : pages) EXPECT_NE(p->owner(pg), 0u);
  int x = 0;
  EXPECT_EQ(p->owner(&x), 0u);  // not a provider page
  for (void* pg : pages) p->free_page(pg);
  EXPECT_EQ(p->stats().pages_used, 0u);
  EXPECT_EQ(p->stats().chunks_mapped, 0u);
  EXPECT_EQ(p->stats().chunks_released, 2u);
}

TEST(PageProvider, FreedPagesLeaveRss) {
  auto p = make_mmap_provider(size_t{256} << 20);
  ASSERT_TRUE(p);
  std::vector<void*> pages;
  size_t before = testing::rss_bytes();
  for (int i = 0; i < 16384; ++i) {  // 64 MiB
    void* pg = p->alloc_page();
    ASSERT_NE(pg, nullptr);
    memset(pg, 0x5a, kPageSize);
    pages.push_back(pg);
  }
  size_t full = testing::rss_bytes();
  EXPECT_GT(full, before + (48u << 20));
  // Free every other page: chunks stay mapped, but the freed pages leave RSS.
  for (size_t i = 0; i < pages.size(); i += 2) p->free_page(pages[i]);
  size_t half = testing::rss_bytes();
  EXPECT_LT(half, full - (24u << 20));
  for (size_t i = 1; i < pages.size(); i += 2) p->free_page(pages[i]);
  EXPECT_LT(testing::rss_bytes(), before + (8u << 20));
  EXPECT_EQ(p->stats().chunks_mapped, 0u);
}

TEST(PageProvider, ReusedPagesReadAsZero) {
  auto p = make_mmap_provider(size_t{8} << 20);
  ASSERT_TRUE(p);
  void* a = p->alloc_page();
  void* keep = p->alloc_page();  // keeps the chunk mapped
  memset(a, 0xee, kPageSize);
  p->free_page(a);
  void* b = p->alloc_page();
  EXPECT_EQ(a, b);  // the lowest free page of the same chunk
  for (size_t i = 0; i < kPageSize; ++i) ASSERT_EQ(static_cast<uint8_t*>(b)[i], 0);
  p->free_page(b);
  p->free_page(keep);
}

TEST(PageProvider, DenserChunkIsStrictlyDenser) {
  auto p = make_mmap_provider(size_t{16} << 20);
  ASSERT_TRUE(p);
  std::vector<void*> first, second;
  for (size_t i = 0; i < PageProvider::kPagesPerChunk; ++i) first.push_back(p->alloc_page());
  for (int i = 0; i < 10; ++i) second.push_back(p->alloc_page());  // chunk 1: 10 pages
  for (int i = 0; i < 100; ++i) p->free_page(first[i]);            // chunk 0: 412 pages
  EXPECT_EQ(p->chunk_used(0), 412u);
  EXPECT_EQ(p->chunk_used(1), 10u);
  // From the sparse chunk, the denser one is chunk 0...
  void* d = p->alloc_page_denser_than(second[0]);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(p->chunk_used(0), 413u);
  // ...and from the dense chunk there is none.
  EXPECT_EQ(p->alloc_page_denser_than(first[200]), nullptr);
  void* out[PageProvider::kPagesPerChunk];
  EXPECT_EQ(p->chunk_pages(1, out), 10u);
  EXPECT_EQ(p->chunk_limit(), 2u);
}

TEST(PageProvider, ExhaustedReservationFailsCleanly) {
  auto p = make_mmap_provider(PageProvider::kChunkSize);  // one chunk
  ASSERT_TRUE(p);
  for (size_t i = 0; i < PageProvider::kPagesPerChunk; ++i) ASSERT_NE(p->alloc_page(), nullptr);
  EXPECT_EQ(p->alloc_page(), nullptr);
}

}  // namespace
}  // namespace uzswap::pool

namespace uzswap::pool {
namespace {

TEST(OsMemory, PoolMappingsAreKnownUntilUnmapped) {
  void* p = os_map(1 << 20, true);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(pool_owns_address(p));
  EXPECT_TRUE(pool_owns_address(static_cast<char*>(p) + (1 << 20) - 1));
  EXPECT_FALSE(pool_owns_address(static_cast<char*>(p) + (1 << 20)));
  os_unmap(p, 1 << 20);
  EXPECT_FALSE(pool_owns_address(p));
  int local = 0;
  EXPECT_FALSE(pool_owns_address(&local));
}

TEST(OsMemory, APoolsMemoryIsItsOwnAndGoesWithIt) {
  void* page = nullptr;
  {
    auto pool = Pool::create({});
    ASSERT_TRUE(pool);
    Handle h = pool->alloc(100);
    void* obj = pool->map(h, MapMode::ReadOnly);
    EXPECT_TRUE(pool_owns_address(obj));
    pool->unmap(h);
    pool->walk_backing_pages([&](void* p) { page = p; });
  }
  EXPECT_FALSE(pool_owns_address(page));
}

}  // namespace
}  // namespace uzswap::pool
