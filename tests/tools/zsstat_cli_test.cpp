// tests/tools/zsstat_cli_test.cpp — the zsstat binary against live publishers
// (tests/tools/stats_publisher.cpp): listing, summary, classes, watch rates, the JSON
// schema, fork, stale regions, bad input and the help text.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/counters.h"
#include "preload/stats_gauges.h"
#include "preload/stats_layout.h"
#include "tests/tools/json_mini.h"
#include "tests/tools/proc_util.h"
#include "tools/region_dir.h"

namespace uzswap {
namespace {

using testing::Background;
using testing::JsonParser;
using testing::JsonValue;
using testing::RunResult;
using testing::StatsDir;

const std::string kZsstat = ZSSTAT_BIN;
const std::string kPublisher = PUBLISHER_BIN;
const std::string kSourceDir = SOURCE_DIR;

class Zsstat : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::string env_dir() const { return "UZSWAP_STATS_DIR=" + dir_.path(); }
  RunResult zsstat(std::vector<std::string> args) {
    args.insert(args.begin(), kZsstat);
    return testing::run(args, {env_dir()});
  }
  // Starts a publisher; returns its "ready" pids and region paths (two with --fork).
  std::unique_ptr<Background> publisher(std::vector<std::string> args, int ready_lines = 1,
                                        std::vector<std::pair<int, std::string>>* ready = nullptr) {
    args.insert(args.begin(), kPublisher);
    auto bg = std::make_unique<Background>(args, std::vector<std::string>{env_dir()});
    for (int i = 0; i < ready_lines; ++i) {
      std::string line = bg->read_line();
      EXPECT_EQ(line.rfind("ready ", 0), 0u) << "publisher said: '" << line << "'";
      std::istringstream in(line.substr(6));
      int pid = 0;
      std::string path;
      in >> pid >> path;
      if (ready) ready->push_back({pid, path});
    }
    return bg;
  }
  JsonValue json_of(const std::vector<std::string>& args) {
    RunResult r = zsstat(args);
    EXPECT_EQ(r.status, 0) << r.err;
    JsonValue v;
    EXPECT_TRUE(JsonParser(r.out).parse(&v)) << r.out;
    return v;
  }
  StatsDir dir_;
};

bool tools_list_empty(const std::string& dir) { return zsstat::list_region_files(dir).empty(); }

std::set<std::string> read_golden(const std::string& name) {
  std::ifstream in(kSourceDir + "/tests/tools/golden/" + name);
  std::set<std::string> keys;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') keys.insert(line);
  return keys;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& k : s) out += k + "\n";
  return out;
}

TEST_F(Zsstat, ListShowsEveryPublishingProcess) {
  std::vector<std::pair<int, std::string>> ready;
  auto a = publisher({}, 1, &ready);
  auto b = publisher({}, 1, &ready);
  RunResult r = zsstat({});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("COMMAND"), std::string::npos);
  EXPECT_NE(r.out.find("RATIO"), std::string::npos);
  for (auto& [pid, path] : ready) EXPECT_NE(r.out.find(std::to_string(pid) + " "), std::string::npos) << r.out;
  JsonValue v = json_of({"--json"});
  ASSERT_EQ(v.at("processes").array.size(), 2u);
  for (const JsonValue& p : v.at("processes").array) {
    EXPECT_EQ(p.at("status").string, "live");
    EXPECT_NE(p.at("command").string.find("stats_publisher"), std::string::npos);
    EXPECT_EQ(p.at("limit_bytes").number, 64.0 * 1024 * 1024);
  }
}

