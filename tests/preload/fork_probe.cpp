// tests/preload/fork_probe.cpp — fork under LD_PRELOAD=libuzswap.so (run by
// fork_behaviour.sh, also plainly: its output must not differ).
//
// Modes:
//   takeover  the parent writes a checksummed pattern and waits until it is evicted; it
//             forks; the child checks every byte, finds a stats file of its own pid (if
//             PROBE_EXPECT_STATS=1), writes its own pattern, waits until that is evicted
//             under its own limit, checks again and forks a grandchild that checks both;
//             meanwhile the parent keeps checking its own bytes.
//   storm     PROBE_THREADS writer threads keep rewriting their own regions (evicted and
//             faulted back all the time) while the main thread forks PROBE_FORKS times;
//             each child checks that every page of every region holds one whole
//             generation of its writer (at most one page per writer caught mid-write),
//             and writes and reads back some memory of its own.
//   early     like takeover, but the child's bytes are first read and written by an atfork
//             child handler registered before uzswap's constructor ran (from this
//             program's .preinit_array), as a malloc initialised early registers its own:
//             it reads every word of the evicted region and writes the first word of each
//             page, and writes a word of each page of a second evicted region without
//             reading it first; the child then checks both regions. Idle FILEs whose heap
//             page was evicted exist at the fork (glibc's fork resets their locks in the
//             child before any handler). The handler also maps, writes and unmaps memory
//             (calls uzswap interposes).
//   exec      the parent with evicted memory forks; the child execs this probe in mode
//             exec-child, which finds nothing of uzswap left (descriptors, threads,
//             stats file of its pid); the parent then checks its bytes and that no
//             stats file of the child's pid remains.
// Environment: PROBE_MB (per region, default 64), PROBE_RSS_MB (wait until the resident
// set is at most this; unset: no wait), PROBE_CHILD_RSS_MB (same, in the takeover
// child), PROBE_THREADS, PROBE_FORKS, PROBE_WAIT_S.
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "exec_leftovers.h"
#include "probe_rss.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kWords = kPage / 8;

size_t env_size(const char* name, size_t def) {
  const char* v = getenv(name);
  return v ? strtoull(v, nullptr, 10) : def;
}

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "fork_probe[%d]: FAIL: %s\n", getpid(), what);
  _exit(1);
}

// Never zero (always odd): a page read back as zeros is always caught. One value per page
// and seed, varied a little per word: compressible, like most program data.
uint64_t word(uint64_t seed, size_t page, size_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + page * 0xBF58476D1CE4E5B9ull;
  return (x | 1) ^ ((i % 16) << 1);
}

void fill(char* p, size_t len, uint64_t seed) {
  auto* w = reinterpret_cast<uint64_t*>(p);
  for (size_t pg = 0; pg < len / kPage; ++pg)
    for (size_t i = 0; i < kWords; ++i) w[pg * kWords + i] = word(seed, pg, i);
}

size_t check(const char* p, size_t len, uint64_t seed) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  size_t bad = 0;
  for (size_t pg = 0; pg < len / kPage; ++pg)
    for (size_t i = 0; i < kWords; ++i) bad += w[pg * kWords + i] != word(seed, pg, i);
  return bad;
}

char* map_anon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  return static_cast<char*>(p);
}

using uzswap::test::rss_kib;

