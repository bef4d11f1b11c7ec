// preload/stats_region.h — making, naming and removing the stats region file.
//
// The region's format is preload/stats_layout.h. This unit only builds it: computes the
// section table from the compiled-in counters, histograms and gauges, creates the file
// (".tmp" name, O_EXCL|O_NOFOLLOW, mode 0600, then rename into place), maps it
// MAP_SHARED and writes the header and names. It holds no state: the caller owns the
// MappedRegion. Nothing here allocates from the heap.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

#include "preload/stats_layout.h"

namespace uzswap::stats {

inline constexpr uint32_t kOptionsCapacity = 8192;  // bytes of "name=value\n" text

struct MappedRegion {
  uint8_t* base = nullptr;  // nullptr: none
  size_t size = 0;
  char path[PATH_MAX] = {};

  RegionHeader* header() const { return reinterpret_cast<RegionHeader*>(base); }
  uint8_t* at(uint64_t offset) const { return base + offset; }
};

// The directory regions live in: `dir` if given, else $UZSWAP_STATS_DIR, else /dev/shm.
const char* region_dir(const char* dir);
// This process's start time from /proc/self/stat (field 22), 0 if unreadable.
uint64_t self_start_time();
// Writes "<dir>/uzswap.<uid>.<pid>.<start_time>[.tmp]"; false if it does not fit.
bool region_path(char* buf, size_t cap, const char* dir, uint32_t uid, int32_t pid,
                 uint64_t start_time, bool tmp);

// Creates and maps this process's region. On failure returns false with a short reason
// in `why` (no log line: the caller decides) and leaves no file behind.
bool region_create(const char* dir, MappedRegion* out, char* why, size_t why_cap);
// Marks the region Stopped and removes its file; the mapping stays (see stats_export.cpp).
void region_retire(MappedRegion* region);
// Unmaps (only once nothing can write into it any more).
void region_unmap(MappedRegion* region);

}  // namespace uzswap::stats
