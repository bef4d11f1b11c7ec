// policy/plan.cpp — see plan.h for the model.
#include "policy/plan.h"

#include <algorithm>

namespace uzswap::policy {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t seconds_to_ns(double s) { return s <= 0 ? 0 : static_cast<uint64_t>(s * 1e9); }

}  // namespace

TickPlan plan_tick(const PolicyConfig& c, const TickInputs& in) {
  TickPlan p;
  const Footprint& f = in.footprint;
  if (c.limit_bytes > 0 && f.pool + f.metadata >= c.limit_bytes) p.over_limit_unreachable = true;
  if (in.pool_full) return p;

  size_t room = c.staging_slots > in.staged_pages ? c.staging_slots - in.staged_pages : 0;
  uint64_t excess = c.limit_bytes > 0 && f.total() > c.limit_bytes ? f.total() - c.limit_bytes : 0;
  if (excess > 0) {
    size_t excess_pages = static_cast<size_t>((excess + kPage - 1) / kPage);
    // Pages already staged will be compressed within the window; stage the rest.
    size_t need = excess_pages > in.staged_pages ? excess_pages - in.staged_pages : 0;
    p.stage_pages = std::min({need, room, c.max_stage_per_tick});
    // Past the margin, compress at once to get back under the limit; but not when the limit
    // is unreachable (the compressed data alone exceeds it): there no amount of compressing
    // gets under it, and skipping the staging test would only move the working set into the
    // pool and back.
    const bool press = excess > c.margin_bytes && !p.over_limit_unreachable;
    p.compress_min_age_ns = seconds_to_ns(press ? c.pressure_stage_seconds : c.stage_seconds);
    // Pages staged during this tick may come of age before the next one.
    p.compress_pages = in.staged_pages + p.stage_pages;
  }
  if (c.cold_age_seconds > 0) {
    size_t resident_pages = static_cast<size_t>(f.resident / kPage);
    double per_tick = static_cast<double>(resident_pages) * c.tick_seconds / c.cold_age_seconds;
    size_t sweep = static_cast<size_t>(per_tick) + 1;
    if (excess == 0) {
      p.stage_pages = std::min({sweep, room, c.max_stage_per_tick});
      p.compress_min_age_ns = seconds_to_ns(c.cold_age_seconds);
      p.compress_pages = in.staged_pages;
    } else {
      p.stage_pages = std::min({std::max(p.stage_pages, sweep), room, c.max_stage_per_tick});
    }
  }
  if (f.resident == 0) p.stage_pages = 0;  // nothing left to evict
  return p;
}

}  // namespace uzswap::policy
