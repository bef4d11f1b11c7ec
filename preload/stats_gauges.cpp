// preload/stats_gauges.cpp — see stats_gauges.h. Maps EngineStats, PoolStats and
// ClassStats field by field onto the gauges of stats_gauges.def.
#include "preload/stats_gauges.h"

#include <atomic>
#include <cstring>

#include "pool/pool.h"
#include "uffd/engine.h"

namespace uzswap::stats {
namespace {

constexpr GaugeInfo kGaugeInfo[] = {
#define UZ_GAUGE(name, unit, help) {#name, unit, help},
#include "preload/stats_gauges.def"
#undef UZ_GAUGE
};
static_assert(sizeof(kGaugeInfo) / sizeof(kGaugeInfo[0]) == kNumGauges);

constexpr ClassColumnInfo kClassColumnInfo[] = {
#define UZ_CLASS_COLUMN(name, help) {#name, help},
#include "preload/stats_classes.def"
#undef UZ_CLASS_COLUMN
};
static_assert(sizeof(kClassColumnInfo) / sizeof(kClassColumnInfo[0]) == kNumClassColumns);

void fill_class_row(const pool::ClassStats& cs, uint64_t* row) {
#define UZ_CLASS_COLUMN(name, help) row[static_cast<size_t>(ClassColumn::name)] = cs.name;
#include "preload/stats_classes.def"
#undef UZ_CLASS_COLUMN
}

}  // namespace

const GaugeInfo& gauge_info(Gauge g) { return kGaugeInfo[static_cast<size_t>(g)]; }
const ClassColumnInfo& class_column_info(ClassColumn c) {
  return kClassColumnInfo[static_cast<size_t>(c)];
}

void gauges_clear(GaugeFrame* frame) {
  memset(frame->value, 0, sizeof frame->value);
  frame->num_classes = 0;
}

void gauges_from_pool(pool::Pool* pool, GaugeFrame* f) {
  pool::PoolStats ps = pool->stats();
  f->set(Gauge::pool_objects, ps.objects);
  f->set(Gauge::pool_object_bytes, ps.object_bytes);
  f->set(Gauge::pool_backing_pages, ps.backing_pages);
  f->set(Gauge::pool_metadata_bytes, ps.metadata_bytes);
  f->set(Gauge::pool_provider_bytes, ps.provider_bytes);
  f->set(Gauge::pool_limit_bytes, ps.limit_bytes);
  f->set(Gauge::pool_zspages, ps.zspages);
  f->set(Gauge::pool_isolated_pages, ps.isolated_pages);
  f->set(Gauge::pool_footprint_bytes, pool->footprint_bytes());
  size_t n = pool->num_classes();
  if (n > kMaxClasses) n = kMaxClasses;
  for (size_t i = 0; i < n; ++i) fill_class_row(pool->class_stats(i), f->classes[i]);
  f->num_classes = static_cast<uint32_t>(n);
}

// Written by the coverage scan (preload/coverage.cpp), which is not part of the core.
std::atomic<uint64_t> g_coverage_permille{0};

void gauges_set_coverage_permille(uint64_t permille) { g_coverage_permille.store(permille, std::memory_order_relaxed); }

void gauges_from_engine(Engine* engine, GaugeFrame* f) {
  gauges_clear(f);
  EngineStats es = engine->stats();
  f->set(Gauge::engine_attached, 1);
  f->set(Gauge::managed_bytes, es.managed_bytes);
  f->set(Gauge::resident_bytes, es.resident_bytes);
  f->set(Gauge::staged_pages, es.staged_pages);
  f->set(Gauge::stored_pages, es.stored_pages);
  f->set(Gauge::same_filled_pages, es.same_filled_pages);
  f->set(Gauge::compressed_bytes, es.compressed_bytes);
  f->set(Gauge::pool_bytes, es.pool_bytes);
  f->set(Gauge::staging_bytes, es.staging_bytes);
  f->set(Gauge::metadata_bytes, es.metadata_bytes);
  f->set(Gauge::footprint_bytes, es.footprint_bytes);
  f->set(Gauge::limit_bytes, es.limit_bytes);
  f->set(Gauge::over_limit_unreachable, es.over_limit_unreachable ? 1 : 0);
  if (pool::Pool* pool = engine->pool()) gauges_from_pool(pool, f);
  f->set(Gauge::coverage_permille, g_coverage_permille.load(std::memory_order_relaxed));
}

}  // namespace uzswap::stats
