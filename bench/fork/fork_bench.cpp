// bench/fork/fork_bench.cpp — fork() of a process with much of its memory evicted: the
// restore path (every evicted page brought back before the fork, the ranges managed
// again after it; what preload/fork.cpp did before the takeover) against the takeover
// path (Engine::fork_prepare / fork / fork_parent, the child running Engine::fork_child).
//
// Figures per path (median of FORK_BENCH_ROUNDS, default 5): the parent's fork latency
// (from the prepare step to the parent's return from its after-fork step), the parent's
// resident set at the fork (what the kernel copies page tables for; the restore path's
// footprint spike), and for the takeover the child's time in fork_child.
// Usage: fork_bench [MiB evicted, default 512]. Figures: docs/benchmarks.md.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "uffd/core.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kPage = 4096;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

size_t rss_mib() {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %zu", &kib) == 1) break;
  if (f) fclose(f);
  return kib / 1024;
}

// Compressible data, one value per page (like the preload probes).
void fill(uint64_t* p, size_t len) {
  for (size_t pg = 0; pg < len / kPage; ++pg)
    for (size_t i = 0; i < kPage / 8; ++i) p[pg * (kPage / 8) + i] = (pg * 0x9E3779B97F4A7C15ull | 1) ^ (i % 16);
}

// Evicts every page: staged, then compressed (no reclaim thread: the bench drives it).
void evict_all(uzswap::uffd::EngineCore* core, size_t pages) {
  auto t0 = Clock::now();
  for (int idle = 0; idle < 3;) {
    size_t s = core->stage_cold(4096);
    size_t c = core->compress_staged(0, 8192);
    core->release_staging();
    idle = s == 0 && c == 0 ? idle + 1 : 0;
  }
  fprintf(stderr, "evicted in %.0f ms: resident %zu MiB of %zu\n", ms_since(t0),
          static_cast<size_t>(core->measure().resident >> 20), pages * kPage >> 20);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? strtoull(argv[1], nullptr, 10) : 512;
  const int rounds = getenv("FORK_BENCH_ROUNDS") ? atoi(getenv("FORK_BENCH_ROUNDS")) : 5;
  const size_t len = mib << 20;
  uzswap::EngineConfig cfg;  // no limit: no reclaim thread; eviction driven here
  uzswap::EngineStartResult why;
  uzswap::Engine* engine = uzswap::Engine::start(cfg, &why);
  if (engine == nullptr) {
    fprintf(stderr, "fork_bench: engine did not start: %s\n", why.message);
    return 1;
  }
  auto* core = static_cast<uzswap::uffd::EngineCore*>(engine);
  auto* mem = static_cast<uint64_t*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED || !engine->manage(mem, len)) return 1;
  fill(mem, len);

  std::vector<double> old_ms, old_rss, new_ms, new_rss, child_ms;
  for (int r = 0; r < rounds; ++r) {
    // Restore path. (Rewritten first: after a fork, pages the parent did not write since
    // are shared with the child's copy and UFFDIO_MOVE refuses them, EBUSY.)
    fill(mem, len);
    evict_all(core, len / kPage);
    auto t0 = Clock::now();
    engine->unmanage(mem, len, /*discard=*/false);
    size_t rss = rss_mib();
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    engine->manage(mem, len);
    old_ms.push_back(ms_since(t0));
    old_rss.push_back(static_cast<double>(rss));
    waitpid(pid, nullptr, 0);

    // Takeover path.
    fill(mem, len);
    evict_all(core, len / kPage);
    int fds[2];
    if (pipe(fds) != 0) return 1;
    t0 = Clock::now();
    if (!engine->fork_prepare()) {
      fprintf(stderr, "fork_bench: fork_prepare refused\n");
      return 1;
    }
    rss = rss_mib();
    pid = fork();
    if (pid == 0) {
      auto c0 = Clock::now();
      bool ok = engine->fork_child();
      double ms = ok ? ms_since(c0) : -1;
      (void)!write(fds[1], &ms, sizeof ms);
      _exit(0);
    }
    engine->fork_parent();
    new_ms.push_back(ms_since(t0));
    new_rss.push_back(static_cast<double>(rss));
    double cms = -1;
    (void)!read(fds[0], &cms, sizeof cms);
    child_ms.push_back(cms);
    waitpid(pid, nullptr, 0);
    close(fds[0]);
    close(fds[1]);
  }
  printf("fork of a process with %zu MiB managed, all evicted (median of %d)\n", mib, rounds);
  printf("  restore path : fork latency %8.2f ms, parent resident at fork %6.0f MiB\n", median(old_ms), median(old_rss));
  printf("  takeover path: fork latency %8.2f ms, parent resident at fork %6.0f MiB, child fork_child %.2f ms\n",
         median(new_ms), median(new_rss), median(child_ms));
  return 0;
}
