// tests/coverage/coverage_rules_test.cpp — the maps parser and the coverage rules.
#include <cstring>

#include <gtest/gtest.h>

#include "preload/coverage_rules.h"
#include "preload/maps_reader.h"

namespace uzswap::preload {
namespace {

MapsLine parse(const char* text) {
  MapsLine l{};
  EXPECT_TRUE(parse_maps_line(text, strlen(text), &l)) << text;
  return l;
}

constexpr size_t kMin = 256 * 1024;

TEST(MapsParse, FieldsOfAnAnonymousLine) {
  MapsLine l = parse("7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(l.begin, 0x7f0000000000u);
  EXPECT_EQ(l.end, 0x7f0000100000u);
  EXPECT_TRUE(l.read && l.write && !l.exec && !l.shared);
  EXPECT_EQ(l.inode, 0u);
  EXPECT_EQ(l.name, MapsName::None);
}

TEST(MapsParse, NamesAndInodes) {
  EXPECT_EQ(parse("55d000000000-55d000400000 rw-p 00000000 00:00 0          [heap]").name, MapsName::Heap);
  EXPECT_EQ(parse("7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0          [stack]").name, MapsName::MainStack);
  EXPECT_EQ(parse("7ffc00100000-7ffc00102000 r--p 00000000 00:00 0          [vvar]").name, MapsName::Special);
  EXPECT_EQ(parse("7f0000000000-7f0000100000 rw-p 00000000 00:00 0 [anon:jit]").name, MapsName::AnonNamed);
  MapsLine f = parse("7f1000000000-7f1000200000 rw-s 00000000 00:05 1234 /dev/zero (deleted)");
  EXPECT_EQ(f.name, MapsName::File);
  EXPECT_EQ(f.inode, 1234u);
  EXPECT_TRUE(f.shared);
}

TEST(MapsParse, RejectsMalformedLines) {
  MapsLine l{};
  for (const char* bad : {"", "zz-10 rw-p 0 00:00 0", "1000 rw-p 0 00:00 0", "1000-2000 rw", "2000-1000 rw-p 0 00:00 0"})
    EXPECT_FALSE(parse_maps_line(bad, strlen(bad), &l)) << bad;
}

TEST(CoverageRules, AnonymousPrivateWritableIsManaged) {
  MapsLine l = parse("7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(l, nullptr, kMin), CoverageVerdict::Manage);
  EXPECT_EQ(classify_maps_line(parse("55d000000000-55d000400000 rw-p 00000000 00:00 0 [heap]"), nullptr, kMin),
            CoverageVerdict::Manage);
}

TEST(CoverageRules, EachExclusionHasItsReason) {
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000100000 rw-s 00000000 00:01 7 /SYSV00000000 (deleted)"), nullptr, kMin),
            CoverageVerdict::Shared);
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000100000 rw-p 00001000 08:01 99 /usr/lib/libc.so.6"), nullptr, kMin),
            CoverageVerdict::FileBacked);
  EXPECT_EQ(classify_maps_line(parse("7ffc00000000-7ffc00100000 rw-p 00000000 00:00 0 [stack]"), nullptr, kMin),
            CoverageVerdict::MainStack);
  EXPECT_EQ(classify_maps_line(parse("7ffc00100000-7ffc00500000 rw-p 00000000 00:00 0 [vvar]"), nullptr, kMin),
            CoverageVerdict::Special);
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000100000 r--p 00000000 00:00 0 "), nullptr, kMin),
            CoverageVerdict::NotReadWrite);
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000100000 ---p 00000000 00:00 0 "), nullptr, kMin),
            CoverageVerdict::NotReadWrite);
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000100000 rwxp 00000000 00:00 0 "), nullptr, kMin),
            CoverageVerdict::NotReadWrite);
  EXPECT_EQ(classify_maps_line(parse("7f0000000000-7f0000010000 rw-p 00000000 00:00 0 "), nullptr, kMin),
            CoverageVerdict::TooSmall);
}

TEST(CoverageRules, ThreadStackAboveItsGuard) {
  MapsLine guard = parse("7f0000000000-7f0000001000 ---p 00000000 00:00 0 ");
  MapsLine stack = parse("7f0000001000-7f0000801000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(stack, &guard, kMin), CoverageVerdict::ThreadStack);
  // Not adjacent, or a big PROT_NONE reservation below (a malloc arena's tail): not a stack.
  MapsLine gap_guard = parse("7effff000000-7effff001000 ---p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(stack, &gap_guard, kMin), CoverageVerdict::Manage);
  MapsLine reservation = parse("7efff0001000-7f0000001000 ---p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(stack, &reservation, kMin), CoverageVerdict::Manage);
  // A guard-sized PROT_NONE file mapping (a library's gap) below is not a guard (but
  // anything directly above a file mapping is left alone as that object's .bss).
  MapsLine lib_gap = parse("7f0000000000-7f0000001000 ---p 00010000 08:01 99 /usr/lib/x.so");
  EXPECT_EQ(classify_maps_line(stack, &lib_gap, kMin), CoverageVerdict::ElfBss);
}

TEST(CoverageRules, ElfBssTailIsNotManaged) {
  MapsLine data = parse("7f0000000000-7f0000002000 rw-p 00020000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6");
  MapsLine bss = parse("7f0000002000-7f0000100000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(bss, &data, 4096), CoverageVerdict::ElfBss);
  MapsLine apart = parse("7f0000003000-7f0000100000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(classify_maps_line(apart, &data, 4096), CoverageVerdict::Manage);
}

TEST(MapsSnapshot, ReadsThisProcessAndFindsItsHeap) {
  void* big = malloc(64 << 20);  // forces at least one more anonymous line
  ASSERT_NE(big, nullptr);
  memset(big, 1, 4096);
  MapsSnapshot s;
  ASSERT_TRUE(s.read());
  ASSERT_GT(s.size(), 5u);
  bool found_big = false, found_stack = false;
  auto addr = reinterpret_cast<uintptr_t>(big);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i].begin <= addr && addr < s[i].end) found_big = classify_maps_line(s[i], i ? &s[i - 1] : nullptr, kMin) == CoverageVerdict::Manage;
    if (s[i].name == MapsName::MainStack) found_stack = true;
    if (i > 0) {
      EXPECT_LE(s[i - 1].end, s[i].begin);
    }
  }
  EXPECT_TRUE(found_big);
  EXPECT_TRUE(found_stack);
  s.release();
  free(big);
}

TEST(StatusFile, ReadsRssAnon) {
  EXPECT_GT(read_status_kb("RssAnon"), 0u);
  EXPECT_EQ(read_status_kb("NoSuchKey"), 0u);
}

}  // namespace
}  // namespace uzswap::preload