TEST_F(Zsstat, FiguresMoveAsTheProcessWorks) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--period-ms", "1"}, 1, &ready);
  std::string pid = std::to_string(ready[0].first);
  // Gauges are published 4 times a second: wait for the first publish with pages in it
  // (a loaded machine may delay it), then for the next one.
  auto poll = [&](auto done) {
    JsonValue doc;
    for (int i = 0; i < 100; ++i) {
      doc = json_of({pid, "--json"});
      if (done(doc)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return doc;
  };
  JsonValue first = poll([](const JsonValue& d) { return d.at("summary").at("stored_pages").number > 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double first_publish = first.at("publish_count").number;
  JsonValue second = poll([&](const JsonValue& d) { return d.at("publish_count").number > first_publish; });
  EXPECT_GT(first.at("summary").at("stored_pages").number, 0);
  EXPECT_GT(second.at("counters").at("pool_alloc").number, first.at("counters").at("pool_alloc").number);
  EXPECT_GT(second.at("histograms").at("fault_pool").at("count").number,
            first.at("histograms").at("fault_pool").at("count").number);
  EXPECT_GT(second.at("publish_count").number, first.at("publish_count").number);
  EXPECT_GT(second.at("summary").at("ratio").number, 1.5);
  EXPECT_GT(second.at("summary").at("total_bytes").number, 0);
  double used = 0;
  for (const JsonValue& row : second.at("classes").array) used += row.at("obj_used").number;
  EXPECT_GT(used, 0);
  EXPECT_EQ(second.at("options").at("compressor").string, "lz4");

  RunResult text = zsstat({pid});
  ASSERT_EQ(text.status, 0) << text.err;
  for (const char* want : {"DATA", "COMPR", "TOTAL", "RATIO", "SAVED", "LIMIT", "footprint", "events", "pool_alloc",
                           "counters at zero not shown", "latency", "fault_pool", "all faults", "options", "limit=64M"})
    EXPECT_NE(text.out.find(want), std::string::npos) << want << " missing from\n" << text.out;
  RunResult all = zsstat({pid, "--all"});
  for (const char* want : {"compaction", "pool_compact_runs", "migration", "rejects"})
    EXPECT_NE(all.out.find(want), std::string::npos) << want << " missing from\n" << all.out;
  EXPECT_EQ(p->stop(SIGTERM), 0) << "the publisher checks every page it loads";
  EXPECT_TRUE(tools_list_empty(dir_.path()));
}

TEST_F(Zsstat, ClassesViewHasTheKernelColumns) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--fixed", "300"}, 1, &ready);
  RunResult r = zsstat({std::to_string(ready[0].first), "--classes"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* col : {"index", "size", "almost_full", "almost_empty", "obj_allocated", "obj_used", "pages_used",
                          "pages_per_zspage", "freeable", "Total"})
    EXPECT_NE(r.out.find(col), std::string::npos) << col << "\n" << r.out;
  RunResult all = zsstat({std::to_string(ready[0].first), "--classes", "--all"});
  EXPECT_GT(testing::count_lines(all.out), testing::count_lines(r.out));
}

TEST_F(Zsstat, WatchPrintsPerSecondRates) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--period-ms", "1"}, 1, &ready);
  RunResult r = zsstat({std::to_string(ready[0].first), "--json", "--watch", "0.3", "--count", "3"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<JsonValue> docs;
  for (std::string line; std::getline(lines, line);) {
    docs.emplace_back();
    ASSERT_TRUE(JsonParser(line).parse(&docs.back())) << line;
  }
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].at("rates").kind, JsonValue::Kind::Null);
  for (size_t i = 1; i < 3; ++i) EXPECT_GT(docs[i].at("rates").at("pool_alloc").number, 10.0);
  RunResult text = zsstat({std::to_string(ready[0].first), "--watch", "0.2", "--count", "2"});
  EXPECT_NE(text.out.find("per second"), std::string::npos);
}

TEST_F(Zsstat, JsonSchemaIsStable) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--fixed", "100"}, 1, &ready);
  std::set<std::string> maps = {"gauges", "counters", "rates", "histograms", "options"};
  std::set<std::string> keys;
  RunResult watch = zsstat({std::to_string(ready[0].first), "--json", "--watch", "0.1", "--count", "2"});
  ASSERT_EQ(watch.status, 0) << watch.err;
  std::string last = watch.out.substr(watch.out.rfind('\n', watch.out.size() - 2) + 1);
  JsonValue doc;
  ASSERT_TRUE(JsonParser(last).parse(&doc)) << last;  // the second line has rates
  testing::json_key_paths(doc, "", maps, &keys);
  EXPECT_EQ(join(keys), join(read_golden("process_keys.txt")));
  EXPECT_EQ(doc.at("schema").string, "uzswap-zsstat/1");

  std::set<std::string> counters, gauges;
  for (const auto& kv : doc.at("counters").object) counters.insert(kv.first);
  for (const auto& kv : doc.at("gauges").object) gauges.insert(kv.first);
  std::set<std::string> want_counters, want_gauges;
  for (size_t i = 0; i < kNumCounters; ++i) want_counters.insert(counter_info(static_cast<Counter>(i)).name);
  for (size_t i = 0; i < stats::kNumGauges; ++i) want_gauges.insert(stats::gauge_info(static_cast<stats::Gauge>(i)).name);
  EXPECT_EQ(counters, want_counters);
  EXPECT_EQ(gauges, want_gauges);

  std::set<std::string> list_keys;
  testing::json_key_paths(json_of({"--json"}), "", {}, &list_keys);
  EXPECT_EQ(join(list_keys), join(read_golden("list_keys.txt")));
}

TEST_F(Zsstat, ForkChildPublishesItsOwnCounters) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--fixed", "50", "--fork", "30"}, 2, &ready);
  ASSERT_EQ(ready.size(), 2u);
  ASSERT_NE(ready[0].first, ready[1].first);
  std::map<int, double> allocs;
  for (auto& [pid, path] : ready) allocs[pid] = json_of({std::to_string(pid), "--json"}).at("counters").at("pool_alloc").number;
  int parent = p->pid(), child = ready[0].first == parent ? ready[1].first : ready[0].first;
  EXPECT_EQ(allocs[parent], 50) << "the child's work must not land in the parent's region";
  EXPECT_EQ(allocs[child], 30) << "the child starts from zero";
  kill(child, SIGTERM);
}

