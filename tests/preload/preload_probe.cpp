// tests/preload/preload_probe.cpp — a small program that preload_behaviour.sh runs under
// LD_PRELOAD=libuzswap.so. Every mode checks bytes itself and exits non-zero on a wrong
// one; only the expected result lines go to stdout.
//   hello           print a checksum of a freshly written 4 MiB mapping
//   evict           write MB MiB, wait until most of it left the resident set, check it
//   fork            evict, fork; the child and then the parent check every byte
//   exec            evict, then exec this probe as "exec-child" without LD_PRELOAD
//   exec-child      report uzswap leftovers in this (freshly exec'd) image
//   remap           evict, then mremap (grow, move), munmap part, MAP_FIXED over part
//   closefds        evict, then close every descriptor above 2 the ways daemons and
//                   subprocess children do (close, close_range, closefrom), dup2 onto
//                   numbers, list descriptors below 256, check every byte
//   churn           PROBE_THREADS threads for PROBE_SECONDS each cycle a ring of mappings:
//                   check the oldest, munmap or mremap it, map and fill a new one
// Environment: PROBE_MB (data size, default 64), PROBE_RSS_MB (resident size to wait for;
// unset: no wait, as in the plain run), PROBE_WAIT_S (default 30).
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
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

size_t env_size(const char* name, size_t fallback) {
  const char* v = getenv(name);
  return v ? strtoull(v, nullptr, 10) : fallback;
}

// Page i holds a repeating, compressible but not same-filled pattern unique to (seed, i).
uint64_t word(uint64_t seed, size_t page, size_t j) { return (seed + page) * 0x9E3779B97F4A7C15ull ^ (j % 61); }

void fill(char* p, size_t len, uint64_t seed) {
  for (size_t page = 0; page < len / kPage; ++page) {
    auto* w = reinterpret_cast<uint64_t*>(p + page * kPage);
    for (size_t j = 0; j < kPage / 8; ++j) w[j] = word(seed, page, j);
  }
}

// Number of words that differ from the pattern (first_page: the pattern's page offset).
size_t check(const char* p, size_t len, uint64_t seed, size_t first_page = 0) {
  size_t bad = 0;
  for (size_t page = 0; page < len / kPage; ++page) {
    auto* w = reinterpret_cast<const uint64_t*>(p + page * kPage);
    for (size_t j = 0; j < kPage / 8; ++j) bad += w[j] != word(seed, first_page + page, j);
  }
  return bad;
}

size_t count_zero_words(const char* p, size_t len) {
  size_t nonzero = 0;
  for (size_t i = 0; i < len / 8; ++i) nonzero += reinterpret_cast<const uint64_t*>(p)[i] != 0;
  return nonzero;
}

using uzswap::test::rss_kib;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "probe: FAIL: %s\n", what);
  exit(1);
}

char* map_anon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  return static_cast<char*>(p);
}

