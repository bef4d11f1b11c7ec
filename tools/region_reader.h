// tools/region_reader.h — reads a stats region (preload/stats_layout.h) into a Snapshot.
//
// The region may come from any file: truncated, corrupt, foreign, written by a newer
// uzswap, or changing under us while we read. parse_region() trusts nothing it has not
// checked: it copies the header and the names into private memory before validating
// them, bounds every access by the validated section table, and reads live words with
// aligned 64-bit atomic loads. Every failure is a ParseError with one human line; it
// never crashes and never reads outside [base, base + size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uzswap::zsstat {

struct NamedValue {
  std::string name;
  std::string unit;
  std::string help;
  uint64_t value = 0;
};

struct HistogramValue {
  std::string name;
  std::string help;
  std::vector<uint64_t> buckets;  // bucket b: samples in [2^b, 2^(b+1)) ns

  uint64_t total() const;
  // Upper edge (ns) of the bucket holding the `fraction` quantile; 0 without samples.
  uint64_t percentile_ns(double fraction) const;
};

struct Snapshot {
  uint32_t version = 0;
  uint32_t state = 0;  // stats::RegionState
  int32_t pid = 0;
  uint64_t start_time = 0;
  uint32_t uid = 0;
  uint32_t page_size = 0;
  uint32_t ncpu = 0;
  uint64_t created_realtime_ns = 0;
  std::string command;  // non-printable bytes replaced by '?'

  std::vector<NamedValue> counters;
  std::vector<HistogramValue> histograms;
  std::vector<NamedValue> gauges;
  std::vector<std::string> class_columns;
  std::vector<std::vector<uint64_t>> classes;  // rows of class_columns.size() values
  std::string options;                         // "name=value\n" lines, sanitised

  uint64_t publish_count = 0;
  uint64_t publish_monotonic_ns = 0;
  uint64_t publish_realtime_ns = 0;

  std::optional<uint64_t> gauge(std::string_view name) const;
  std::optional<uint64_t> counter(std::string_view name) const;
  // Index of a class column by name, or -1.
  int class_column(std::string_view name) const;
};

enum class ParseError {
  None,
  Uninitialised,  // all-zero magic: a region still being built
  NotARegion,     // wrong magic: a foreign file
  Truncated,      // smaller than its header says
  NewerVersion,   // written by a newer uzswap
  Corrupt,        // inconsistent header, section table or names
  Busy,           // the gauges never held still long enough to copy
};

struct ParseResult {
  ParseError error = ParseError::None;
  std::string message;  // one line, empty when error == None
  bool ok() const { return error == ParseError::None; }
};

// `seq_retries`: how many times to retry a gauge copy torn by a concurrent publish.
ParseResult parse_region(const uint8_t* base, size_t size, Snapshot* out, int seq_retries = 2000);

}  // namespace uzswap::zsstat