TEST_F(Zsstat, DetachedForkChildLeavesTheParentsRegionAlone) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--fixed", "40", "--fork", "25", "--detach"}, 2, &ready);
  ASSERT_EQ(ready.size(), 2u);
  int child = ready[0].first == p->pid() ? ready[1].first : ready[0].first;
  EXPECT_EQ(zsstat::list_region_files(dir_.path()).size(), 1u) << "the detached child has no region";
  EXPECT_EQ(json_of({std::to_string(p->pid()), "--json"}).at("counters").at("pool_alloc").number, 40);
  RunResult r = zsstat({std::to_string(child)});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not running under uzswap"), std::string::npos) << r.err;
  kill(child, SIGTERM);
}

TEST_F(Zsstat, HostileCommandLinesAreEscaped) {
  std::vector<std::pair<int, std::string>> ready;
  const std::string weird = "q\"uote\\back\nnew\x1b[2Jesc\ttab";
  auto p = publisher({"--label", weird, "--fixed", "1"}, 1, &ready);
  std::string pid = std::to_string(ready[0].first);
  JsonValue doc = json_of({pid, "--json"});
  EXPECT_NE(doc.at("command").string.find("q\"uote\\back new?[2Jesc tab"), std::string::npos)
      << doc.at("command").string;
  for (const std::vector<std::string>& args : {std::vector<std::string>{}, {pid}, {pid, "--classes"}}) {
    RunResult r = zsstat(args);
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no terminal escapes from the region reach the screen";
  }
}

TEST_F(Zsstat, AStoppedProcessIsShownAsNotPublishing) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({}, 1, &ready);
  ASSERT_EQ(kill(p->pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5600));
  JsonValue list = json_of({"--json"});
  ASSERT_EQ(list.at("processes").array.size(), 1u);
  EXPECT_EQ(list.at("processes").array[0].at("status").string, "not_publishing");
  RunResult text = zsstat({std::to_string(p->pid())});
  EXPECT_NE(text.out.find("nothing published for"), std::string::npos) << text.out;
  EXPECT_EQ(access(ready[0].second.c_str(), F_OK), 0) << "a stopped process is alive: its region stays";
  kill(p->pid(), SIGCONT);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(json_of({"--json"}).at("processes").array[0].at("status").string, "live");
}

