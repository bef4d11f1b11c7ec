// tests/pool/model_test.cpp — model-based randomized test: long random sequences of
// alloc / write / partial write / map / free / compact / migrate / pack / limit changes,
// checked against a plain std::map model; every byte of every live object is verified
// periodically and at the end, and the statistics must agree with the model.
// Seeds: UZSWAP_MODEL_SEED (default: a fixed list); length bounded by
// UZSWAP_STRESS_SECONDS per seed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "pool/pool.h"
#include "pool_test_util.h"

namespace uzswap::pool {
namespace {

class Model {
 public:
  explicit Model(uint64_t seed) : rng_(seed) {
    PoolConfig cfg;
    cfg.auto_compact_ratio = (seed & 1) ? 0.5 : 0.0;
    pool_ = Pool::create(cfg);
  }

  void run(size_t ops, std::chrono::steady_clock::time_point deadline) {
    ASSERT_TRUE(pool_);
    for (size_t i = 0; i < ops && !::testing::Test::HasFailure(); ++i) {
      step();
      if (i % 5000 == 4999) {
        verify_all();
        if (std::chrono::steady_clock::now() > deadline) break;
      }
    }
    verify_all();
    for (auto& [h, bytes] : live_) pool_->free(h);
    live_.clear();
    check_stats();
    pool_->compact();
    EXPECT_EQ(pool_->stats().backing_pages, 0u);
  }

 private:
  size_t random_size() {
    switch (rng_() % 6) {
      case 0: return 1 + rng_() % 64;                  // tiny
      case 1: return kPageSize - rng_() % 40;          // near-page and huge
      case 2: return 2000 + rng_() % 200;              // straddling, 8-page zspages
      default: return 1 + rng_() % kPageSize;
    }
  }

  Handle pick() {
    auto it = live_.lower_bound(rng_() % (max_handle_ + 1));
    if (it == live_.end()) it = live_.begin();
    return it->first;
  }

  void step() {
    unsigned op = rng_() % 100;
    if (op < 30 || live_.empty()) return do_alloc();
    if (op < 50) return do_free();
    if (op < 65) return do_verify(pick());
    if (op < 80) return do_partial_write();
    if (op < 90) return do_migrate();
    if (op < 93) { pool_->compact(); return; }
    if (op < 94) { pool_->pack_chunks(); return; }
    if (op < 97) return do_two_mappings();
    return do_limit();
  }

  void do_alloc() {
    size_t size = random_size();
    AllocError err;
    Handle h = pool_->alloc(size, &err);
    if (h == kNoHandle) {
      ASSERT_TRUE(err == AllocError::Limit) << static_cast<int>(err);
      return;
    }
    ASSERT_EQ(live_.count(h), 0u) << "handle handed out twice";
    std::vector<uint8_t> bytes(size);
    testing::fill_object(bytes.data(), size, rng_());
    pool_->write(h, bytes.data(), size);
    live_[h] = std::move(bytes);
    if (h > max_handle_) max_handle_ = h;
  }

  void do_free() {
    Handle h = pick();
    pool_->free(h);
    live_.erase(h);
  }

  void do_verify(Handle h) {
    const std::vector<uint8_t>& want = live_.at(h);
    ASSERT_EQ(pool_->object_size(h), want.size());
    void* p = pool_->map(h, MapMode::ReadOnly);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(memcmp(p, want.data(), want.size()), 0) << "handle " << h << " size " << want.size();
    pool_->unmap(h);
  }

  void do_partial_write() {
    Handle h = pick();
    std::vector<uint8_t>& want = live_.at(h);
    size_t off = rng_() % want.size();
    size_t len = 1 + rng_() % (want.size() - off);
    auto* p = static_cast<uint8_t*>(pool_->map(h, MapMode::ReadWrite));
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(memcmp(p, want.data(), want.size()), 0);
    for (size_t i = off; i < off + len; ++i) p[i] = want[i] = static_cast<uint8_t>(rng_());
    pool_->unmap(h);
  }

  void do_two_mappings() {
    Handle a = pick(), b = pick();
    if (a == b) return;
    void* pa = pool_->map(a, MapMode::ReadOnly);
    void* pb = pool_->map(b, MapMode::ReadOnly);
    ASSERT_NE(pa, nullptr);
    ASSERT_NE(pb, nullptr);
    EXPECT_EQ(memcmp(pa, live_.at(a).data(), live_.at(a).size()), 0);
    EXPECT_EQ(memcmp(pb, live_.at(b).data(), live_.at(b).size()), 0);
    // Both mapped: their pages cannot migrate, compaction must skip their zspages.
    pool_->compact();
    EXPECT_EQ(memcmp(pa, live_.at(a).data(), live_.at(a).size()), 0);
    pool_->unmap(b);
    pool_->unmap(a);
  }

  void do_migrate() {
    std::vector<void*> pages;
    pool_->walk_backing_pages([&](void* p) { pages.push_back(p); });
    if (pages.empty()) return;
    void* p = pages[rng_() % pages.size()];
    ASSERT_TRUE(pool_->isolate_page(p));
    if (rng_() % 4 == 0)
      pool_->putback_page(p);
    else
      ASSERT_TRUE(pool_->migrate_page(p));
    ASSERT_EQ(pool_->stats().isolated_pages, 0u);
  }

  void do_limit() {
    PoolStats s = pool_->stats();
    if (rng_() % 2)
      pool_->set_limit((s.backing_pages + rng_() % 64) * kPageSize);
    else
      pool_->set_limit(0);
  }

  void verify_all() {
    for (auto& [h, bytes] : live_) {
      do_verify(h);
      if (::testing::Test::HasFailure()) return;
    }
    check_stats();
  }

  void check_stats() {
    PoolStats s = pool_->stats();
    uint64_t bytes = 0;
    for (auto& [h, b] : live_) bytes += b.size();
    EXPECT_EQ(s.objects, live_.size());
    EXPECT_EQ(s.object_bytes, bytes);
    uint64_t used = 0, pages = 0;
    for (size_t c = 0; c < pool_->num_classes(); ++c) {
      ClassStats cs = pool_->class_stats(c);
      used += cs.obj_used;
      pages += cs.pages_used;
    }
    EXPECT_EQ(used, live_.size());
    EXPECT_EQ(pages, s.backing_pages);
    size_t walked = 0;
    pool_->walk_objects([&](Handle h, size_t size) {
      ++walked;
      auto it = live_.find(h);
      EXPECT_TRUE(it != live_.end() && it->second.size() == size) << h;
    });
    EXPECT_EQ(walked, live_.size());
  }

  std::mt19937_64 rng_;
  std::unique_ptr<Pool> pool_;
  std::map<Handle, std::vector<uint8_t>> live_;
  Handle max_handle_ = 0;
};

TEST(PoolModel, RandomSequencesMatchTheModel) {
  std::vector<uint64_t> seeds = {1, 2, 3, 42};
  if (const char* s = getenv("UZSWAP_MODEL_SEED")) seeds = {strtoull(s, nullptr, 0)};
  auto per_seed = std::chrono::seconds(testing::stress_seconds()) / seeds.size() + std::chrono::seconds(1);
  for (uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Model m(seed);
    m.run(200000, std::chrono::steady_clock::now() + per_seed);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace uzswap::pool
