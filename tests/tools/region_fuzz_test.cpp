// tests/tools/region_fuzz_test.cpp — zsstat's parser against bad regions: named cases
// (truncated at every length, foreign, newer version, corrupt fields, a publish that
// never ends) and many random mutations of a real region. The parser must return an
// error with a message or a snapshot the views can print; it must never crash or read
// outside the buffer (run under ASan by scripts/test.sh).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/counters.h"
#include "common/histogram.h"
#include "preload/stats_export.h"
#include "preload/stats_gauges.h"
#include "preload/stats_layout.h"
#include "tests/tools/proc_util.h"
#include "tools/region_reader.h"
#include "tools/views.h"

namespace uzswap {
namespace {

using zsstat::ParseError;
using zsstat::ParseResult;

void busy_source(void*, stats::GaugeFrame* f) {
  for (size_t i = 0; i < stats::kNumGauges; ++i) f->value[i] = i * 1000 + 7;
  f->num_classes = 40;
  for (uint32_t r = 0; r < 40; ++r)
    for (size_t c = 0; c < stats::kNumClassColumns; ++c) f->classes[r][c] = r + c;
}

// A real region, published by this process, copied into an 8-byte aligned buffer.
class RegionFuzz : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::StatsDir dir;
    StatsExportOptions o;
    o.dir = dir.path().c_str();
    ASSERT_TRUE(stats_export_start(o));
    stats_export_set_source(busy_source, nullptr);
    stats_export_set_options("limit=1G\ncompressor=lz4\n");
    UZ_COUNT_N(pool_alloc, 1234);
    histogram_record(Histogram::fault_pool, 3000);
    stats_export_publish_now();
    std::ifstream in(stats_export_path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    stats_export_set_source(nullptr, nullptr);
    stats_export_stop();
    seed_ = new std::vector<uint64_t>((bytes.size() + 7) / 8);
    memcpy(seed_->data(), bytes.data(), bytes.size());
    seed_size_ = bytes.size();
  }
  static void TearDownTestSuite() { delete seed_; }

  static ParseResult parse(const std::vector<uint64_t>& buf, size_t size, zsstat::Snapshot* s) {
    return zsstat::parse_region(reinterpret_cast<const uint8_t*>(buf.data()), size, s, 1);
  }
  static std::vector<uint64_t> copy() { return *seed_; }
  static uint8_t* bytes(std::vector<uint64_t>& v) { return reinterpret_cast<uint8_t*>(v.data()); }
  static stats::RegionHeader* header(std::vector<uint64_t>& v) {
    return reinterpret_cast<stats::RegionHeader*>(v.data());
  }
  // Every path a parsed snapshot can take through zsstat's views.
  static void render(const zsstat::Snapshot& s) {
    FILE* null = fopen("/dev/null", "w");
    ASSERT_NE(null, nullptr);
    zsstat::print_process(null, s, nullptr, true);
    zsstat::print_classes(null, s, true);
    std::vector<double> rates(s.counters.size(), 1.5);
    zsstat::print_process(null, s, &rates, false);
    fclose(null);
    EXPECT_FALSE(zsstat::json_process(s, &rates).empty());
  }

