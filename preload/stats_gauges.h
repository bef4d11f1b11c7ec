// preload/stats_gauges.h — the gauges the stats region publishes, and how they are taken
// from the engine and the pool.
//
// A GaugeFrame is one snapshot: every gauge of stats_gauges.def plus the per-class table
// (stats_classes.def columns). The publisher fills a frame from a GaugeSource, then copies
// it into the region under the seqlock (preload/stats_export.cpp). No state of its own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap {
class Engine;
namespace pool {
class Pool;
}
}  // namespace uzswap

namespace uzswap::stats {

enum class Gauge : uint32_t {
#define UZ_GAUGE(name, unit, help) name,
#include "preload/stats_gauges.def"
#undef UZ_GAUGE
  kCount
};
inline constexpr size_t kNumGauges = static_cast<size_t>(Gauge::kCount);

enum class ClassColumn : uint32_t {
#define UZ_CLASS_COLUMN(name, help) name,
#include "preload/stats_classes.def"
#undef UZ_CLASS_COLUMN
  kCount
};
inline constexpr size_t kNumClassColumns = static_cast<size_t>(ClassColumn::kCount);
// Rows of the class table in the region; the pool has 4096/16 + 1 classes at most.
inline constexpr size_t kMaxClasses = 512;

struct GaugeInfo {
  const char* name;
  const char* unit;
  const char* help;
};
const GaugeInfo& gauge_info(Gauge g);
struct ClassColumnInfo {
  const char* name;
  const char* help;
};
const ClassColumnInfo& class_column_info(ClassColumn c);

struct GaugeFrame {
  uint64_t value[kNumGauges];
  uint32_t num_classes;  // valid rows of `classes`
  uint64_t classes[kMaxClasses][kNumClassColumns];

  void set(Gauge g, uint64_t v) { value[static_cast<size_t>(g)] = v; }
  uint64_t get(Gauge g) const { return value[static_cast<size_t>(g)]; }
};

// Fills `frame` (fully: gauges it cannot know are 0). Called by the publisher thread
// with its own frame; nothing allocated.
void gauges_clear(GaugeFrame* frame);
void gauges_from_engine(Engine* engine, GaugeFrame* frame);
// The coverage ratio for the coverage_permille gauge (set by preload/coverage.cpp).
void gauges_set_coverage_permille(uint64_t permille);
void gauges_from_pool(pool::Pool* pool, GaugeFrame* frame);

}  // namespace uzswap::stats
