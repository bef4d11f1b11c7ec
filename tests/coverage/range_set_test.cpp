// tests/coverage/range_set_test.cpp — the malloc-free range set behind own_memory.h and locked.h.
#include <gtest/gtest.h>

#include "preload/range_set.h"

namespace uzswap::preload {
namespace {

TEST(RangeSet, SubtractLeavesTheUncoveredPieces) {
  RangeSet s;
  ASSERT_TRUE(s.init());
  s.add(0x3000, 0x5000);
  s.add(0x8000, 0x9000);
  s.add(0x4000, 0x6000);  // overlaps the first
  AddrRange out[8];
  size_t n = s.subtract(0x1000, 0xa000, out, 8);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(out[0].begin, 0x1000u);
  EXPECT_EQ(out[0].end, 0x3000u);
  EXPECT_EQ(out[1].begin, 0x6000u);
  EXPECT_EQ(out[1].end, 0x8000u);
  EXPECT_EQ(out[2].begin, 0x9000u);
  EXPECT_EQ(out[2].end, 0xa000u);
  EXPECT_EQ(s.subtract(0x3000, 0x6000, out, 8), 0u);
  EXPECT_TRUE(s.overlaps(0x5fff, 0x7000));
  EXPECT_FALSE(s.overlaps(0x6000, 0x8000));
}

TEST(RangeSet, RemoveWithinAndContainedAdds) {
  RangeSet s;
  ASSERT_TRUE(s.init());
  s.add(0x1000, 0x9000);
  s.add(0x2000, 0x3000);  // contained: not a new entry
  EXPECT_EQ(s.size(), 1u);
  s.remove_within(0x2000, 0x8000);  // the entry is not wholly inside: stays
  EXPECT_EQ(s.size(), 1u);
  s.remove_within(0x1000, 0x9000);
  EXPECT_EQ(s.size(), 0u);
}

TEST(RangeSet, FullSetRefusesAndCounts) {
  RangeSet s;
  EXPECT_FALSE(s.add(0x1000, 0x2000));  // not initialised
  ASSERT_TRUE(s.init());
  for (size_t i = 0; i < RangeSet::kCapacity; ++i) ASSERT_TRUE(s.add(0x10000 * (i + 1), 0x10000 * (i + 1) + 0x1000));
  EXPECT_FALSE(s.add(0x1000, 0x2000));
  EXPECT_EQ(s.dropped(), 2u);
}

}  // namespace
}  // namespace uzswap::preload
