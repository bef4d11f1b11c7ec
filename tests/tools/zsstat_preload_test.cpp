// tests/tools/zsstat_preload_test.cpp — zsstat against a real program under
// LD_PRELOAD=libuzswap.so with a limit: its region appears, figures move as the program's
// cold pages are compressed, and the region goes when the program exits. Needs the
// preload library (build/preload/libuzswap.so) and userfaultfd: it fails under CI=true
// without them, and skips elsewhere.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/tools/json_mini.h"
#include "tests/tools/proc_util.h"
#include "tools/region_dir.h"

namespace uzswap {
namespace {

using testing::JsonParser;
using testing::JsonValue;

bool in_ci() {
  const char* ci = getenv("CI");
  return ci && std::string(ci) == "true";
}

// ~150 MiB of compressible data that goes cold; one page after another is touched (so
// pages keep faulting back and going cold again); exits, checking every array, once the
// file named by argv[1] exists.
constexpr char kWorkload[] =
    "import os, sys, time\n"
    "data = [bytearray(b'uzswap-cold-data' * 65536) for _ in range(150)]\n"
    "touched = [0] * len(data)\n"
    "print('ready', flush=True)\n"
    "t, n = time.time(), 0\n"
    "while time.time() - t < 60 and not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.02)\n"
    "    i = n % len(data)\n"
    "    data[i][0] = (data[i][0] + 1) % 256\n"
    "    touched[i] += 1\n"
    "    n += 1\n"
    "for i, d in enumerate(data):\n"
    "    assert d[0] == (ord('u') + touched[i]) % 256 and d[1:] == (b'uzswap-cold-data' * 65536)[1:], i\n";

TEST(ZsstatPreload, LivePreloadedProgramShowsMovingFigures) {
  std::string lib = PRELOAD_LIB;
  if (access(lib.c_str(), R_OK) != 0) {
    if (in_ci()) FAIL() << lib << " is missing";
    GTEST_SKIP() << lib << " not built";
  }
  testing::RunResult preflight = testing::run({"/bin/true"}, {"LD_PRELOAD=" + lib});
  if (preflight.status != 0 || !preflight.err.empty()) {
    if (in_ci()) FAIL() << lib << " does not load: " << preflight.err;
    GTEST_SKIP() << lib << " does not load yet: " << preflight.err;
  }
  testing::StatsDir dir;
  std::string env_dir = "UZSWAP_STATS_DIR=" + dir.path();
  std::string stop_file = dir.path() + "/stop";
  testing::Background prog({"python3", "-c", kWorkload, stop_file},
                           {"LD_PRELOAD=" + lib, "UZSWAP_LIMIT=64M", "UZSWAP_COLD_AGE=1", env_dir});
  ASSERT_EQ(prog.read_line(60000), "ready");
  std::string pid = std::to_string(prog.pid());
  double first_alloc = -1, stored = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  JsonValue doc;
  while (std::chrono::steady_clock::now() < until) {
    testing::RunResult r = testing::run({ZSSTAT_BIN, pid, "--json"}, {env_dir});
    if (r.status != 0) {
      if (in_ci()) FAIL() << "no stats from a preloaded program: " << r.err;
      GTEST_SKIP() << "the preloaded program publishes no stats here (userfaultfd unavailable?): " << r.err;
    }
    doc = JsonValue{};
    ASSERT_TRUE(JsonParser(r.out).parse(&doc)) << r.out;
    double allocs = doc.at("counters").at("pool_alloc").number;
    if (first_alloc < 0) first_alloc = allocs;
    stored = doc.at("summary").at("stored_pages").number;
    if (stored > 0 && allocs > first_alloc && doc.at("summary").at("coverage_permille").number > 0)
      break;  // pages go cold again and are stored again; the scan has measured
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(doc.at("summary").at("engine_attached").boolean);
  EXPECT_GT(stored, 0) << "no page was compressed under a 64M limit";
  EXPECT_GT(doc.at("counters").at("pool_alloc").number, first_alloc) << "the figures do not move";
  EXPECT_GT(doc.at("summary").at("ratio").number, 1.0);
  EXPECT_EQ(doc.at("summary").at("limit_bytes").number, 64.0 * 1024 * 1024);
  EXPECT_FALSE(doc.at("options").object.empty()) << "the effective options are published";
  // python3's objects live in its own arenas and glibc's heap, which only the scan finds.
  EXPECT_GE(doc.at("summary").at("coverage_permille").number, 900) << "coverage of python3's memory";
  testing::RunResult text = testing::run({ZSSTAT_BIN, pid}, {env_dir});
  EXPECT_NE(text.out.find("of the program's anonymous memory is managed"), std::string::npos) << text.out;
  FILE* f = fopen(stop_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  EXPECT_EQ(prog.wait(), 0) << "the program's data must come back intact";
  EXPECT_TRUE(zsstat::list_region_files(dir.path()).empty()) << "the region goes with the process";
}

}  // namespace
}  // namespace uzswap
