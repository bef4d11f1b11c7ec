// tests/policy/throttle_test.cpp — the throttle's decisions (policy/throttle.h) as pure
// functions, and the footprint estimate's arithmetic.
#include <gtest/gtest.h>

#include "policy/throttle.h"

namespace uzswap::policy {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kMs = 1000000;

ThrottleConfig config(uint64_t limit) {
  ThrottleConfig c;
  c.limit_bytes = limit;
  c.margin_bytes = throttle_margin(limit);
  c.max_delay_ns = 4 * kMs;
  return c;
}

ThrottleInputs at(uint64_t estimate) {
  ThrottleInputs in;
  in.estimate_bytes = estimate;
  return in;
}

TEST(Throttle, MarginIsAThirtySecondAtLeastFourMiB) {
  EXPECT_EQ(throttle_margin(1024 * kMiB), 32 * kMiB);
  EXPECT_EQ(throttle_margin(64 * kMiB), 4 * kMiB);
  EXPECT_EQ(throttle_margin(1), 4 * kMiB);
}

TEST(Throttle, ParksOnlyPastLimitPlusMargin) {
  ThrottleConfig c = config(512 * kMiB);  // margin 16 MiB
  EXPECT_FALSE(should_park(c, at(400 * kMiB)));
  EXPECT_FALSE(should_park(c, at(520 * kMiB))) << "over the limit, within the margin";
  EXPECT_FALSE(should_park(c, at(528 * kMiB))) << "exactly at limit + margin";
  EXPECT_TRUE(should_park(c, at(528 * kMiB + 1)));
}

TEST(Throttle, NeverParksWithoutALimitOrWhenDisabled) {
  ThrottleConfig c = config(0);
  EXPECT_FALSE(should_park(c, at(100000 * kMiB)));
  c = config(64 * kMiB);
  c.enabled = false;
  EXPECT_FALSE(should_park(c, at(1000 * kMiB)));
}

TEST(Throttle, NeverParksWhenReclaimCannotHelp) {
  ThrottleConfig c = config(64 * kMiB);
  ThrottleInputs in = at(1000 * kMiB);
  in.unreachable = true;
  EXPECT_FALSE(should_park(c, in)) << "limit unreachable: the program must run on";
  in = at(1000 * kMiB);
  in.pool_full = true;
  EXPECT_FALSE(should_park(c, in)) << "pool at its hard limit: eviction has stopped";
}

TEST(Throttle, ReleaseWhenRelievedOrAtTheDeadline) {
  ThrottleConfig c = config(64 * kMiB);
  const uint64_t parked = 1000 * kMs;
  EXPECT_EQ(release_parked(c, at(100 * kMiB), parked, parked + 1 * kMs), Release::Keep);
  EXPECT_EQ(release_parked(c, at(60 * kMiB), parked, parked + 1 * kMs), Release::Relieved);
  EXPECT_EQ(release_parked(c, at(100 * kMiB), parked, parked + 4 * kMs), Release::Timeout);
  EXPECT_EQ(release_parked(c, at(100 * kMiB), parked, parked + 400 * kMs), Release::Timeout);
  ThrottleInputs gone = at(100 * kMiB);
  gone.unreachable = true;
  EXPECT_EQ(release_parked(c, gone, parked, parked), Release::Relieved)
      << "a limit found unreachable releases the parked faults at once";
}

TEST(Throttle, ClockGoingBackwardsNeverHoldsAFaultLonger) {
  ThrottleConfig c = config(64 * kMiB);
  EXPECT_EQ(release_deadline_in(c, 1000 * kMs, 999 * kMs), 4 * kMs);
  EXPECT_EQ(release_deadline_in(c, 1000 * kMs, 1003 * kMs), 1 * kMs);
  EXPECT_EQ(release_deadline_in(c, 1000 * kMs, 1010 * kMs), 0u);
}

TEST(FootprintEstimate, ChangesSinceTheMarkSurviveARebase) {
  FootprintEstimate e;
  e.add(10 * kMiB);
  EXPECT_EQ(e.bytes(), 10 * kMiB);
  int64_t mark = e.mark();
  e.add(2 * kMiB);  // a fault resolved while the measurement ran
  e.rebase(100 * kMiB, mark);
  EXPECT_EQ(e.bytes(), 102 * kMiB);
  e.add(-4 * static_cast<int64_t>(kMiB));  // staging returned to the OS
  EXPECT_EQ(e.bytes(), 98 * kMiB);
  mark = e.mark();
  e.rebase(50 * kMiB, mark);
  EXPECT_EQ(e.bytes(), 50 * kMiB);
  e.add(-60 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(e.bytes(), 0u) << "never negative";
}

}  // namespace
}  // namespace uzswap::policy
