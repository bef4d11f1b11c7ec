// tests/tools/stats_export_test.cpp — the stats export inside this process: the region
// file, counters relocated into it, gauges under the seqlock, restart and fail-open.
// Regions are read back through a separate read-only mapping with zsstat's parser.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/counters.h"
#include "common/histogram.h"
#include "preload/stats_export.h"
#include "preload/stats_gauges.h"
#include "preload/stats_region.h"
#include "tests/tools/proc_util.h"
#include "tools/region_dir.h"
#include "tools/region_reader.h"

namespace uzswap {
namespace {

using testing::StatsDir;
using zsstat::MappedFile;
using zsstat::Snapshot;

Snapshot read_back(const char* path) {
  MappedFile map;
  std::string why;
  Snapshot s;
  EXPECT_TRUE(map.open(path, &why)) << why;
  if (!map.data()) return s;
  zsstat::ParseResult r = zsstat::parse_region(map.data(), map.size(), &s);
  EXPECT_TRUE(r.ok()) << r.message;
  return s;
}

int stress_seconds() {
  const char* e = getenv("UZSWAP_STRESS_SECONDS");
  int s = e ? atoi(e) : 10;
  return s < 1 ? 1 : s > 10 ? 10 : s;
}

class StatsExport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    StatsExportOptions o;
    o.dir = dir_.path().c_str();
    ASSERT_TRUE(stats_export_start(o));
    ASSERT_NE(stats_export_path(), nullptr);
  }
  void TearDown() override {
    stats_export_set_source(nullptr, nullptr);
    stats_export_stop();
  }
  StatsDir dir_;
};

TEST_F(StatsExport, RegionIsPrivateNamedForTheProcessAndGoesAwayOnStop) {
  std::string path = stats_export_path();
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, getuid());
  zsstat::RegionFile f;
  ASSERT_TRUE(zsstat::parse_region_name(path.substr(path.rfind('/') + 1), &f));
  EXPECT_EQ(f.pid, getpid());
  EXPECT_EQ(f.uid, getuid());
  EXPECT_EQ(f.start_time, stats::self_start_time());
  EXPECT_NE(f.start_time, 0u);

  Snapshot s = read_back(path.c_str());
  EXPECT_EQ(s.pid, getpid());
  EXPECT_NE(s.command.find("tools_stats_export_test"), std::string::npos) << s.command;
  ASSERT_EQ(s.counters.size(), kNumCounters);
  for (size_t i = 0; i < kNumCounters; ++i) {
    EXPECT_EQ(s.counters[i].name, counter_info(static_cast<Counter>(i)).name);
    EXPECT_EQ(s.counters[i].help, counter_info(static_cast<Counter>(i)).help);
  }
  ASSERT_EQ(s.histograms.size(), kNumHistograms);
  ASSERT_EQ(s.gauges.size(), stats::kNumGauges);
  EXPECT_GE(s.publish_count, 1u);

  stats_export_stop();
  EXPECT_EQ(stats_export_path(), nullptr);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the region file must go with stop";
  EXPECT_TRUE(zsstat::list_region_files(dir_.path()).empty());
}

TEST_F(StatsExport, CountersAndHistogramsAreWrittenStraightIntoTheRegion) {
  Snapshot before = read_back(stats_export_path());
  UZ_COUNT_N(pool_alloc, 5);
  UZ_COUNT(pool_free);
  histogram_record(Histogram::fault_pool, 5000);  // bucket 12: [4096, 8192) ns
  Snapshot after = read_back(stats_export_path());  // no publish: counters are live
  EXPECT_EQ(*after.counter("pool_alloc") - *before.counter("pool_alloc"), 5u);
  EXPECT_EQ(*after.counter("pool_free") - *before.counter("pool_free"), 1u);
  for (const zsstat::HistogramValue& h : after.histograms)
    if (h.name == "fault_pool") {
      EXPECT_GE(h.buckets[12], 1u);
    }
}

void fixed_source(void* ctx, stats::GaugeFrame* f) {
  f->set(stats::Gauge::stored_pages, 123);
  f->set(stats::Gauge::limit_bytes, 256ull << 20);
  f->num_classes = 3;
  for (uint32_t r = 0; r < 3; ++r)
    for (size_t c = 0; c < stats::kNumClassColumns; ++c) f->classes[r][c] = r * 100 + c;
  ++*static_cast<int*>(ctx);
}

