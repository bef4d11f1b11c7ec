// preload/stats_layout.h — the wire format of the stats region that zsstat reads.
//
// One region per process under uzswap: a file <dir>/uzswap.<uid>.<pid>.<starttime>
// (<dir> = $UZSWAP_STATS_DIR or /dev/shm; <starttime> = field 22 of /proc/<pid>/stat,
// which tells a reused pid from the original), mode 0600, mapped MAP_SHARED by its
// process. The file is built under a ".tmp" name and renamed into place, so a reader
// never sees a half-built region under the final name.
//
// Data layout (all integers native-endian; every section offset is 64-byte aligned):
//
//   RegionHeader          magic, version, sizes, identity of the process, section table
//   names                 NUL-terminated strings, in this order:
//                           per counter:       name, unit, help
//                           per histogram:     name, help
//                           per gauge:         name, unit, help
//                           per class column:  name
//   counters              counter_rows rows of counter_row_stride bytes; row r, counter i
//                         is the uint64 at r * stride + 8 * i (common/counters.h's
//                         CounterBlock, relocated here: hot paths write it directly)
//   histograms            histogram_rows rows of histogram_row_stride bytes; row r,
//                         histogram h, bucket b is the uint64 at
//                         r * stride + 8 * (h * histogram_buckets + b) (HistogramBlock)
//   gauges                GaugeSectionHeader, then num_gauges uint64 gauges, then
//                         max_classes rows of num_class_columns uint64, then
//                         options_capacity bytes of "name=value\n" text
//
// Concurrency: counters and histograms are summed by readers over the rows (each value
// only grows; relaxed loads). The gauges section is written by one publisher at a time
// under a seqlock (GaugeSectionHeader::seq odd while a write is in progress): a reader
// copies it and retries until seq was even and unchanged across the copy. Every word of
// the section is written with 64-bit release stores and read with acquire loads.
//
// States (RegionHeader::state): Live -> Stopped (stats_export_stop; the file is unlinked
// at the same time). A region whose process is gone, or whose pid now belongs to a
// process with another start time, is dead whatever its state says.
//
// Compatibility: a reader accepts version <= its own and header_size >= the size it
// knows (later versions may only append fields and sections). Names, counts and strides
// are read from the region, never assumed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::stats {

inline constexpr char kRegionMagic[8] = {'U', 'Z', 'S', 'S', 'T', 'A', 'T', '1'};
inline constexpr uint32_t kRegionVersion = 1;
inline constexpr char kRegionPrefix[] = "uzswap.";
inline constexpr char kTmpSuffix[] = ".tmp";
inline constexpr char kDefaultDir[] = "/dev/shm";
inline constexpr char kDirEnv[] = "UZSWAP_STATS_DIR";
inline constexpr size_t kCommandBytes = 256;
inline constexpr size_t kSectionAlign = 64;

enum class RegionState : uint32_t {
  Live = 1,     // the process publishes
  Stopped = 2,  // stats_export_stop ran (the file is normally unlinked too)
};

struct Section {
  uint64_t offset;  // from the start of the region
  uint64_t size;    // bytes
};

struct RegionHeader {
  char magic[8];                 // kRegionMagic
  uint32_t version;              // kRegionVersion of the writer
  uint32_t header_size;          // sizeof(RegionHeader) of the writer
  uint64_t total_size;           // bytes of the whole region (= file size)
  uint32_t state;                // RegionState; atomic access
  int32_t pid;                   // the publishing process
  uint64_t start_time;           // its /proc/<pid>/stat start time (clock ticks), 0 = unknown
  uint32_t uid;                  // its real uid (the file's owner)
  uint32_t page_size;            // bytes
  uint32_t ncpu;                 // online CPUs when the region was made
  uint32_t reserved0;
  uint64_t created_realtime_ns;  // CLOCK_REALTIME at creation
  char command[kCommandBytes];   // argv joined by spaces, truncated, NUL-terminated

  Section names;
  uint32_t num_counters;
  uint32_t num_histograms;
  uint32_t num_gauges;
  uint32_t num_class_columns;

  Section counters;
  uint32_t counter_rows;
  uint32_t counter_row_stride;   // bytes

  Section histograms;
  uint32_t histogram_rows;
  uint32_t histogram_row_stride;  // bytes
  uint32_t histogram_buckets;     // bucket b counts samples in [2^b, 2^(b+1)) ns
  uint32_t reserved1;

  Section gauges;
  uint32_t max_classes;          // rows of the class table
  uint32_t options_capacity;     // bytes of the options text area (a multiple of 8)
};

// At the start of the gauges section. Every field is accessed atomically.
struct GaugeSectionHeader {
  uint64_t seq;                   // seqlock sequence: odd while a publish is in progress
  uint64_t publish_count;         // publishes so far
  uint64_t publish_monotonic_ns;  // CLOCK_MONOTONIC of the last publish (a heartbeat)
  uint64_t publish_realtime_ns;   // CLOCK_REALTIME of the last publish
  uint64_t num_classes;           // valid rows of the class table (<= max_classes)
  uint64_t options_length;        // valid bytes of the options text (<= options_capacity)
};

inline constexpr size_t kGaugeValuesOffset = sizeof(GaugeSectionHeader);

// Limits a reader enforces before trusting counts read from a region.
inline constexpr uint32_t kMaxNames = 4096;
inline constexpr uint32_t kMaxRows = 1024;
inline constexpr uint32_t kMaxBuckets = 64;
inline constexpr uint32_t kMaxClassRows = 4096;
inline constexpr uint32_t kMaxClassColumns = 64;
inline constexpr uint32_t kMaxOptionsBytes = 1 << 16;
inline constexpr uint64_t kMaxRegionBytes = 64ull << 20;

static_assert(sizeof(RegionHeader) % 8 == 0);
static_assert(sizeof(GaugeSectionHeader) == 48);

}  // namespace uzswap::stats
