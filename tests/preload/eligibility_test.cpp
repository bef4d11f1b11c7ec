// tests/preload/eligibility_test.cpp — which mappings are handed to the engine.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include "preload/eligibility.h"

namespace uzswap::preload {
namespace {

constexpr size_t kMin = 256 << 10;
constexpr int kRw = PROT_READ | PROT_WRITE;
constexpr int kAnonPrivate = MAP_ANONYMOUS | MAP_PRIVATE;

TEST(Eligibility, AnonymousPrivateWritableLargeEnough) {
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate, -1, kMin), MappingVerdict::Manage);
  EXPECT_EQ(classify_mapping(kMin - 100, kRw, kAnonPrivate, -1, kMin), MappingVerdict::Manage);  // rounds up
  EXPECT_EQ(classify_mapping(1 << 30, kRw | PROT_EXEC, kAnonPrivate | MAP_NORESERVE | MAP_POPULATE, -1, kMin),
            MappingVerdict::Manage);
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate | MAP_FIXED, -1, kMin), MappingVerdict::Manage);
}

TEST(Eligibility, EverythingElseIsLeftAlone) {
  EXPECT_EQ(classify_mapping(kMin - 4096, kRw, kAnonPrivate, -1, kMin), MappingVerdict::TooSmall);
  EXPECT_EQ(classify_mapping(kMin, kRw, MAP_PRIVATE, 3, kMin), MappingVerdict::NotAnonymous);
  EXPECT_EQ(classify_mapping(kMin, kRw, MAP_ANONYMOUS | MAP_SHARED, -1, kMin), MappingVerdict::Shared);
  EXPECT_EQ(classify_mapping(kMin, kRw, MAP_ANONYMOUS | MAP_SHARED_VALIDATE, -1, kMin), MappingVerdict::Shared);
  EXPECT_EQ(classify_mapping(kMin, PROT_NONE, kAnonPrivate, -1, kMin), MappingVerdict::NotWritable);
  EXPECT_EQ(classify_mapping(kMin, PROT_READ, kAnonPrivate, -1, kMin), MappingVerdict::NotWritable);
  EXPECT_EQ(classify_mapping(kMin, PROT_WRITE, kAnonPrivate, -1, kMin), MappingVerdict::NotWritable);
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate | MAP_STACK, -1, kMin), MappingVerdict::Stack);
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate | MAP_GROWSDOWN, -1, kMin), MappingVerdict::Stack);
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate | MAP_HUGETLB, -1, kMin), MappingVerdict::HugeTlb);
  EXPECT_EQ(classify_mapping(kMin, kRw, kAnonPrivate | MAP_LOCKED, -1, kMin), MappingVerdict::Locked);
}

}  // namespace
}  // namespace uzswap::preload