// Writes the data and waits until the resident set fell to PROBE_RSS_MB: proof that
// uzswap evicted part of it.
char* write_and_wait_evicted(size_t len, uint64_t seed) {
  char* p = map_anon(len);
  fill(p, len, seed);
  if (getenv("PROBE_RSS_MB") == nullptr) return p;
  size_t target_kib = env_size("PROBE_RSS_MB", 0) * 1024;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(env_size("PROBE_WAIT_S", 30));
  while (rss_kib() > target_kib) {
    if (std::chrono::steady_clock::now() > deadline) {
      fprintf(stderr, "probe: resident %zu KiB, waited for %zu KiB\n", rss_kib(), target_kib);
      fail("the data was not evicted in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return p;
}

int mode_hello() {
  size_t len = 4 << 20;
  char* p = map_anon(len);
  fill(p, len, 7);
  uint64_t sum = 0;
  for (size_t i = 0; i < len / 8; ++i) sum += reinterpret_cast<uint64_t*>(p)[i] * (i | 1);
  printf("hello %" PRIx64 "\n", sum);
  return 0;
}

int mode_evict(size_t len) {
  char* p = write_and_wait_evicted(len, 11);
  if (check(p, len, 11) != 0) fail("bytes differ after eviction");
  printf("evict ok\n");
  return 0;
}

int mode_fork(size_t len) {
  char* p = write_and_wait_evicted(len, 13);
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (check(p, len, 13) != 0) fail("the fork child sees different bytes");
    fill(p, len, 14);  // the child's writes must not reach the parent
    _exit(check(p, len, 14) == 0 ? 0 : 1);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("the fork child failed");
  if (check(p, len, 13) != 0) fail("the parent's bytes changed across fork");
  printf("fork ok\n");
  return 0;
}

int mode_exec(size_t len, const char* self) {
  char* p = write_and_wait_evicted(len, 17);
  if (check(p, len, 17) != 0) fail("bytes differ before exec");
  std::string pid = "PROBE_PARENT_PID=" + std::to_string(getpid());
  std::string dir = std::string("UZSWAP_STATS_DIR=") + (getenv("UZSWAP_STATS_DIR") ? getenv("UZSWAP_STATS_DIR") : "/dev/shm");
  char* const argv[] = {const_cast<char*>(self), const_cast<char*>("exec-child"), nullptr};
  char* const envp[] = {const_cast<char*>(pid.c_str()), const_cast<char*>(dir.c_str()), nullptr};
  fflush(stdout);
  execve(self, argv, envp);
  fail("execve");
}

// In the image that replaced an uzswap process: no descriptor beyond 0-2, one thread, no
// stats file of this pid, no libuzswap mapped.
int mode_exec_child() {
  int leftovers = uzswap::test::count_exec_leftovers("probe");
  std::string needle = "." + std::to_string(getpid()) + ".";
  const char* dir = getenv("UZSWAP_STATS_DIR");
  DIR* sd = opendir(dir ? dir : "/dev/shm");
  while (dirent* e = sd ? readdir(sd) : nullptr) {
    if (strncmp(e->d_name, "uzswap.", 7) == 0 && strstr(e->d_name, needle.c_str()) != nullptr) {
      fprintf(stderr, "probe: stats file survived exec: %s\n", e->d_name);
      ++leftovers;
    }
  }
  if (sd) closedir(sd);
  if (leftovers) fail("uzswap left something behind across exec");
  printf("exec clean\n");
  return 0;
}

int mode_remap(size_t len) {
  char* p = write_and_wait_evicted(len, 19);
  // Grow (the kernel may move it): the old bytes travel, the new tail reads zeros.
  char* q = static_cast<char*>(mremap(p, len, 2 * len, MREMAP_MAYMOVE));
  if (q == MAP_FAILED) fail("mremap");
  if (check(q, len, 19) != 0) fail("bytes differ after mremap");
  if (count_zero_words(q + len, len) != 0) fail("the grown tail is not zero");
  fill(q + len, len, 23);
  // Unmap the first quarter, then map fresh memory at the same place: zeros, not old data.
  size_t quarter = len / 4;
  if (munmap(q, quarter) != 0) fail("munmap");
  void* r = mmap(q, quarter, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (r != q) fail("mmap MAP_FIXED over the unmapped part");
  if (count_zero_words(q, quarter) != 0) fail("stale data after munmap + mmap");
  // MAP_FIXED straight over managed, possibly evicted memory: zeros again.
  void* s = mmap(q + quarter, quarter, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (s != q + quarter) fail("mmap MAP_FIXED over managed memory");
  if (count_zero_words(q + quarter, quarter) != 0) fail("stale data after MAP_FIXED");
  if (check(q + 2 * quarter, len - 2 * quarter, 19, 2 * quarter / kPage) != 0) fail("untouched part changed");
  if (check(q + len, len, 23) != 0) fail("the grown tail changed");
  printf("remap ok\n");
  return 0;
}

// Reports the first wrong word of a churn check: where, and what was there.
size_t churn_report(const char* what, int id, const char* p, size_t len, uint64_t seed, bool zeros) {
  size_t bad = zeros ? count_zero_words(p, len) : check(p, len, seed);
  if (bad == 0) return 0;
  for (size_t i = 0; i < len / 8; ++i) {
    uint64_t want = zeros ? 0 : word(seed, i / (kPage / 8), i % (kPage / 8));
    uint64_t got = reinterpret_cast<const uint64_t*>(p)[i];
    if (got == want) continue;
    fprintf(stderr, "probe: thread %d, %s: %zu wrong words, first at page %zu of %zu (want %016" PRIx64
            ", got %016" PRIx64 ")\n", id, what, bad, i * 8 / kPage, len / kPage, want, got);
    break;
  }
  return bad;
}

// One churn thread: a ring of kRing mappings of 1-2 MiB, each with its own seed. Every
// mapping is checked once before it goes; returns the number of bad words seen.
size_t churn_thread(int id, double seconds, size_t* cycles) {
  constexpr int kRing = 8;
  constexpr size_t kMiB = 1 << 20;
  char* ring[kRing];
  size_t len[kRing];
  uint64_t seed[kRing];
  uint64_t next_seed = static_cast<uint64_t>(id) << 32;
  size_t bad = 0;
  for (int i = 0; i < kRing; ++i) {
    len[i] = kMiB * (1 + i % 2);
    ring[i] = map_anon(len[i]);
    seed[i] = ++next_seed;
    fill(ring[i], len[i], seed[i]);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t n = 0;
  for (; std::chrono::steady_clock::now() < deadline; ++n) {
    int i = static_cast<int>(n % kRing);
    bad += churn_report("check before unmap", id, ring[i], len[i], seed[i], false);
    if (n % 5 == 4) {  // grow it instead: the old bytes travel, the tail is new
      char* q = static_cast<char*>(mremap(ring[i], len[i], len[i] + kMiB, MREMAP_MAYMOVE));
      if (q == MAP_FAILED) fail("mremap in churn");
      bad += churn_report("check after mremap", id, q, len[i], seed[i], false);
      bad += churn_report("grown tail", id, q + len[i], kMiB, 0, true);
      if (munmap(q, len[i] + kMiB) != 0) fail("munmap in churn");
    } else if (munmap(ring[i], len[i]) != 0) {
      fail("munmap in churn");
    }
    ring[i] = map_anon(len[i]);
    bad += churn_report("fresh mapping", id, ring[i], len[i], 0, true);
    seed[i] = ++next_seed;
    fill(ring[i], len[i], seed[i]);
  }
  for (int i = 0; i < kRing; ++i) {
    bad += churn_report("final check", id, ring[i], len[i], seed[i], false);
    munmap(ring[i], len[i]);
  }
  *cycles = n;
  return bad;
}

int mode_churn() {
  int threads = static_cast<int>(env_size("PROBE_THREADS", 4));
  double seconds = static_cast<double>(env_size("PROBE_SECONDS", 5));
  std::vector<std::thread> pool;
  std::vector<size_t> bad(static_cast<size_t>(threads)), cycles(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { bad[static_cast<size_t>(t)] = churn_thread(t, seconds, &cycles[static_cast<size_t>(t)]); });
  size_t total_bad = 0, total_cycles = 0;
  for (int t = 0; t < threads; ++t) {
    pool[static_cast<size_t>(t)].join();
    total_bad += bad[static_cast<size_t>(t)];
    total_cycles += cycles[static_cast<size_t>(t)];
  }
  fprintf(stderr, "probe: churn %d threads, %zu cycles, %zu bad words\n", threads, total_cycles, total_bad);
  if (total_cycles == 0) fail("no churn cycle ran");
  if (total_bad != 0) fail("wrong bytes under churn");
  printf("churn ok\n");
  return 0;
}

}  // namespace

// Descriptors open below 256 other than 0-2, as CPython's fd_status helper counts them.
int low_descriptors() {
  int n = 0;
  for (int fd = 3; fd < 256; ++fd) n += fcntl(fd, F_GETFD) != -1;
  return n;
}

int mode_closefds(size_t len) {
  char* p = write_and_wait_evicted(len, 17);
  if (low_descriptors() != 0) fail("descriptors other than 0-2 are open below 256");
  for (int fd = 3; fd < 4096; ++fd) close(fd);  // a daemon's loop
  if (check(p, len / 2, 17) != 0) fail("bytes differ after closing every descriptor one by one");
  fill(p, len / 2, 18);
  close_range(3, ~0u, 0);  // what CPython's os.closerange and subprocess use
  closefrom(3);
  for (int fd = 3; fd < 2048; ++fd) dup2(2, fd);  // numbers a program believes free
  for (int fd = 3; fd < 2048; ++fd) close(fd);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the reclaim evict again
  if (check(p, len / 2, 18) != 0 || check(p + len / 2, len / 2, 17, len / 2 / kPage) != 0)
    fail("bytes differ after close_range, closefrom and dup2");
  printf("closefds ok\n");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "hello";
  size_t len = env_size("PROBE_MB", 64) << 20;
  if (strcmp(mode, "hello") == 0) return mode_hello();
  if (strcmp(mode, "evict") == 0) return mode_evict(len);
  if (strcmp(mode, "fork") == 0) return mode_fork(len);
  if (strcmp(mode, "exec") == 0) return mode_exec(len, argv[0]);
  if (strcmp(mode, "exec-child") == 0) return mode_exec_child();
  if (strcmp(mode, "remap") == 0) return mode_remap(len);
  if (strcmp(mode, "churn") == 0) return mode_churn();
  if (strcmp(mode, "closefds") == 0) return mode_closefds(len);
  fprintf(stderr, "probe: unknown mode %s\n", mode);
  return 2;
}
