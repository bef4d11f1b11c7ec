// tests/pool/size_class_test.cpp — the size-class table.
#include <gtest/gtest.h>

#include "pool/size_class.h"

namespace uzswap::pool {
namespace {

TEST(SizeClass, EverySizeFitsItsClass) {
  ClassTable t;
  for (size_t size = 1; size <= kPageSize; ++size) {
    const SizeClass& c = t.at(t.class_for(size));
    size_t need = c.huge ? size : size + kObjHeaderSize;
    EXPECT_LE(need, c.size) << size;
  }
}

TEST(SizeClass, ClassesAscendAndAreMultiplesOfTheDelta) {
  ClassTable t;
  ASSERT_GT(t.count(), 10u);
  for (size_t i = 0; i < t.count(); ++i) {
    EXPECT_EQ(t.at(i).index, i);
    EXPECT_EQ(t.at(i).size % kClassDelta, 0u);
    if (i) {
      EXPECT_GT(t.at(i).size, t.at(i - 1).size);
    }
  }
  EXPECT_EQ(t.at(0).size, kMinClassSize);
  EXPECT_EQ(t.at(t.count() - 1).size, kPageSize);
}

TEST(SizeClass, ShapeFitsTheZspage) {
  ClassTable t;
  for (size_t i = 0; i < t.count(); ++i) {
    const SizeClass& c = t.at(i);
    EXPECT_GE(c.pages_per_zspage, 1u);
    EXPECT_LE(c.pages_per_zspage, kMaxPagesPerZspage);
    EXPECT_EQ(c.objs_per_zspage, c.pages_per_zspage * kPageSize / c.size);
    EXPECT_LE(c.objs_per_zspage, kMaxObjsPerZspage);
    EXPECT_EQ(c.huge, c.objs_per_zspage == 1);
  }
}

TEST(SizeClass, NearPageSizeObjectsGoToTheRawHugeClass) {
  ClassTable t;
  const SizeClass& last = t.at(t.count() - 1);
  EXPECT_TRUE(last.huge);
  EXPECT_EQ(last.pages_per_zspage, 1u);
  EXPECT_EQ(t.class_for(kPageSize), last.index);
  EXPECT_EQ(t.class_for(kPageSize - kObjHeaderSize + 1), last.index);
  // As in zsmalloc, classes that would hold one object a zspage merge into the huge
  // class (the raw steps above ~3.6 KiB); smaller objects share zspages.
  EXPECT_TRUE(t.at(t.class_for(kPageSize - 64)).huge);
  EXPECT_FALSE(t.at(t.class_for(3000)).huge);
  EXPECT_FALSE(t.at(t.count() - 2).huge);
}

TEST(SizeClass, MergedClassesShareTheirShape) {
  ClassTable t;
  // Fewer classes than 16-byte steps: zsmalloc-style merging happened...
  EXPECT_LT(t.count(), kNumRawClasses);
  // ...and every raw step maps to the smallest class that holds it.
  for (size_t raw = 0; raw < kNumRawClasses; ++raw) {
    size_t need = kMinClassSize + raw * kClassDelta;
    size_t size = need - kObjHeaderSize;
    const SizeClass& c = t.at(t.class_for(size));
    EXPECT_EQ(c.pages_per_zspage, pages_per_zspage_for(c.size));
    if (c.index > 0) {
      EXPECT_GT(need, t.at(c.index - 1).size) << need;
    }
    // Raw steps merged into c would have had the same zspage shape.
    uint16_t pages = pages_per_zspage_for(need);
    if (!c.huge) {
      EXPECT_EQ(pages, c.pages_per_zspage) << need;
      EXPECT_EQ(pages * kPageSize / need, c.objs_per_zspage) << need;
    }
  }
}

TEST(SizeClass, PagesPerZspageMatchesZsmalloc) {
  // Hand-computed from zsmalloc's get_pages_per_zspage() with 8 pages a chain.
  EXPECT_EQ(pages_per_zspage_for(32), 1u);     // 128 per page, no waste
  EXPECT_EQ(pages_per_zspage_for(4096), 1u);
  EXPECT_EQ(pages_per_zspage_for(3072), 3u);   // 4 objects in 3 pages, no waste
  EXPECT_EQ(pages_per_zspage_for(2048 + 16), 8u);
}

}  // namespace
}  // namespace uzswap::pool
