// common/histogram.h — lock-free latency histograms, summed when read.
//
// Data layout: like counters.h, a HistogramBlock holds kCounterSlots rows; a row holds
// kNumHistograms x kHistogramBuckets 64-bit counts. A thread records into its own row
// (same row index as its counters) with relaxed atomic adds; readers sum rows.
// The block may be moved into the exported stats region (histograms_relocate), once,
// before uzswap starts any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/counters.h"

namespace uzswap {

enum class Histogram : uint32_t {
#define UZ_HISTOGRAM(name, help) name,
#include "common/histogram.def"
#undef UZ_HISTOGRAM
  kCount
};

inline constexpr size_t kNumHistograms = static_cast<size_t>(Histogram::kCount);
inline constexpr size_t kHistogramBuckets = 40;  // up to 2^40 ns (~18 min)

struct HistogramInfo {
  const char* name;
  const char* help;
};
const HistogramInfo& histogram_info(Histogram h);

struct HistogramRow {
  alignas(64) std::atomic<uint64_t> count[kNumHistograms][kHistogramBuckets];
};
struct HistogramBlock {
  HistogramRow row[kCounterSlots];
};

HistogramBlock* histograms_block();
void histograms_relocate(HistogramBlock* block);

// Bucket index of a sample of `ns` nanoseconds.
inline size_t histogram_bucket(uint64_t ns) {
  if (ns <= 1) return 0;
  size_t b = 63 - static_cast<size_t>(__builtin_clzll(ns));
  return b < kHistogramBuckets ? b : kHistogramBuckets - 1;
}

void histogram_record(Histogram h, uint64_t ns);
// Sum of one bucket over all rows.
uint64_t histogram_read(Histogram h, size_t bucket);
// The value below which `fraction` (0..1) of samples fall, at bucket resolution (upper
// edge of the bucket); 0 if there are no samples.
uint64_t histogram_percentile(Histogram h, double fraction);

}  // namespace uzswap
