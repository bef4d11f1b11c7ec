// bench/pool/pool_bench.cpp — pool micro-benchmarks.
//   BM_AllocFree/<size>/<migration>   alloc + free of one object, the class kept populated
//   BM_MapUnmap/<size>/<migration>    map(ReadOnly) + read one byte + unmap
//     each at 1 and 2 threads sharing one pool; migration 1 = PoolConfig::migration on
//   BM_CompactRealSizes               real LZ4-compressed page sizes from this system's
//     files; a random half is freed; reports efficiency (live bytes / backing bytes)
//     before and after compaction, and compaction throughput (MB of objects moved a second)
//   BM_PackChunks                     chunks held before/after pack_chunks() on the same data
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "common/counters.h"
#include "pool/page_provider.h"
#include "pool/pool.h"
#include "real_sizes.h"

namespace uzswap::pool::bench {
namespace {

constexpr size_t kRealPages = 65536;   // 256 MiB of file data
constexpr int kPrefill = 2048;         // live objects per thread that keep zspages from emptying

// One pool per (size, migration) benchmark instance, shared by its threads.
struct SharedPool {
  std::mutex mu;
  std::unique_ptr<Pool> pool;
  int users = 0;
};
SharedPool g_shared;

Pool* acquire_pool(bool migration) {
  std::lock_guard lk(g_shared.mu);
  if (g_shared.users++ == 0) {
    PoolConfig cfg;
    cfg.migration = migration;
    g_shared.pool = Pool::create(cfg);
  }
  return g_shared.pool.get();
}

void release_pool() {
  std::lock_guard lk(g_shared.mu);
  if (--g_shared.users == 0) g_shared.pool.reset();
}

std::vector<Handle> prefill(Pool* pool, size_t size, int n) {
  std::vector<Handle> hs;
  for (int i = 0; i < n; ++i) {
    Handle h = pool->alloc(size);
    void* p = pool->map(h, MapMode::WriteOnly);
    memset(p, i, size);
    pool->unmap(h);
    hs.push_back(h);
  }
  return hs;
}

void BM_AllocFree(benchmark::State& state) {
  size_t size = static_cast<size_t>(state.range(0));
  Pool* pool = acquire_pool(state.range(1) != 0);
  std::vector<Handle> keep = prefill(pool, size, kPrefill);
  for (auto _ : state) {
    Handle h = pool->alloc(size);
    benchmark::DoNotOptimize(h);
    pool->free(h);
  }
  for (Handle h : keep) pool->free(h);
  release_pool();
}

void BM_MapUnmap(benchmark::State& state) {
  size_t size = static_cast<size_t>(state.range(0));
  Pool* pool = acquire_pool(state.range(1) != 0);
  std::vector<Handle> hs = prefill(pool, size, kPrefill);
  size_t i = 0;
  for (auto _ : state) {
    Handle h = hs[i++ % hs.size()];
    auto* p = static_cast<volatile char*>(pool->map(h, MapMode::ReadOnly));
    benchmark::DoNotOptimize(p[0]);
    pool->unmap(h);
  }
  for (Handle h : hs) pool->free(h);
  release_pool();
}

void size_args(benchmark::internal::Benchmark* b) {
  for (int64_t migration : {0, 1})
    for (int64_t size : {24, 100, 200, 500, 1000, 2000, 3000, 4096}) b->Args({size, migration});
}

BENCHMARK(BM_AllocFree)->Apply(size_args)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_MapUnmap)->Apply(size_args)->Threads(1)->Threads(2)->UseRealTime();

struct Fragmented {
  std::unique_ptr<Pool> pool;
  std::vector<Handle> live;
};

// The real sizes stored, then a random half freed.
Fragmented build_fragmented(const RealSizes& rs, uint64_t seed) {
  Fragmented f;
  f.pool = Pool::create({});
  std::vector<Handle> all;
  all.reserve(rs.sizes.size());
  static char fill[kPageSize];
  for (uint32_t s : rs.sizes) {
    Handle h = f.pool->alloc(s);
    f.pool->write(h, fill, s);
    all.push_back(h);
  }
  std::mt19937_64 rng(seed);
  for (Handle h : all)
    if (rng() % 2)
      f.pool->free(h);
    else
      f.live.push_back(h);
  return f;
}

double efficiency(Pool& pool) {
  PoolStats s = pool.stats();
  return s.backing_pages ? static_cast<double>(s.object_bytes) / (s.backing_pages * kPageSize) : 0;
}

void BM_CompactRealSizes(benchmark::State& state) {
  const RealSizes& rs = real_compressed_sizes(kRealPages);
  double eff_before = 0, eff_after = 0, moved_bytes = 0, seconds = 0, footprint_after = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Fragmented f = build_fragmented(rs, 7);
    eff_before = efficiency(*f.pool);
    uint64_t moved0 = counter_read(Counter::pool_compact_bytes_moved);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    f.pool->compact();
    auto t1 = std::chrono::steady_clock::now();
    state.PauseTiming();
    seconds += std::chrono::duration<double>(t1 - t0).count();
    moved_bytes += static_cast<double>(counter_read(Counter::pool_compact_bytes_moved) - moved0);
    eff_after = efficiency(*f.pool);
    PoolStats s = f.pool->stats();
    footprint_after = static_cast<double>(s.object_bytes) / f.pool->footprint_bytes();
    for (Handle h : f.live) f.pool->free(h);
    f.pool.reset();
    state.ResumeTiming();
  }
  uint64_t total = 0, raw = 0;
  for (uint32_t s : rs.sizes) total += s, raw += s == kPageSize;
  state.counters["pages"] = static_cast<double>(rs.sizes.size());
  state.counters["avg_size"] = static_cast<double>(total) / rs.sizes.size();
  state.counters["raw_pct"] = 100.0 * raw / rs.sizes.size();
  state.counters["same_filled_skipped"] = static_cast<double>(rs.same_filled);
  state.counters["eff_before"] = eff_before;
  state.counters["eff_after"] = eff_after;
  state.counters["eff_after_with_meta"] = footprint_after;
  state.counters["compact_MBps"] = moved_bytes / 1e6 / seconds;
}
BENCHMARK(BM_CompactRealSizes)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_FullEfficiencyRealSizes(benchmark::State& state) {
  // No frees: how densely the class table packs the real size mix on its own.
  const RealSizes& rs = real_compressed_sizes(kRealPages);
  double eff = 0;
  for (auto _ : state) {
    auto pool = Pool::create({});
    static char fill[kPageSize];
    std::vector<Handle> hs;
    for (uint32_t s : rs.sizes) {
      Handle h = pool->alloc(s);
      pool->write(h, fill, s);
      hs.push_back(h);
    }
    eff = efficiency(*pool);
    for (Handle h : hs) pool->free(h);
  }
  state.counters["eff_full"] = eff;
}
BENCHMARK(BM_FullEfficiencyRealSizes)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_PackChunks(benchmark::State& state) {
  const RealSizes& rs = real_compressed_sizes(kRealPages);
  double chunks_before = 0, chunks_after = 0, released = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Fragmented f = build_fragmented(rs, 11);
    f.pool->compact();
    chunks_before = static_cast<double>(f.pool->stats().provider_bytes / PageProvider::kChunkSize);
    state.ResumeTiming();
    released = static_cast<double>(f.pool->pack_chunks());
    state.PauseTiming();
    chunks_after = static_cast<double>(f.pool->stats().provider_bytes / PageProvider::kChunkSize);
    for (Handle h : f.live) f.pool->free(h);
    f.pool.reset();
    state.ResumeTiming();
  }
  state.counters["chunks_before"] = chunks_before;
  state.counters["chunks_after"] = chunks_after;
  state.counters["released"] = released;
}
BENCHMARK(BM_PackChunks)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace uzswap::pool::bench

BENCHMARK_MAIN();