TEST_F(StatsExport, GaugesClassesAndOptionsArePublished) {
  int calls = 0;
  stats_export_set_source(fixed_source, &calls);
  stats_export_set_options("limit=256M\ncompressor=lz4\n");
  Snapshot s = read_back(stats_export_path());
  EXPECT_EQ(s.gauge("stored_pages"), 123u);
  EXPECT_EQ(s.gauge("limit_bytes"), 256ull << 20);
  EXPECT_EQ(s.gauge("engine_attached"), 0u);
  ASSERT_EQ(s.classes.size(), 3u);
  EXPECT_EQ(s.classes[2][1], 201u);
  EXPECT_EQ(s.class_columns[0], "index");
  EXPECT_EQ(s.options, "limit=256M\ncompressor=lz4\n");
  // After set_source(nullptr) returns, the old source is never called again.
  stats_export_set_source(nullptr, nullptr);
  int frozen = calls;
  stats_export_publish_now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(calls, frozen);
  EXPECT_EQ(read_back(stats_export_path()).gauge("stored_pages"), 0u);
}

// Every publish sets all gauges and class cells to the same value: a torn copy would
// show two values. Writers hammer the counters meanwhile; the sums must add up.
std::atomic<uint64_t> g_generation{0};
void generation_source(void*, stats::GaugeFrame* f) {
  uint64_t k = g_generation.fetch_add(1) + 1;
  for (uint64_t& v : f->value) v = k;
  f->num_classes = static_cast<uint32_t>(k % stats::kMaxClasses);
  for (uint32_t r = 0; r < f->num_classes; ++r)
    for (uint64_t& v : f->classes[r]) v = k;
}

TEST_F(StatsExport, SeqlockReadersNeverSeeATornSnapshot) {
  stats_export_set_source(generation_source, nullptr);
  std::atomic<bool> stop{false};
  constexpr int kWriters = 2;
  std::atomic<uint64_t> done[kWriters] = {};
  Snapshot base = read_back(stats_export_path());
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    while (!stop.load()) stats_export_publish_now();
  });
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      while (!stop.load()) {
        UZ_COUNT(pool_compact_runs);
        done[w].fetch_add(1);
      }
    });
  MappedFile map;
  std::string why;
  ASSERT_TRUE(map.open(stats_export_path(), &why)) << why;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(stress_seconds()) / 2;
  uint64_t snapshots = 0, busy = 0, last = 0;
  while (std::chrono::steady_clock::now() < until) {
    Snapshot s;
    zsstat::ParseResult r = zsstat::parse_region(map.data(), map.size(), &s, 200);
    if (r.error == zsstat::ParseError::Busy) {
      ++busy;
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.message;
    uint64_t k = s.gauges[0].value;
    for (const zsstat::NamedValue& g : s.gauges) ASSERT_EQ(g.value, k);
    ASSERT_EQ(s.classes.size(), k % stats::kMaxClasses);
    for (const auto& row : s.classes)
      for (uint64_t v : row) ASSERT_EQ(v, k);
    ASSERT_GE(k, last) << "snapshots go forward";
    last = k;
    ++snapshots;
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_GT(snapshots, 10u);
  EXPECT_LT(busy, snapshots);
  Snapshot end = read_back(stats_export_path());
  EXPECT_EQ(*end.counter("pool_compact_runs") - *base.counter("pool_compact_runs"), done[0].load() + done[1].load())
      << "every increment lands in the region exactly once";
}

TEST_F(StatsExport, RestartAfterStopMakesANewRegionAndKeepsCounters) {
  UZ_COUNT_N(pool_migrate_pages, 7);
  uint64_t before = counter_read(Counter::pool_migrate_pages);
  stats_export_stop();
  StatsExportOptions o;
  o.dir = dir_.path().c_str();
  ASSERT_TRUE(stats_export_start(o));
  Snapshot s = read_back(stats_export_path());
  EXPECT_EQ(*s.counter("pool_migrate_pages"), before);
  EXPECT_EQ(zsstat::list_region_files(dir_.path()).size(), 1u);
}

TEST(StatsExportFailOpen, UnusableDirectoryDisablesTheExportOnly) {
  stats_export_stop();
  StatsExportOptions o;
  o.dir = "/nonexistent-uzswap-dir/sub";
  EXPECT_FALSE(stats_export_start(o));
  EXPECT_EQ(stats_export_path(), nullptr);
  uint64_t before = counter_read(Counter::pool_free);
  UZ_COUNT(pool_free);  // counting goes on
  EXPECT_EQ(counter_read(Counter::pool_free), before + 1);
  stats_export_publish_now();
  stats_export_set_options("x=1\n");
  stats_export_stop();
}

}  // namespace
}  // namespace uzswap