TEST_F(Zsstat, RegionOfAKilledProcessIsRecognisedAndRemoved) {
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({}, 1, &ready);
  EXPECT_EQ(p->stop(SIGKILL), -SIGKILL);
  ASSERT_EQ(access(ready[0].second.c_str(), F_OK), 0) << "a killed process leaves its region";
  RunResult r = zsstat({std::to_string(ready[0].first)});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is gone: removed its stale region"), std::string::npos) << r.err;
  EXPECT_NE(access(ready[0].second.c_str(), F_OK), 0);

  auto q = publisher({}, 1, &ready);
  q->stop(SIGKILL);
  RunResult list = zsstat({});
  EXPECT_EQ(list.status, 0);
  EXPECT_EQ(testing::count_lines(list.out), 1) << "header only:\n" << list.out;
  EXPECT_NE(access(ready[1].second.c_str(), F_OK), 0);

  auto s = publisher({}, 1, &ready);
  s->stop(SIGKILL);
  RunResult clean = zsstat({"--cleanup"});
  EXPECT_EQ(clean.status, 0) << clean.err;
  EXPECT_NE(clean.out.find("removed 1 stale region"), std::string::npos) << clean.out;
}

TEST_F(Zsstat, ARegionWhosePidWasReusedIsDead) {
  // This test process is alive, but under a different start time than the name says.
  uint64_t st = 0;
  ASSERT_TRUE(zsstat::proc_start_time(getpid(), &st));
  std::string path = dir_.path() + "/uzswap." + std::to_string(getuid()) + "." + std::to_string(getpid()) + "." +
                     std::to_string(st + 12345);
  std::ofstream(path) << "stale";
  RunResult r = zsstat({std::to_string(getpid())});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("removed its stale region"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is not running under uzswap"), std::string::npos) << r.err;
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

// Plants `contents` as the region of a live process that is not under uzswap.
class BadRegion : public Zsstat {
 protected:
  void SetUp() override {
    Zsstat::SetUp();
    sleeper_ = std::make_unique<Background>(std::vector<std::string>{"sleep", "60"}, std::vector<std::string>{});
    uint64_t st = 0;
    for (int i = 0; i < 100 && !zsstat::proc_start_time(sleeper_->pid(), &st); ++i) usleep(1000);
    path_ = dir_.path() + "/uzswap." + std::to_string(getuid()) + "." + std::to_string(sleeper_->pid()) + "." +
            std::to_string(st);
    std::vector<std::pair<int, std::string>> ready;
    auto p = publisher({"--fixed", "10"}, 1, &ready);
    std::ifstream in(ready[0].second, std::ios::binary);
    real_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    p->stop(SIGTERM);
  }
  // Runs zsstat on the sleeper with `contents` as its region: one line, exit 1.
  std::string expect_error(const std::string& contents) {
    unlink(path_.c_str());
    std::ofstream(path_, std::ios::binary) << contents;
    chmod(path_.c_str(), 0600);
    RunResult r = zsstat({std::to_string(sleeper_->pid())});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    RunResult j = zsstat({std::to_string(sleeper_->pid()), "--json"});
    EXPECT_EQ(j.status, 1);
    return r.err;
  }
  std::unique_ptr<Background> sleeper_;
  std::string path_, real_;
};

TEST_F(BadRegion, EachKindOfBadRegionGetsOneClearLine) {
  ASSERT_GT(real_.size(), 4096u);
  EXPECT_NE(expect_error("").find("implausible size"), std::string::npos);
  EXPECT_NE(expect_error(real_.substr(0, 100)).find("truncated"), std::string::npos);
  EXPECT_NE(expect_error(real_.substr(0, real_.size() - 64)).find("truncated"), std::string::npos);
  EXPECT_NE(expect_error(std::string(8192, 'z')).find("not a uzswap stats region"), std::string::npos);
  EXPECT_NE(expect_error(std::string(8192, '\0')).find("not initialised"), std::string::npos);
  std::string newer = real_;
  newer[8] = static_cast<char>(stats::kRegionVersion + 1);
  EXPECT_NE(expect_error(newer).find("newer than this zsstat"), std::string::npos);
  std::string corrupt = real_;
  corrupt[offsetof(stats::RegionHeader, total_size) + 3] = 0x7f;
  EXPECT_NE(expect_error(corrupt).find("corrupt"), std::string::npos);
  // A valid region of another process under this one's name.
  EXPECT_NE(expect_error(real_).find("foreign region"), std::string::npos);
  // A symlink is never followed.
  unlink(path_.c_str());
  ASSERT_EQ(symlink("/etc/passwd", path_.c_str()), 0);
  RunResult r = zsstat({std::to_string(sleeper_->pid())});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("symbolic links"), std::string::npos) << r.err;
}

TEST_F(Zsstat, ProcessesWithoutARegionAndBadArguments) {
  Background sleeper({"sleep", "60"}, {});
  RunResult r = zsstat({std::to_string(sleeper.pid())});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not running under uzswap"), std::string::npos) << r.err;
  int gone = sleeper.stop(SIGKILL) == -SIGKILL ? 0 : 1;
  EXPECT_EQ(gone, 0);
  pid_t reaped = fork();
  if (reaped == 0) _exit(0);
  waitpid(reaped, nullptr, 0);
  r = zsstat({std::to_string(reaped)});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no process"), std::string::npos) << r.err;
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"abc"}, {"-5"}, {"99999999999"}, {"1", "2"}, {"--watch"}, {"--watch", "x"}, {"--count", "3"},
           {"--classes"}, {"--frobnicate"}}) {
    RunResult u = zsstat(bad);
    EXPECT_EQ(u.status, 2) << bad[0];
    EXPECT_NE(u.err.find("usage:"), std::string::npos);
  }
}