  static std::vector<uint64_t>* seed_;
  static size_t seed_size_;
};
std::vector<uint64_t>* RegionFuzz::seed_ = nullptr;
size_t RegionFuzz::seed_size_ = 0;

TEST_F(RegionFuzz, TheSeedParses) {
  zsstat::Snapshot s;
  std::vector<uint64_t> buf = copy();
  ParseResult r = parse(buf, seed_size_, &s);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(s.counter("pool_alloc"), 1234u);
  EXPECT_EQ(s.classes.size(), 40u);
  EXPECT_EQ(s.gauges[3].value, 3007u);
  render(s);
}

TEST_F(RegionFuzz, EveryTruncationIsReportedAsTruncated) {
  std::vector<uint64_t> buf = copy();
  for (size_t len = 0; len < seed_size_; len += (len < 4096 ? 1 : 61)) {
    zsstat::Snapshot s;
    ParseResult r = parse(buf, len, &s);
    ASSERT_EQ(r.error, ParseError::Truncated) << len << ": " << r.message;
    ASSERT_FALSE(r.message.empty());
  }
}

TEST_F(RegionFuzz, NamedBadRegionsGetTheirOwnError) {
  zsstat::Snapshot s;
  std::vector<uint64_t> zero(seed_->size(), 0);
  EXPECT_EQ(parse(zero, seed_size_, &s).error, ParseError::Uninitialised);

  std::vector<uint64_t> foreign = copy();
  memcpy(bytes(foreign), "\x7f" "ELF\2\1\1\0", 8);
  EXPECT_EQ(parse(foreign, seed_size_, &s).error, ParseError::NotARegion);

  std::vector<uint64_t> newer = copy();
  header(newer)->version = stats::kRegionVersion + 1;
  ParseResult r = parse(newer, seed_size_, &s);
  EXPECT_EQ(r.error, ParseError::NewerVersion);
  EXPECT_NE(r.message.find("newer"), std::string::npos);

  std::vector<uint64_t> bad = copy();
  header(bad)->counters.offset = seed_size_ - 8;
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);

  bad = copy();
  header(bad)->num_counters += 1;  // the names table no longer matches
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);

  bad = copy();
  bytes(bad)[header(bad)->names.offset] = '\033';  // terminal escape in a name
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);

  bad = copy();
  memset(header(bad)->command, 'x', sizeof header(bad)->command);  // unterminated
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);

  bad = copy();
  header(bad)->counter_row_stride = 0xfffffff8u;  // rows * stride overflows the section
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);

  bad = copy();
  auto* gh = reinterpret_cast<stats::GaugeSectionHeader*>(bytes(bad) + header(bad)->gauges.offset);
  gh->seq |= 1;  // a publish that never finishes
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Busy);
  gh->seq += 1;
  gh->num_classes = header(bad)->max_classes + 1;
  EXPECT_EQ(parse(bad, seed_size_, &s).error, ParseError::Corrupt);
}

// Mutations to run: $UZSWAP_FUZZ_ITERATIONS, else 20000 (4000 under TSan, which makes
// each copy of the ~80 KiB region slow).
int fuzz_iterations() {
  if (const char* e = getenv("UZSWAP_FUZZ_ITERATIONS")) return atoi(e);
#ifdef UZSWAP_TSAN
  return 4000;
#else
  return 20000;
#endif
}

// Random mutations: byte flips, header words, lengths, and pure noise.
TEST_F(RegionFuzz, RandomMutationsNeverCrash) {
  std::mt19937_64 rng(20261124);
  const int iterations = fuzz_iterations();
  const size_t header_words = sizeof(stats::RegionHeader) / 8;
  int ok = 0, failed = 0;
  for (int iter = 0; iter < iterations; ++iter) {
    std::vector<uint64_t> buf = copy();
    size_t size = seed_size_;
    switch (iter % 5) {
      case 0:  // a few random bytes anywhere
        for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) bytes(buf)[rng() % size] = static_cast<uint8_t>(rng());
        break;
      case 1:  // one header word set to a random or boundary value
        buf[1 + rng() % (header_words - 1)] =
            (rng() & 1) ? rng() : (uint64_t{1} << (rng() % 64)) - (rng() % 3);
        break;
      case 2:  // a single bit in the header or names
        bytes(buf)[rng() % (header(buf)->counters.offset)] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 3:  // a random length
        size = rng() % (size + 1);
        break;
      case 4:  // noise after a valid magic and version
        for (size_t w = 2; w < buf.size(); ++w) buf[w] = (rng() % 4 == 0) ? rng() : 0;
        break;
    }
    zsstat::Snapshot s;
    ParseResult r = parse(buf, size, &s);
    if (r.ok()) {
      ++ok;
      render(s);
    } else {
      ++failed;
      ASSERT_FALSE(r.message.empty());
      ASSERT_EQ(r.message.find('\n'), std::string::npos) << "one line";
    }
  }
  EXPECT_GT(ok, iterations / 200) << "mutations of unchecked bytes (values, help text) still parse";
  EXPECT_GT(failed, iterations / 20);
}

}  // namespace
}  // namespace uzswap