// Waits until the resident set is at most `mib` (proof that uzswap evicts); 0: no wait.
void wait_evicted(size_t mib, const char* who) {
  if (mib == 0) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(env_size("PROBE_WAIT_S", 30));
  while (rss_kib() > mib * 1024) {
    if (std::chrono::steady_clock::now() > deadline) {
      fprintf(stderr, "fork_probe[%d]: %s resident %zu KiB, waited for %zu KiB\n", getpid(), who, rss_kib(), mib * 1024);
      fail("not evicted in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Stats files (uzswap.<uid>.<pid>.<start>) of `pid` in the stats directory.
int stats_files_of(int pid) {
  std::string needle = "." + std::to_string(pid) + ".";
  const char* dir = getenv("UZSWAP_STATS_DIR");
  DIR* d = opendir(dir ? dir : "/dev/shm");
  int n = 0;
  while (dirent* e = d ? readdir(d) : nullptr)
    if (strncmp(e->d_name, "uzswap.", 7) == 0 && strstr(e->d_name, needle.c_str()) != nullptr) ++n;
  if (d) closedir(d);
  return n;
}

int wait_child(pid_t child) {
  int status = 0;
  if (waitpid(child, &status, 0) != child) fail("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int mode_takeover(size_t len) {
  char* p = map_anon(len);
  fill(p, len, 13);
  wait_evicted(env_size("PROBE_RSS_MB", 0), "parent");
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (check(p, len, 13) != 0) fail("the child sees different bytes");
    if (env_size("PROBE_EXPECT_STATS", 0) && stats_files_of(getpid()) != 1) fail("the child has no stats file of its own");
    fill(p, len, 14);  // the child's writes must not reach the parent
    char* own = map_anon(len);  // and memory the child maps itself is managed too
    fill(own, len, 15);
    wait_evicted(env_size("PROBE_CHILD_RSS_MB", 0), "child");
    if (check(p, len, 14) != 0) fail("the child's own pattern differs after eviction");
    if (check(own, len, 15) != 0) fail("the child's new mapping differs after eviction");
    // A grandchild of a child that took uzswap over sees the child's evicted bytes too.
    pid_t grandchild = fork();
    if (grandchild < 0) fail("fork in the child");
    if (grandchild == 0) {
      if (check(p, len, 14) != 0 || check(own, len, 15) != 0) fail("the grandchild sees different bytes");
      exit(0);
    }
    if (wait_child(grandchild) != 0) fail("the grandchild failed");
    exit(0);
  }
  // The parent keeps working while the child runs.
  std::atomic<bool> done{false};
  size_t rounds = 0, bad = 0;
  std::thread checker([&] {
    while (!done.load()) {
      bad += check(p, len, 13);
      ++rounds;
    }
  });
  int rc = wait_child(child);
  done = true;
  checker.join();
  if (rc != 0) fail("the fork child failed");
  if (bad != 0 || check(p, len, 13) != 0) fail("the parent's bytes changed across fork");
  if (env_size("PROBE_EXPECT_STATS", 0) && stats_files_of(child) != 0) fail("the child's stats file outlived it");
  printf("takeover ok\n");
  return 0;
}

// ---- early ----

char* g_early = nullptr;         // the region the early child handler reads, then writes
char* g_early_blind = nullptr;   // the region it writes without reading first
size_t g_early_len = 0;
size_t g_early_bad = ~size_t{0};  // its verdict in the child
constexpr uint64_t kEarlyMark = 0x5eed5eed5eed5eedull;

void early_child_handler() {
  if (g_early == nullptr) return;
  g_early_bad = 0;
  auto* w = reinterpret_cast<uint64_t*>(g_early);
  for (size_t pg = 0; pg < g_early_len / kPage; ++pg) {
    for (size_t i = 1; i < kWords; ++i) g_early_bad += w[pg * kWords + i] != word(13, pg, i);
    w[pg * kWords] = kEarlyMark;
  }
  auto* b = reinterpret_cast<uint64_t*>(g_early_blind);
  for (size_t pg = 0; pg < g_early_len / kPage; ++pg) b[pg * kWords + kWords / 2] = kEarlyMark;
  // Memory calls uzswap interposes (and manages under its fork lock) from this handler.
  constexpr size_t kScratch = 4 << 20;
  void* m = mmap(nullptr, kScratch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    g_early_bad += 1;
    return;
  }
  memset(m, 7, kScratch);
  g_early_bad += munmap(m, kScratch) != 0;
}

// Pages of [p, p + len) that are not resident.
size_t pages_not_resident(const void* p, size_t len) {
  auto a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{kPage - 1};
  size_t n = (reinterpret_cast<uintptr_t>(p) + len - a + kPage - 1) / kPage;
  std::vector<unsigned char> vec(n);
  if (mincore(reinterpret_cast<void*>(a), n * kPage, vec.data()) != 0) return 0;
  size_t out = 0;
  for (unsigned char v : vec) out += !(v & 1);
  return out;
}

// Idle FILEs in the malloc heap (which the coverage scan manages): glibc's fork resets
// the lock of every FILE in the child before any atfork handler runs. Waits until one of
// their pages has been evicted.
std::vector<FILE*> open_idle_files() {
  static char text[64] = "idle";
  std::vector<FILE*> files;
  for (int i = 0; i < 4096; ++i)  // a heap large enough for the scan to manage (UZSWAP_MIN_MAPPING)
    if (FILE* f = fmemopen(text, sizeof text, "r")) files.push_back(f);
  if (files.size() != 4096) fail("fmemopen");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(env_size("PROBE_WAIT_S", 30));
  for (;;) {
    size_t cold = 0;
    for (FILE* f : files) cold += pages_not_resident(f, sizeof(FILE));
    if (cold > 0 || getenv("LD_PRELOAD") == nullptr) break;
    if (std::chrono::steady_clock::now() > deadline) fail("no idle FILE was evicted in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return files;
}

// Runs before any shared object's constructor, uzswap's included.
void register_early_handler(int, char**, char**) { pthread_atfork(nullptr, nullptr, early_child_handler); }
__attribute__((section(".preinit_array"), used)) void (*const g_preinit)(int, char**, char**) = register_early_handler;

int mode_early(size_t len) {
  char* p = map_anon(len);
  char* blind = map_anon(len);
  fill(p, len, 13);
  fill(blind, len, 16);
  wait_evicted(env_size("PROBE_RSS_MB", 0), "parent");
  std::vector<FILE*> files = open_idle_files();
  g_early = p;
  g_early_blind = blind;
  g_early_len = len;
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (g_early_bad != 0) {
      fprintf(stderr, "fork_probe[%d]: %zu words differ in the early handler\n", getpid(), g_early_bad);
      fail("an atfork child handler registered before uzswap's saw different bytes");
    }
    auto* w = reinterpret_cast<const uint64_t*>(p);
    size_t bad = 0;
    for (size_t pg = 0; pg < len / kPage; ++pg)
      for (size_t i = 0; i < kWords; ++i) bad += w[pg * kWords + i] != (i == 0 ? kEarlyMark : word(13, pg, i));
    if (bad != 0) fail("the child's bytes differ after its early handler wrote to them");
    auto* b = reinterpret_cast<const uint64_t*>(blind);
    for (size_t pg = 0; pg < len / kPage; ++pg)
      for (size_t i = 0; i < kWords; ++i) bad += b[pg * kWords + i] != (i == kWords / 2 ? kEarlyMark : word(16, pg, i));
    if (bad != 0) fail("the child's bytes differ where its early handler wrote without reading first");
    for (FILE* f : files)
      if (fclose(f) != 0) fail("fclose of an idle FILE in the child");
    exit(0);
  }
  g_early = nullptr;
  for (FILE* f : files) fclose(f);
  if (wait_child(child) != 0) fail("the fork child failed");
  if (check(p, len, 13) != 0) fail("the parent's bytes changed across fork");
  printf("early ok\n");
  return 0;
}

// ---- storm ----

struct Writer {
  char* p = nullptr;
  size_t len = 0;
  uint64_t id = 0;
  std::atomic<uint64_t> gen{0};  // generations completed
};

// Page content of writer `id`, generation `g`: seed = id << 32 | g.
void write_page(Writer& w, size_t pg, uint64_t g) {
  auto* q = reinterpret_cast<uint64_t*>(w.p + pg * kPage);
  for (size_t i = 0; i < kWords; ++i) q[i] = word(w.id << 32 | g, pg, i);
}

// In a child: every page holds one whole generation (the last completed or the next), except
// at most one page per writer, caught mid-write by the fork.
size_t torn_pages(const Writer& w) {
  size_t torn = 0;
  const auto* q = reinterpret_cast<const uint64_t*>(w.p);
  uint64_t last = w.gen.load();
  for (size_t pg = 0; pg < w.len / kPage; ++pg) {
    bool whole = false;
    for (uint64_t g : {last, last + 1}) {  // the pass done, or the one under way
      bool ok = true;
      for (size_t i = 0; i < kWords && ok; ++i) ok = q[pg * kWords + i] == word(w.id << 32 | g, pg, i);
      whole = whole || ok;
    }
    torn += !whole;
  }
  return torn;
}

int mode_storm(size_t len) {
  const size_t nthreads = env_size("PROBE_THREADS", 4);
  const size_t forks = env_size("PROBE_FORKS", 20);
  std::vector<Writer> writers(nthreads);
  for (size_t t = 0; t < nthreads; ++t) {
    writers[t].p = map_anon(len);
    writers[t].len = len;
    writers[t].id = t + 1;
    for (size_t pg = 0; pg < len / kPage; ++pg) write_page(writers[t], pg, 0);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < nthreads; ++t)
    threads.emplace_back([&, t] {
      Writer& w = writers[t];
      for (uint64_t g = 1; !stop.load(); ++g) {
        for (size_t pg = 0; pg < w.len / kPage; ++pg) write_page(w, pg, g);
        w.gen.store(g);
      }
    });
  wait_evicted(env_size("PROBE_RSS_MB", 0), "storm parent");
  size_t failed = 0;
  for (size_t f = 0; f < forks; ++f) {
    fflush(stdout);
    auto t0 = std::chrono::steady_clock::now();
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
      if (getenv("PROBE_TIMING"))
        fprintf(stderr, "fork_probe: child up after %.1f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      size_t torn = 0;
      for (const Writer& w : writers) {
        size_t t = torn_pages(w);
        if (t > 1) fprintf(stderr, "fork_probe[%d]: writer %" PRIu64 ": %zu torn pages\n", getpid(), w.id, t);
        torn += t > 1 ? t : 0;
      }
      char* own = map_anon(len);
      fill(own, len, 99);
      if (check(own, len, 99) != 0) fail("the child's own memory");
      _exit(torn == 0 ? 0 : 1);
    }
    if (getenv("PROBE_TIMING"))
      fprintf(stderr, "fork_probe: fork returned in the parent after %.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    failed += wait_child(child) != 0;
    if (getenv("PROBE_TIMING"))
      fprintf(stderr, "fork_probe: child done after %.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  stop = true;
  for (auto& t : threads) t.join();
  for (Writer& w : writers) {
    uint64_t g = w.gen.load();
    for (size_t pg = 0; pg < w.len / kPage; ++pg) {
      const auto* q = reinterpret_cast<const uint64_t*>(w.p + pg * kPage);
      for (size_t i = 0; i < kWords; ++i)
        if (q[i] != word(w.id << 32 | g, pg, i) && q[i] != word(w.id << 32 | (g + 1), pg, i)) fail("the parent's bytes after the storm");
    }
  }
  if (failed != 0) {
    fprintf(stderr, "fork_probe: %zu of %zu children saw wrong bytes\n", failed, forks);
    fail("storm");
  }
  printf("storm ok\n");
  return 0;
}

// ---- exec ----

int mode_exec(size_t len, const char* self) {
  char* p = map_anon(len);
  fill(p, len, 17);
  wait_evicted(env_size("PROBE_RSS_MB", 0), "parent");
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (check(p, len, 17) != 0) fail("the child sees different bytes before exec");
    // Without LD_PRELOAD: the new image must find nothing of its parent's uzswap.
    std::string dir = std::string("UZSWAP_STATS_DIR=") + (getenv("UZSWAP_STATS_DIR") ? getenv("UZSWAP_STATS_DIR") : "/dev/shm");
    char* const argv[] = {const_cast<char*>(self), const_cast<char*>("exec-child"), nullptr};
    char* const envp[] = {const_cast<char*>(dir.c_str()), nullptr};
    execve(self, argv, envp);
    fail("execve");
  }
  if (wait_child(child) != 0) fail("the exec'd child failed");
  if (check(p, len, 17) != 0) fail("the parent's bytes after the child's exec");
  if (stats_files_of(child) != 0) fail("the child's stats file outlived its exec");
  printf("exec ok\n");
  return 0;
}

// The image a fork child of an uzswap process exec'd: no descriptor beyond 0-2 (the test
// closes the runner's), one thread, no stats file of this pid.
int mode_exec_child() {
  int leftovers = uzswap::test::count_exec_leftovers("fork_probe");
  if (stats_files_of(getpid()) != 0) {
    fprintf(stderr, "fork_probe: a stats file of this pid survived exec\n");
    ++leftovers;
  }
  if (leftovers) fail("uzswap left something behind across fork + exec");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "takeover";
  size_t len = env_size("PROBE_MB", 64) << 20;
  if (strcmp(mode, "takeover") == 0) return mode_takeover(len);
  if (strcmp(mode, "storm") == 0) return mode_storm(len);
  if (strcmp(mode, "early") == 0) return mode_early(len);
  if (strcmp(mode, "exec") == 0) return mode_exec(len, argv[0]);
  if (strcmp(mode, "exec-child") == 0) return mode_exec_child();
  fprintf(stderr, "fork_probe: unknown mode %s\n", mode);
  return 2;
}
