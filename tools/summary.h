// tools/summary.h — figures zsstat derives from a Snapshot: the zramctl-style summary,
// the grouping of counters into sections, per-second rates, and unit formatting.
// Pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/region_reader.h"

namespace uzswap::zsstat {

struct Summary {
  bool engine_attached = false;
  uint64_t data_bytes = 0;        // DATA: uncompressed bytes held out of the program (stored + same-filled)
  uint64_t compressed_bytes = 0;  // COMPR: compressed size of the stored pages
  uint64_t total_bytes = 0;       // TOTAL: memory the pool costs (backing pages + metadata)
  double ratio = 0;               // DATA / COMPR, 0 if nothing is stored
  int64_t saved_bytes = 0;        // DATA - TOTAL: memory given back to the system
  uint64_t limit_bytes = 0;
  uint64_t pool_limit_bytes = 0;
  uint64_t footprint_bytes = 0;
  uint64_t resident_bytes = 0;
  uint64_t staging_bytes = 0;
  uint64_t metadata_bytes = 0;
  uint64_t managed_bytes = 0;
  uint64_t stored_pages = 0;
  uint64_t same_filled_pages = 0;
  uint64_t staged_pages = 0;
  bool over_limit_unreachable = false;
  // Managed resident bytes per 1000 bytes of the program's anonymous RSS, from the coverage
  // scan's last measurement; 0 = not measured (scan off, or not yet run).
  uint64_t coverage_permille = 0;
};
Summary summarize(const Snapshot& s);

// A titled section of the event counters (indices into Snapshot::counters). Counters are
// grouped by name prefix, so counters added later land in a sensible section unasked.
struct CounterGroup {
  std::string title;
  std::vector<size_t> counters;
};
std::vector<CounterGroup> group_counters(const Snapshot& s);

// Per-second rates of every counter of `now` between two snapshots `seconds` apart
// (matched by name; a counter absent from `before` or gone backwards rates 0).
std::vector<double> counter_rates(const Snapshot& before, const Snapshot& now, double seconds);

// "1.5G", "300.0M", "12.0K", "512B" (binary units).
std::string human_bytes(uint64_t bytes);
// "850ns", "4.1us", "2.0ms", "1.2s".
std::string human_ns(uint64_t ns);

}  // namespace uzswap::zsstat