TEST_F(Zsstat, AnotherUserCannotReadTheStats) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run zsstat as another user";
  std::vector<std::pair<int, std::string>> ready;
  auto p = publisher({"--fixed", "10"}, 1, &ready);
  struct stat st;
  ASSERT_EQ(stat(ready[0].second.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  auto nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = as_nobody;
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::run(argv, {env_dir()});
  };
  RunResult cat = nobody({"cat", ready[0].second});
  EXPECT_NE(cat.status, 0);
  EXPECT_NE(cat.err.find("Permission denied"), std::string::npos) << cat.err;
  RunResult show = nobody({kZsstat, std::to_string(ready[0].first)});
  EXPECT_EQ(show.status, 1);
  EXPECT_NE(show.err.find("belong to uid 0"), std::string::npos) << show.err;
  RunResult list = nobody({kZsstat});
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(testing::count_lines(list.out), 1) << "nobody sees no process:\n" << list.out;
  RunResult clean = nobody({kZsstat, "--cleanup"});
  EXPECT_EQ(access(ready[0].second.c_str(), F_OK), 0) << "nobody removed root's region";
}

TEST_F(Zsstat, HelpDocumentsEveryStatistic) {
  RunResult r = zsstat({"--help"});
  ASSERT_EQ(r.status, 0);
  for (size_t i = 0; i < kNumCounters; ++i) {
    const CounterInfo& ci = counter_info(static_cast<Counter>(i));
    EXPECT_NE(r.out.find(ci.name), std::string::npos) << ci.name;
    EXPECT_NE(r.out.find(ci.help), std::string::npos) << ci.help;
  }
  for (size_t i = 0; i < stats::kNumGauges; ++i)
    EXPECT_NE(r.out.find(stats::gauge_info(static_cast<stats::Gauge>(i)).help), std::string::npos);
}

TEST_F(Zsstat, GeneratedDocsAreCurrent) {
  RunResult r = zsstat({"--help-markdown"});
  ASSERT_EQ(r.status, 0);
  std::ifstream in(kSourceDir + "/docs/zsstat-counters.md");
  std::string docs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(docs, r.out) << "docs/zsstat-counters.md is stale: run `cmake --build <build> --target zsstat_docs`";
}

}  // namespace
}  // namespace uzswap
