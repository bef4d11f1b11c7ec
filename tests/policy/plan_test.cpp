// tests/policy/plan_test.cpp — the reclaim decision (policy/plan.h) as a pure function,
// and the Reclaimer driving a Mechanics implementation over an injected clock.
#include <gtest/gtest.h>

#include <atomic>

#include "policy/plan.h"
#include "policy/reclaimer.h"

namespace uzswap::policy {
namespace {

constexpr uint64_t kMiB = 1 << 20;

PolicyConfig config(uint64_t limit) {
  PolicyConfig c;
  c.limit_bytes = limit;
  c.stage_seconds = 0.5;
  c.staging_slots = 32768;
  return c;
}

TickInputs inputs(uint64_t resident, uint64_t pool, uint64_t staging, size_t staged) {
  TickInputs in;
  in.footprint.resident = resident;
  in.footprint.pool = pool;
  in.footprint.staging = staging;
  in.footprint.metadata = 0;
  in.staged_pages = staged;
  return in;
}

TEST(Plan, UnderTheLimitDoesNothing) {
  TickPlan p = plan_tick(config(100 * kMiB), inputs(50 * kMiB, 10 * kMiB, 0, 0));
  EXPECT_EQ(p.stage_pages, 0u);
  EXPECT_EQ(p.compress_pages, 0u);
  EXPECT_FALSE(p.over_limit_unreachable);
}

TEST(Plan, NoLimitNoColdAgeDoesNothing) {
  TickPlan p = plan_tick(config(0), inputs(500 * kMiB, 0, 0, 0));
  EXPECT_EQ(p.stage_pages, 0u);
}

TEST(Plan, OverTheLimitStagesTheExcessNotInFlight) {
  // 8 MiB over, 512 pages already staged: stage the other 1536.
  PolicyConfig c = config(100 * kMiB);
  c.margin_bytes = 16 * kMiB;
  TickPlan p = plan_tick(c, inputs(104 * kMiB, 2 * kMiB, 2 * kMiB, 512));
  EXPECT_EQ(p.stage_pages, 2048u - 512u);
  EXPECT_EQ(p.compress_pages, 2048u) << "the staged ones and those staged this tick";
  EXPECT_EQ(p.compress_min_age_ns, 500000000u) << "within the margin: staged pages age first";
}

TEST(Plan, PastTheMarginStagedPagesAreCompressedAtOnce) {
  PolicyConfig c = config(100 * kMiB);
  c.margin_bytes = 4 * kMiB;
  // 8 MiB over, past the 4 MiB margin: the program outruns reclaim.
  TickPlan p = plan_tick(c, inputs(104 * kMiB, 2 * kMiB, 2 * kMiB, 512));
  EXPECT_EQ(p.compress_min_age_ns, 0u);
  EXPECT_EQ(p.compress_pages, 2048u);
  c.pressure_stage_seconds = 0.1;
  p = plan_tick(c, inputs(104 * kMiB, 2 * kMiB, 2 * kMiB, 512));
  EXPECT_EQ(p.compress_min_age_ns, 100000000u) << "the pressure window is configurable";
  // Exactly at the margin: still the ordinary window.
  p = plan_tick(c, inputs(100 * kMiB, 2 * kMiB, 2 * kMiB, 512));
  EXPECT_EQ(p.compress_min_age_ns, 500000000u);
}

TEST(Plan, StagingCapacityBoundsStaging) {
  PolicyConfig c = config(100 * kMiB);
  c.staging_slots = 1000;
  TickPlan p = plan_tick(c, inputs(200 * kMiB, 0, 0, 900));
  EXPECT_EQ(p.stage_pages, 100u);
}

TEST(Plan, PoolFullStopsEviction) {
  TickInputs in = inputs(200 * kMiB, 50 * kMiB, 0, 10);
  in.pool_full = true;
  TickPlan p = plan_tick(config(100 * kMiB), in);
  EXPECT_EQ(p.stage_pages, 0u);
  EXPECT_EQ(p.compress_pages, 0u);
}

TEST(Plan, UnreachableLimitIsReported) {
  TickPlan p = plan_tick(config(10 * kMiB), inputs(0, 12 * kMiB, 0, 0));
  EXPECT_TRUE(p.over_limit_unreachable);
  EXPECT_EQ(p.stage_pages, 0u);  // nothing resident left to evict
}

TEST(Plan, ColdAgeSweepsUnderTheLimit) {
  PolicyConfig c = config(0);
  c.cold_age_seconds = 10;
  c.tick_seconds = 0.02;
  // 100 MiB resident = 25600 pages, swept once per 10 s: 51.2 pages per 20 ms tick.
  TickPlan p = plan_tick(c, inputs(100 * kMiB, 0, 0, 7));
  EXPECT_EQ(p.stage_pages, 52u);
  EXPECT_EQ(p.compress_min_age_ns, 10000000000u) << "only pages untouched for cold_age";
  EXPECT_EQ(p.compress_pages, 7u);
}

// A Mechanics over plain counters: pages move resident -> staged -> pool by the plan.
class CountingMechanics final : public Mechanics {
 public:
  std::atomic<size_t> resident{25600}, staged{0}, stored{0};
  size_t stage_cold(size_t n) override {
    size_t take = n < resident ? n : resident.load();
    resident -= take;
    staged += take;
    return take;
  }
  size_t compress_staged(uint64_t, size_t n) override {
    size_t take = n < staged ? n : staged.load();
    staged -= take;
    stored += take;
    return take;
  }
  size_t release_staging() override { return 0; }
  size_t staging_dirty_pages() override { return 0; }
  Footprint measure() override {
    Footprint f;
    f.resident = resident * 4096;
    f.staging = staged * 4096;
    f.pool = stored * 1024;  // 4:1 compression
    return f;
  }
  size_t staged_pages() override { return staged; }
  size_t managed_pages() override { return 25600; }
  bool pool_full() override { return false; }
};

class FakeClock final : public Clock {
 public:
  uint64_t t = 1000000000;
  uint64_t now_ns() override { return t; }
  void sleep_ns(uint64_t ns) override { t += ns; }
};

struct FakeClockRef {
  FakeClock* c = nullptr;
  uint64_t now() const { return c->t; }
};

TEST(Reclaimer, ConvergesToTheLimit) {
  CountingMechanics m;
  FakeClock clock;
  Reclaimer r;
  PolicyConfig c = config(50 * kMiB);  // 100 MiB resident at start
  c.stage_seconds = 0;
  ASSERT_TRUE(r.start(c, 1, &m, &clock));
  r.stop();  // drive it by hand below: deterministic
  for (int i = 0; i < 2000 && m.measure().total() > 50 * kMiB; ++i) {
    clock.t += 20000000;
    r.run_once();
  }
  uint64_t total = m.measure().total();
  EXPECT_LE(total, 50 * kMiB);
  EXPECT_GE(total, 45 * kMiB) << "does not evict far more than needed";
}

// A Mechanics whose compression only counts pages that have aged: shows whether the
// Reclaimer asks for young pages to be compressed.
class AgingMechanics final : public Mechanics {
 public:
  FakeClockRef clock;
  uint64_t resident = 0, staged = 0, stored = 0;
  uint64_t staged_at = 0;
  size_t stage_cold(size_t n) override {
    size_t take = n < resident ? n : resident;
    resident -= take;
    staged += take;
    staged_at = clock.now();
    return take;
  }
  size_t compress_staged(uint64_t min_age_ns, size_t n) override {
    if (clock.now() - staged_at < min_age_ns) return 0;
    size_t take = n < staged ? n : staged;
    staged -= take;
    stored += take;
    return take;
  }
  size_t release_staging() override { return 0; }
  size_t staging_dirty_pages() override { return 0; }
  Footprint measure() override {
    Footprint f;
    f.resident = resident * 4096;
    f.staging = staged * 4096;
    f.pool = stored * 1024;
    return f;
  }
  size_t staged_pages() override { return staged; }
  size_t managed_pages() override { return 25600; }
  bool pool_full() override { return false; }
};

TEST(Reclaimer, UnderPressureCompressesWithinTheTick) {
  FakeClock clock;
  AgingMechanics m;
  m.clock.c = &clock;
  m.resident = 25600;  // 100 MiB against a 50 MiB limit, margin 4 MiB
  Reclaimer r;
  PolicyConfig c = config(50 * kMiB);
  c.margin_bytes = 4 * kMiB;
  c.stage_seconds = 0.5;
  ASSERT_TRUE(r.start(c, 1, &m, &clock));
  r.stop();
  // 20 ticks of 20 ms (0.4 s, less than stage_seconds): under pressure the staged pages
  // must not wait for the 0.5 s window.
  for (int i = 0; i < 20; ++i) {
    clock.t += 20000000;
    for (int k = 0; k < 1000; ++k) r.run_once();
  }
  EXPECT_GT(m.stored, 0u) << "staged pages were compressed before stage_seconds";
  EXPECT_LE(m.measure().total(), 54 * kMiB) << "and the footprint came back within the margin";
}

}  // namespace
}  // namespace uzswap::policy
