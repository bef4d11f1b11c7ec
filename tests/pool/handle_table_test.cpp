// tests/pool/handle_table_test.cpp — handle slots and zspage descriptor storage.
#include <gtest/gtest.h>

#include <set>

#include "pool/handle_table.h"
#include "pool/zspage.h"

namespace uzswap::pool {
namespace {

TEST(HandleTable, HandlesAreNonZeroUniqueAndRecycled) {
  HandleTable t;
  ASSERT_TRUE(t.init(1024));
  std::set<Handle> seen;
  for (int i = 0; i < 100; ++i) {
    Handle h = t.alloc_slot();
    ASSERT_NE(h, kNoHandle);
    EXPECT_TRUE(seen.insert(h).second);
    EXPECT_EQ(t.slot(h).load(), SlotValue::kReservedBit);
  }
  Handle victim = *seen.begin();
  t.free_slot(victim);
  EXPECT_EQ(t.alloc_slot(), victim);
  EXPECT_EQ(t.high_water(), 101u);
}

TEST(HandleTable, FullTableRefuses) {
  HandleTable t;
  ASSERT_TRUE(t.init(8));
  for (int i = 1; i < 8; ++i) ASSERT_NE(t.alloc_slot(), kNoHandle);
  EXPECT_EQ(t.alloc_slot(), kNoHandle);
}

TEST(HandleTable, SlotValueRoundTrips) {
  for (uint32_t size : {1u, 17u, 4095u, 4096u})
    for (uint32_t obj : {0u, 1u, 1023u})
      for (uint32_t zs : {1u, 77u, 0xffffffffu}) {
        uint64_t v = SlotValue::encode(zs, obj, size);
        EXPECT_TRUE(SlotValue::live(v));
        EXPECT_EQ(SlotValue::size(v), size);
        EXPECT_EQ(SlotValue::obj(v), obj);
        EXPECT_EQ(SlotValue::zspage(v), zs);
      }
  EXPECT_FALSE(SlotValue::live(SlotValue::kReservedBit));
  EXPECT_FALSE(SlotValue::live(12345));
}

TEST(ZspageTable, DescriptorsAreRecycledAndStartBuilding) {
  ZspageTable t;
  ASSERT_TRUE(t.init(64));
  uint32_t a = t.alloc(3), b = t.alloc(4);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.at(a).state(), ZspageState::Building);
  EXPECT_EQ(t.at(a).class_index(), 3u);
  t.at(a).ident.store(Zspage::make_ident(ZspageState::Free, 3));
  t.free(a);
  EXPECT_EQ(t.alloc(9), a);
  EXPECT_EQ(t.at(a).class_index(), 9u);
}

TEST(Fullness, GroupsFollowTheInuseRatio) {
  EXPECT_EQ(fullness_for(0, 10), FullnessGroup::Empty);
  EXPECT_EQ(fullness_for(10, 10), FullnessGroup::Full);
  EXPECT_EQ(fullness_for(1, 100), FullnessGroup::Under10);
  EXPECT_EQ(fullness_for(55, 100), FullnessGroup::Under60);
  EXPECT_EQ(fullness_for(99, 100), FullnessGroup::Under100);
}

TEST(ZspageLock, SharedExcludesExclusive) {
  ZspageLock l;
  l.read_lock();
  l.read_lock();
  EXPECT_FALSE(l.try_write_lock());
  l.read_unlock();
  EXPECT_FALSE(l.try_write_lock());
  l.read_unlock();
  EXPECT_TRUE(l.try_write_lock());
  EXPECT_TRUE(l.write_locked());
  EXPECT_FALSE(l.try_write_lock());
  l.write_unlock();
  EXPECT_TRUE(l.try_write_lock());
  l.write_unlock();
}

}  // namespace
}  // namespace uzswap::pool
