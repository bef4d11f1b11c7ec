// tests/tools/stats_publisher.cpp — a process that publishes uzswap stats for zsstat's
// tests: it starts the stats export, stores LZ4-compressed pages in a real pool (the
// pool's own counters move), loads some back (checking every byte, timing each load into
// the fault_pool histogram) and publishes its tallies and the pool's figures as gauges.
//
//   stats_publisher [--fixed N] [--fork N2] [--period-ms M] [--seconds S]
//     --fixed N     store exactly N pages, load none, then idle (deterministic counters)
//     --fork N2     after that, fork; the child stores N2 pages of its own, then idles
//     --detach      with --fork: the child detaches from the export (no region of its own)
//     --period-ms   pause between steps of the continuous workload (default 2)
//     --seconds S   exit after S seconds (default 120)
//     --label TEXT  ignored: only appears in the command line zsstat shows
// Prints "ready <pid> <region path>" once per process when its region is up. SIGTERM
// stops the export (the region file goes away) and exits 0. Exit 4: a loaded page came
// back with wrong bytes; exit 3: the export or the pool could not start.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/histogram.h"
#include "pool/compressor.h"
#include "pool/pool.h"
#include "preload/stats_export.h"
#include "preload/stats_gauges.h"

namespace {

using namespace uzswap;

constexpr size_t kPage = pool::kPageSize;
constexpr uint64_t kLimit = 64ull << 20;

volatile sig_atomic_t g_stop = 0;

struct Stored {
  pool::Handle handle;
  uint32_t seed;
  uint32_t compressed;
};

struct Workload {
  std::unique_ptr<pool::Pool> pool;
  pool::Compressor* lz4 = pool::compressor_get(pool::CompressorKind::Lz4);
  std::vector<Stored> stored;  // touched by the main thread only
  std::atomic<uint64_t> stored_pages{0};
  std::atomic<uint64_t> compressed_bytes{0};
  std::atomic<uint64_t> managed_pages{0};
};

// A page that compresses about 4:1 and is a function of its seed.
void fill_page(uint8_t* page, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < kPage; i += 4) {
    x = x * 1103515245u + 12345u;
    uint32_t v = (i % 64 < 16) ? x : seed;
    memcpy(page + i, &v, 4);
  }
}

bool store_page(Workload* w, uint32_t seed) {
  alignas(8) uint8_t page[kPage], out[kPage];
  fill_page(page, seed);
  size_t n = w->lz4->compress(page, kPage, out, sizeof out);
  if (n == 0) return false;
  pool::Handle h = w->pool->alloc(n);
  if (h == pool::kNoHandle) return false;
  w->pool->write(h, out, n);
  w->stored.push_back({h, seed, static_cast<uint32_t>(n)});
  w->stored_pages.fetch_add(1, std::memory_order_relaxed);
  w->compressed_bytes.fetch_add(n, std::memory_order_relaxed);
  w->managed_pages.fetch_add(1, std::memory_order_relaxed);
  return true;
}

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Loads one stored page back, frees it and checks its bytes; false on a mismatch.
bool load_page(Workload* w, size_t index) {
  Stored s = w->stored[index];
  w->stored[index] = w->stored.back();
  w->stored.pop_back();
  alignas(8) uint8_t comp[kPage], page[kPage], want[kPage];
  uint64_t t0 = now_ns();
  w->pool->read(s.handle, comp, s.compressed);
  bool ok = w->lz4->decompress(comp, s.compressed, page, kPage);
  histogram_record(Histogram::fault_pool, now_ns() - t0);
  w->pool->free(s.handle);
  w->stored_pages.fetch_sub(1, std::memory_order_relaxed);
  w->compressed_bytes.fetch_sub(s.compressed, std::memory_order_relaxed);
  fill_page(want, s.seed);
  return ok && memcmp(page, want, kPage) == 0;
}

// Gauges as an engine would publish them for this workload, plus the real pool's.
void publish_workload(void* ctx, stats::GaugeFrame* f) {
  auto* w = static_cast<Workload*>(ctx);
  uint64_t stored = w->stored_pages.load(std::memory_order_relaxed);
  uint64_t managed = w->managed_pages.load(std::memory_order_relaxed);
  f->set(stats::Gauge::managed_bytes, managed * kPage);
  f->set(stats::Gauge::resident_bytes, (managed - stored) * kPage);
  f->set(stats::Gauge::stored_pages, stored);
  f->set(stats::Gauge::compressed_bytes, w->compressed_bytes.load(std::memory_order_relaxed));
  f->set(stats::Gauge::limit_bytes, kLimit);
  stats::gauges_from_pool(w->pool.get(), f);
  f->set(stats::Gauge::pool_bytes, f->get(stats::Gauge::pool_footprint_bytes));
  f->set(stats::Gauge::footprint_bytes, (managed - stored) * kPage + f->get(stats::Gauge::pool_footprint_bytes));
}

void announce() {
  const char* path = stats_export_path();
  printf("ready %d %s\n", static_cast<int>(getpid()), path ? path : "-");
  fflush(stdout);
}

int idle_until_stopped(uint64_t deadline) {
  while (!g_stop && now_ns() < deadline) usleep(10000);
  stats_export_stop();
  return 0;
}

int run_continuous(Workload* w, long period_ms, uint64_t deadline) {
  uint32_t seed = static_cast<uint32_t>(getpid()) << 12;
  for (uint64_t step = 0; !g_stop && now_ns() < deadline; ++step) {
    store_page(w, seed++);
    if (step % 3 == 2 && !w->stored.empty() && !load_page(w, step % w->stored.size())) {
      fprintf(stderr, "stats_publisher: a page came back with wrong bytes\n");
      return 4;
    }
    if (period_ms) usleep(static_cast<useconds_t>(period_ms * 1000));
  }
  stats_export_stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  long fixed = -1, fork_pages = -1, period_ms = 2, seconds = 120;
  bool detach = false;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strcmp(a, "--detach")) {
      detach = true;
      continue;
    }
    long v = i + 1 < argc ? atol(argv[++i]) : 0;
    if (!strcmp(a, "--fixed")) fixed = v;
    else if (!strcmp(a, "--fork")) fork_pages = v;
    else if (!strcmp(a, "--period-ms")) period_ms = v;
    else if (!strcmp(a, "--seconds")) seconds = v;
  }
  signal(SIGTERM, [](int) { g_stop = 1; });
  if (!stats_export_start(StatsExportOptions{})) return 3;
  Workload w;
  w.pool = pool::Pool::create(pool::PoolConfig{});
  if (!w.pool) return 3;
  stats_export_set_source(publish_workload, &w);
  stats_export_set_options("limit=64M\ncompressor=lz4\ncold_age=0\nhandler_threads=0\n");
  uint64_t deadline = now_ns() + static_cast<uint64_t>(seconds) * 1000000000ull;
  if (fixed < 0) {
    announce();
    return run_continuous(&w, period_ms, deadline);
  }
  for (long i = 0; i < fixed; ++i) store_page(&w, static_cast<uint32_t>(i));
  stats_export_publish_now();
  if (fork_pages >= 0) {
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
      if (detach) {
        stats_export_detach_child();
      } else {
        stats_export_fork_child();
        stats_export_set_source(publish_workload, &w);
      }
      for (long i = 0; i < fork_pages; ++i) store_page(&w, static_cast<uint32_t>(1000000 + i));
      stats_export_publish_now();
      announce();
      return idle_until_stopped(deadline);
    }
  }
  announce();
  return idle_until_stopped(deadline);
}
