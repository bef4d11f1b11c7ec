// policy/plan.h — the reclaim decision for one tick: a pure function of measurements.
//
// Model: only compression shrinks the footprint (staging moves a page, it does not free
// it). Pages wait in staging for an age window; a touch while staged brings them back
// cheaply and marks them hot, so the pages that reach the pool are the ones nobody
// touched during the window — an LRU approximation without access bits.
//   - Over the limit: stage enough pages to cover the excess not already in flight, and
//     compress staged pages older than stage_seconds. Past limit + margin (the zone where
//     new memory is throttled, policy/throttle.h) the program is outrunning reclaim: the
//     age window is pressure_stage_seconds (0: compress at once), since a page waiting in
//     staging still counts in the footprint.
//   - cold_age_seconds > 0: sweep the resident pages into staging once per cold_age, and
//     compress those untouched for cold_age (exactly "idle longer than cold_age").
//   - Pool at its limit: no staging, no compression.
//   - The limit is unreachable when the pool and metadata alone exceed it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy/mechanics.h"

namespace uzswap::policy {

struct PolicyConfig {
  uint64_t limit_bytes = 0;       // 0 = none
  double cold_age_seconds = 0;    // 0 = off
  double stage_seconds = 0.5;     // age window in staging while over the limit by <= margin
  double pressure_stage_seconds = 0;  // age window while over the limit by more than margin
  uint64_t margin_bytes = 0;      // see stage_seconds (policy/throttle.h throttle_margin)
  double tick_seconds = 0.02;     // planning period
  size_t max_stage_per_tick = 16384;
  size_t staging_slots = 0;       // staging capacity, pages
};

struct TickInputs {
  Footprint footprint;
  size_t staged_pages = 0;
  size_t managed_pages = 0;
  bool pool_full = false;
};

struct TickPlan {
  size_t stage_pages = 0;           // pages to move to staging this tick
  uint64_t compress_min_age_ns = 0; // staged at least this long ...
  size_t compress_pages = 0;        // ... up to this many get compressed
  bool over_limit_unreachable = false;
};

TickPlan plan_tick(const PolicyConfig& config, const TickInputs& in);

}  // namespace uzswap::policy
