// tests/preload/options_test.cpp — the option table, every value parser and every
// bad-value path of options_parse (one warning line naming the variable, the bad value and
// the default kept).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "preload/option_values.h"
#include "preload/options.h"

namespace uzswap::preload {
namespace {

constexpr uint64_t kRam = 8ull << 30;

struct Parsed {
  Options options;
  std::vector<std::string> warnings;
};

void collect(const char* line, void* ctx) { static_cast<std::vector<std::string>*>(ctx)->push_back(line); }

Parsed parse(std::vector<const char*> env) {
  env.push_back(nullptr);
  Parsed p;
  OptionEnv e{env.data(), kRam, collect, &p.warnings};
  int n = options_parse(e, &p.options);
  EXPECT_EQ(static_cast<size_t>(n), p.warnings.size());
  return p;
}

TEST(OptionValues, Sizes) {
  uint64_t v = 0;
  const char* why = nullptr;
  struct Case { const char* text; uint64_t bytes; } ok[] = {
      {"0", 0}, {"4096", 4096}, {"64K", 64 << 10}, {"64k", 64 << 10}, {"256M", 256ull << 20},
      {"256MiB", 256ull << 20}, {"256mb", 256ull << 20}, {"1.5G", 3ull << 29}, {"2T", 2ull << 40},
      {"12B", 12}, {"25%", kRam / 4}, {"12.5%", kRam / 8}, {"100%", kRam}};
  for (const Case& c : ok) {
    ASSERT_TRUE(parse_size(c.text, kRam, &v, &why)) << c.text;
    EXPECT_EQ(v, c.bytes) << c.text;
  }
  for (const char* bad : {"", "M", "-1", "12Q", "1 G", "0x10", "1.5.5", "101%", "5%%", "12KK", "1Gi", "1e9",
                          "1234567890123456789012"}) {
    EXPECT_FALSE(parse_size(bad, kRam, &v, &why)) << bad;
    EXPECT_NE(why, nullptr);
  }
  EXPECT_FALSE(parse_size("10%", 0, &v, &why));  // no RAM figure: no percentages
}

TEST(OptionValues, SecondsIntsBoolsChoices) {
  double s = 0;
  const char* why = nullptr;
  ASSERT_TRUE(parse_seconds("30", &s, &why)); EXPECT_DOUBLE_EQ(s, 30);
  ASSERT_TRUE(parse_seconds("1.5", &s, &why)); EXPECT_DOUBLE_EQ(s, 1.5);
  ASSERT_TRUE(parse_seconds("250ms", &s, &why)); EXPECT_DOUBLE_EQ(s, 0.25);
  ASSERT_TRUE(parse_seconds("2s", &s, &why)); EXPECT_DOUBLE_EQ(s, 2);
  ASSERT_TRUE(parse_seconds("5m", &s, &why)); EXPECT_DOUBLE_EQ(s, 300);
  ASSERT_TRUE(parse_seconds("1h", &s, &why)); EXPECT_DOUBLE_EQ(s, 3600);
  for (const char* bad : {"", "s", "-1", "1d", "fast", "1 s"}) EXPECT_FALSE(parse_seconds(bad, &s, &why)) << bad;

  int64_t i = 0;
  ASSERT_TRUE(parse_int("42", &i, &why)); EXPECT_EQ(i, 42);
  ASSERT_TRUE(parse_int("-3", &i, &why)); EXPECT_EQ(i, -3);
  for (const char* bad : {"", "-", "4.2", "4k", "abc", "99999999999999999999"}) EXPECT_FALSE(parse_int(bad, &i, &why)) << bad;

  bool b = false;
  for (const char* t : {"1", "yes", "TRUE", "on"}) { ASSERT_TRUE(parse_bool(t, &b, &why)) << t; EXPECT_TRUE(b); }
  for (const char* f : {"0", "No", "false", "OFF"}) { ASSERT_TRUE(parse_bool(f, &b, &why)) << f; EXPECT_FALSE(b); }
  for (const char* bad : {"", "2", "y", "enable"}) EXPECT_FALSE(parse_bool(bad, &b, &why)) << bad;

  int c = -1;
  ASSERT_TRUE(parse_choice("lz4", "lz4|zstd", &c, &why)); EXPECT_EQ(c, 0);
  ASSERT_TRUE(parse_choice("ZSTD", "lz4|zstd", &c, &why)); EXPECT_EQ(c, 1);
  for (const char* bad : {"", "lz", "lz4|zstd", "zstd ", "gzip"}) EXPECT_FALSE(parse_choice(bad, "lz4|zstd", &c, &why)) << bad;
}

TEST(Options, EveryDefaultParsesAndMatchesTheEngineDefaults) {
  for (size_t i = 0; i < kNumOptions; ++i) {
    const OptionSpec& s = option_spec(static_cast<OptionId>(i));
    std::string entry = std::string(s.env_name) + "=" + s.default_text;
    Parsed p = parse({entry.c_str()});
    EXPECT_TRUE(p.warnings.empty()) << entry << ": " << (p.warnings.empty() ? "" : p.warnings[0]);
    EXPECT_EQ(p.options.source[i], OptionSource::Environment);
  }
  EngineConfig from_options = options_engine_config(options_defaults(kRam));
  EngineConfig engine_default;
  EXPECT_EQ(from_options.limit_bytes, engine_default.limit_bytes);
  EXPECT_EQ(from_options.cold_age_seconds, engine_default.cold_age_seconds);
  EXPECT_EQ(from_options.pool_limit_bytes, engine_default.pool_limit_bytes);
  EXPECT_EQ(from_options.compressor, engine_default.compressor);
  EXPECT_EQ(from_options.handler_threads, engine_default.handler_threads);
  EXPECT_EQ(from_options.reclaim_threads, engine_default.reclaim_threads);
  EXPECT_EQ(from_options.force_copy_evict, engine_default.force_copy_evict);
  EXPECT_EQ(from_options.reject_threshold, engine_default.reject_threshold);
}

TEST(Options, EveryOptionIsReadAndMapped) {
  Parsed p = parse({"UZSWAP_LIMIT=256M", "UZSWAP_COLD_AGE=30", "UZSWAP_POOL_LIMIT=10%", "UZSWAP_COMPRESSOR=zstd",
                    "UZSWAP_HANDLERS=2", "UZSWAP_RECLAIMERS=3", "UZSWAP_EVICT=copy", "UZSWAP_REJECT_THRESHOLD=2048",
                    "UZSWAP_MIN_MAPPING=1M", "UZSWAP_VERBOSE=3", "UZSWAP_SHOW_STATS=yes", "UZSWAP_BACKTRACE=off", "UZSWAP_DISABLE=1",
                    "UZSWAP_STATS=off", "UZSWAP_STATS_DIR=/tmp/x", "UZSWAP_COVERAGE=0",
                    "UZSWAP_COVERAGE_INTERVAL=250ms", "UZSWAP_THROTTLE=off", "UZSWAP_FORK_TAKEOVER=1", "PATH=/bin",
                    "UZSWAPX=1"});
  ASSERT_TRUE(p.warnings.empty()) << p.warnings[0];
  const Options& o = p.options;
  EXPECT_EQ(o.limit, 256ull << 20);
  EXPECT_DOUBLE_EQ(o.cold_age, 30);
  EXPECT_EQ(o.pool_limit, kRam / 10);
  EXPECT_EQ(o.compressor, static_cast<int>(CompressorChoice::Zstd));
  EXPECT_EQ(o.handlers, 2);
  EXPECT_EQ(o.reclaimers, 3);
  EXPECT_EQ(o.evict, static_cast<int>(EvictChoice::Copy));
  EXPECT_EQ(o.reject_threshold, 2048);
  EXPECT_EQ(o.min_mapping, 1ull << 20);
  EXPECT_EQ(o.verbose, 3);
  EXPECT_TRUE(o.show_stats);
  EXPECT_FALSE(o.backtrace);
  EXPECT_TRUE(o.disable);
  EXPECT_FALSE(o.stats);
  EXPECT_STREQ(o.stats_dir, "/tmp/x");
  EXPECT_FALSE(o.coverage);
  EXPECT_DOUBLE_EQ(o.coverage_interval, 0.25);
  EXPECT_FALSE(o.throttle);
  EXPECT_TRUE(o.fork_takeover);
  for (size_t i = 0; i < kNumOptions; ++i) EXPECT_EQ(o.source[i], OptionSource::Environment) << i;

  EngineConfig c = options_engine_config(o);
  EXPECT_EQ(c.limit_bytes, 256ull << 20);
  EXPECT_DOUBLE_EQ(c.cold_age_seconds, 30);
  EXPECT_EQ(c.pool_limit_bytes, kRam / 10);
  EXPECT_EQ(c.compressor, pool::CompressorKind::Zstd);
  EXPECT_EQ(c.handler_threads, 2);
  EXPECT_EQ(c.reclaim_threads, 3);
  EXPECT_TRUE(c.force_copy_evict);
  EXPECT_EQ(c.reject_threshold, 2048u);
  EXPECT_FALSE(c.throttle);
}

// Every bad value of every option: exactly one line, naming the variable and the value,
// saying which default is kept; the option keeps its default.
TEST(Options, BadValuesWarnOnceAndKeepTheDefault) {
  struct Case { const char* entry; const char* name; const char* value; } cases[] = {
      {"UZSWAP_LIMIT=12Q", "UZSWAP_LIMIT", "12Q"},
      {"UZSWAP_LIMIT=101%", "UZSWAP_LIMIT", "101%"},
      {"UZSWAP_LIMIT=", "UZSWAP_LIMIT", ""},
      {"UZSWAP_COLD_AGE=soon", "UZSWAP_COLD_AGE", "soon"},
      {"UZSWAP_COLD_AGE=99999999", "UZSWAP_COLD_AGE", "99999999"},
      {"UZSWAP_POOL_LIMIT=-5M", "UZSWAP_POOL_LIMIT", "-5M"},
      {"UZSWAP_COMPRESSOR=gzip", "UZSWAP_COMPRESSOR", "gzip"},
      {"UZSWAP_HANDLERS=1000", "UZSWAP_HANDLERS", "1000"},
      {"UZSWAP_HANDLERS=two", "UZSWAP_HANDLERS", "two"},
      {"UZSWAP_RECLAIMERS=0", "UZSWAP_RECLAIMERS", "0"},
      {"UZSWAP_EVICT=swap", "UZSWAP_EVICT", "swap"},
      {"UZSWAP_REJECT_THRESHOLD=5000", "UZSWAP_REJECT_THRESHOLD", "5000"},
      {"UZSWAP_REJECT_THRESHOLD=0", "UZSWAP_REJECT_THRESHOLD", "0"},
      {"UZSWAP_MIN_MAPPING=1K", "UZSWAP_MIN_MAPPING", "1K"},
      {"UZSWAP_VERBOSE=4", "UZSWAP_VERBOSE", "4"},
      {"UZSWAP_SHOW_STATS=maybe", "UZSWAP_SHOW_STATS", "maybe"},
      {"UZSWAP_DISABLE=2", "UZSWAP_DISABLE", "2"},
      {"UZSWAP_STATS=y", "UZSWAP_STATS", "y"},
      {"UZSWAP_STATS_DIR=", "UZSWAP_STATS_DIR", ""},
  };
  Options defaults = options_defaults(kRam);
  for (const Case& c : cases) {
    Parsed p = parse({c.entry});
    ASSERT_EQ(p.warnings.size(), 1u) << c.entry;
    const std::string& w = p.warnings[0];
    EXPECT_EQ(w.rfind(std::string(c.name) + "=" + c.value + ":", 0), 0u) << w;
    const OptionSpec* spec = option_find(c.name, strlen(c.name));
    ASSERT_NE(spec, nullptr);
    EXPECT_NE(w.find(std::string("keeping the default ") + spec->default_text), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos);
    size_t index = static_cast<size_t>(spec - &option_spec(static_cast<OptionId>(0)));
    EXPECT_EQ(p.options.source[index], OptionSource::Default) << c.entry;
  }
  Parsed p = parse({"UZSWAP_LIMIT=lots", "UZSWAP_HANDLERS=-1"});
  EXPECT_EQ(p.warnings.size(), 2u);
  EXPECT_EQ(p.options.limit, defaults.limit);
  EXPECT_EQ(p.options.handlers, defaults.handlers);
}

TEST(Options, UnknownVariablesWarnButTestDriversDoNot) {
  Parsed p = parse({"UZSWAP_LIMT=256M", "UZSWAP_STRESS_SECONDS=5", "UZSWAP_TEST_X=1", "UZSWAP_BENCH_Y=2"});
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0].rfind("UZSWAP_LIMT is not a uzswap option", 0), 0u) << p.warnings[0];
  EXPECT_EQ(p.options.limit, 0u);
}

TEST(Options, LaterEntriesWinAndValueTextRoundTrips) {
  Parsed p = parse({"UZSWAP_LIMIT=1G", "UZSWAP_LIMIT=512M"});
  EXPECT_EQ(p.options.limit, 512ull << 20);
  char buf[96];
  EXPECT_STREQ(option_value_text(p.options, OptionId::limit, buf, sizeof buf), "536870912 (512.0 MiB)");
  EXPECT_STREQ(option_value_text(p.options, OptionId::compressor, buf, sizeof buf), "lz4");
  EXPECT_STREQ(option_value_text(p.options, OptionId::evict, buf, sizeof buf), "move");
  EXPECT_STREQ(option_value_text(p.options, OptionId::show_stats, buf, sizeof buf), "0");
}

}  // namespace
}  // namespace uzswap::preload
