// bench/uffd/fault_bench.cpp — fault latency and eviction throughput of the engine.
//
// Prints, from one run:
//   - plain first-touch fault (no uffd) vs first touch in a managed range (bulk zero run);
//   - refault from the pool and from staging, as the program sees it (time around one
//     read of an evicted page, single thread, random order), p50/p90/p99;
//   - eviction throughput: pages/s staged+compressed by one reclaim thread.
// A sample counts as a pool/staging refault only if that counter moved during it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "common/counters.h"
#include "uffd/engine.h"

using namespace uzswap;

namespace {

constexpr size_t kPage = 4096;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void fill_text(uint8_t* p, size_t i) {
  static const char* words[] = {"alpha ", "beta ", "gamma ", "delta ", "uzswap ", "page ", "fault "};
  size_t o = 0, k = i;
  while (o < kPage) {
    const char* w = words[k++ % 7];
    size_t n = strlen(w);
    if (o + n > kPage) n = kPage - o;
    memcpy(p + o, w, n);
    o += n;
    if (k % 13 == 0) k += i;
  }
}

struct Percentiles {
  double p50, p90, p99;
  size_t n;
};

Percentiles percentiles(std::vector<uint64_t>& v) {
  if (v.empty()) return {0, 0, 0, 0};
  std::sort(v.begin(), v.end());
  auto at = [&](double f) { return v[std::min(v.size() - 1, static_cast<size_t>(f * v.size()))] / 1000.0; };
  return {at(0.5), at(0.9), at(0.99), v.size()};
}

void print(const char* what, Percentiles p) {
  printf("%-44s p50 %7.2f us  p90 %7.2f us  p99 %7.2f us  (%zu samples)\n", what, p.p50, p.p90, p.p99, p.n);
}

uint8_t* map(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return static_cast<uint8_t*>(p);
}

Engine* start(EngineConfig cfg) {
  if (const char* v = getenv("UZB_HANDLERS")) cfg.handler_threads = atoi(v);  // for experiments
  EngineStartResult r;
  Engine* e = Engine::start(cfg, &r);
  if (e == nullptr) {
    fprintf(stderr, "engine did not start: %s\n", r.message);
    exit(1);
  }
  return e;
}

// Per-page first-touch write cost: total time / pages, and per-fault samples.
void first_touch(Engine* e, const char* what, size_t pages) {
  uint8_t* mem = map(pages * kPage);
  if (e != nullptr) e->manage(mem, pages * kPage);
  std::vector<uint64_t> samples;
  samples.reserve(pages);
  uint64_t t0 = now_ns();
  for (size_t i = 0; i < pages; ++i) {
    uint64_t a = now_ns();
    mem[i * kPage] = 1;
    samples.push_back(now_ns() - a);
  }
  double per_page = (now_ns() - t0) / 1000.0 / pages;
  Percentiles p = percentiles(samples);
  printf("%-44s %6.2f us/page  (p50 %.2f, p99 %.2f us per touch)\n", what, per_page, p.p50, p.p99);
  if (e != nullptr) e->unmanage(mem, pages * kPage, true);
  munmap(mem, pages * kPage);
}

// Random single-threaded reads of evicted pages; samples classified by `kind`.
Percentiles refault(Engine* e, uint8_t* mem, size_t pages, Counter kind, size_t want) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> samples;
  uint64_t deadline = now_ns() + 20000000000ull;
  while (samples.size() < want && now_ns() < deadline) {
    size_t i = rng() % pages;
    uint64_t before = counter_read(kind);
    uint64_t a = now_ns();
    volatile uint8_t x = mem[i * kPage + 100];
    uint64_t d = now_ns() - a;
    (void)x;
    if (counter_read(kind) == before + 1) samples.push_back(d);
    if (rng() % 8 == 0) usleep(50);  // let reclaim re-evict
  }
  return percentiles(samples);
}

void wait_evicted(Engine* e, size_t pages, bool staged) {
  uint64_t deadline = now_ns() + 30000000000ull;
  while (now_ns() < deadline) {
    EngineStats s = e->stats();
    uint64_t n = staged ? s.staged_pages : s.stored_pages + s.same_filled_pages;
    if (n >= pages * 95 / 100) return;
    usleep(1000);
  }
}

// Loads `pages` of text into a managed mapping and waits until `fraction` of them is
// evicted (stored, or staged if `staged`).
uint8_t* load_and_evict(Engine* e, size_t pages, double fraction, bool staged) {
  uint8_t* mem = map(pages * kPage);
  e->manage(mem, pages * kPage);
  for (size_t i = 0; i < pages; ++i) fill_text(mem + i * kPage, i);
  wait_evicted(e, static_cast<size_t>(pages * fraction), staged);
  return mem;
}

void bench_first_touch(size_t pages) {
  first_touch(nullptr, "first touch, plain (no uffd)", pages);
  Engine* e = start(EngineConfig{});
  first_touch(e, "first touch, managed range", pages);
  Engine::destroy(e);
}

// Eviction throughput, then refaults while reclaim evicts everything they bring back.
void bench_evict_and_pool(size_t pages) {
  EngineConfig cfg;
  cfg.limit_bytes = 1;
  cfg.stage_seconds = 0;
  cfg.reclaim_threads = 1;
  Engine* e = start(cfg);
  uint64_t t0 = now_ns();
  uint8_t* mem = load_and_evict(e, pages, 1.0, false);
  double secs = (now_ns() - t0) / 1e9;
  EngineStats s = e->stats();
  printf("%-44s %8.0f pages/s  (%llu stored, ratio %.2f)\n", "eviction, 1 reclaim thread (stage+compress)",
         (s.stored_pages + s.same_filled_pages) / secs, static_cast<unsigned long long>(s.stored_pages),
         s.stored_pages ? static_cast<double>(s.compressed_bytes) / (s.stored_pages * kPage) : 0.0);
  print("refault from pool (random, reclaim running)", refault(e, mem, pages, Counter::fault_pool, 20000));
  Engine::destroy(e);
  munmap(mem, pages * kPage);
}

// Loads and evicts (fraction `evicted`, staged or stored) under `cfg`, then measures
// `samples` single-thread random refaults of kind `kind`.
void bench_refaults(const char* what, EngineConfig cfg, size_t pages, double evicted, bool staged, Counter kind,
                    size_t samples) {
  Engine* e = start(cfg);
  uint8_t* mem = load_and_evict(e, pages, evicted, staged);
  print(what, refault(e, mem, pages, kind, samples));
  Engine::destroy(e);
  munmap(mem, pages * kPage);
}

// Steady state under a limit: a quarter of the data may stay resident, reclaim only
// re-evicts what the refaults bring back.
void bench_pool_limit(size_t pages) {
  EngineConfig cfg;
  cfg.limit_bytes = pages * kPage / 4;
  cfg.stage_seconds = 0;
  bench_refaults("refault from pool (random, limit 25% of data)", cfg, pages, 0.7, false, Counter::fault_pool, 20000);
}

// Reclaim quiet: everything evicted by age, no limit; a refaulted page stays resident
// until it is idle again, so the refaults do not compete with eviction.
void bench_pool_quiet(size_t pages) {
  EngineConfig cfg;
  cfg.cold_age_seconds = 1;
  cfg.stage_seconds = 0;
  bench_refaults("refault from pool (random, reclaim quiet)", cfg, pages, 1.0, false, Counter::fault_pool, 10000);
}

void bench_staged(size_t pages) {
  EngineConfig cfg;
  cfg.limit_bytes = 1;
  cfg.stage_seconds = 3600;  // stays staged
  bench_refaults("refault from staging (random)", cfg, pages, 1.0, true, Counter::fault_staged, 20000);
}

// Several threads read their own share of evicted pages at once, each page once in random
// order (so every read is a refault from the pool): latency as each thread sees it, and
// the refaults per second of all threads together.
void bench_pool_threads(size_t pages, size_t nthreads) {
  EngineConfig cfg;
  cfg.cold_age_seconds = 1;
  cfg.stage_seconds = 0;
  Engine* e = start(cfg);
  uint8_t* mem = load_and_evict(e, pages, 1.0, false);
  std::vector<std::vector<uint64_t>> samples(nthreads);
  const size_t share = pages / nthreads;
  const uint64_t faults0 = counter_read(Counter::fault_pool);
  const uint64_t t0 = now_ns();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < nthreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<size_t> order(share);
      for (size_t i = 0; i < share; ++i) order[i] = t * share + i;
      std::shuffle(order.begin(), order.end(), std::mt19937_64(t + 1));
      samples[t].reserve(share);
      for (size_t i : order) {
        uint64_t a = now_ns();
        volatile uint8_t x = mem[i * kPage + 100];
        (void)x;
        samples[t].push_back(now_ns() - a);
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = (now_ns() - t0) / 1e9;
  const uint64_t faults = counter_read(Counter::fault_pool) - faults0;
  std::vector<uint64_t> all;
  for (auto& v : samples) all.insert(all.end(), v.begin(), v.end());
  char what[64];
  snprintf(what, sizeof what, "refault from pool, %zu threads at once", nthreads);
  print(what, percentiles(all));
  printf("%-44s %8.0f refaults/s (%llu pool refaults of %zu reads)\n", "", faults / secs,
         static_cast<unsigned long long>(faults), nthreads * share);
  Engine::destroy(e);
  munmap(mem, pages * kPage);
}

void bench_pool_2threads(size_t pages) { bench_pool_threads(pages, 2); }
void bench_pool_4threads(size_t pages) { bench_pool_threads(pages, 4); }

struct Scenario {
  const char* name;
  void (*run)(size_t pages);
};

constexpr Scenario kScenarios[] = {
    {"touch", bench_first_touch}, {"pool", bench_evict_and_pool}, {"limit", bench_pool_limit},
    {"quiet", bench_pool_quiet},  {"staged", bench_staged},   {"threads2", bench_pool_2threads},
    {"threads4", bench_pool_4threads},
};

}  // namespace

// Usage: uffd_fault_bench [pages] [scenario...]  (scenarios: touch pool limit quiet staged
// threads2 threads4; all by default).
int main(int argc, char** argv) {
  size_t pages = 16384;  // 64 MiB
  if (argc > 1) pages = strtoul(argv[1], nullptr, 0);
  printf("uzswap fault engine benchmark: %zu pages (%zu MiB), %ld CPUs\n", pages, pages * kPage >> 20,
         sysconf(_SC_NPROCESSORS_ONLN));
  for (const Scenario& sc : kScenarios) {
    bool wanted = argc <= 2;
    for (int i = 2; i < argc; ++i) wanted |= strcmp(argv[i], sc.name) == 0;
    if (wanted) sc.run(pages);
  }
  return 0;
}
