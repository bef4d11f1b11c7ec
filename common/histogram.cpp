// common/histogram.cpp — see histogram.h for the layout.
#include "common/histogram.h"

namespace uzswap {
namespace {

constexpr HistogramInfo kInfo[] = {
#define UZ_HISTOGRAM(name, help) {#name, help},
#include "common/histogram.def"
#undef UZ_HISTOGRAM
};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == kNumHistograms);

HistogramBlock g_static_block;
std::atomic<HistogramBlock*> g_block{&g_static_block};

size_t my_row_index() {
  // Share the counters' row choice so one thread touches one row index everywhere.
  CounterRow* row = &counters_my_row();
  return static_cast<size_t>(row - &counters_block()->row[0]);
}

}  // namespace

const HistogramInfo& histogram_info(Histogram h) { return kInfo[static_cast<size_t>(h)]; }

HistogramBlock* histograms_block() { return g_block.load(std::memory_order_acquire); }

void histograms_relocate(HistogramBlock* block) {
  HistogramBlock* old = histograms_block();
  if (block == old) return;
  for (size_t r = 0; r < kCounterSlots; ++r)
    for (size_t h = 0; h < kNumHistograms; ++h)
      for (size_t b = 0; b < kHistogramBuckets; ++b)
        block->row[r].count[h][b].store(old->row[r].count[h][b].load(std::memory_order_relaxed),
                                        std::memory_order_relaxed);
  g_block.store(block, std::memory_order_release);
}

void histogram_record(Histogram h, uint64_t ns) {
  histograms_block()->row[my_row_index()].count[static_cast<size_t>(h)][histogram_bucket(ns)].fetch_add(
      1, std::memory_order_relaxed);
}

uint64_t histogram_read(Histogram h, size_t bucket) {
  HistogramBlock* b = histograms_block();
  uint64_t sum = 0;
  for (size_t r = 0; r < kCounterSlots; ++r)
    sum += b->row[r].count[static_cast<size_t>(h)][bucket].load(std::memory_order_relaxed);
  return sum;
}

uint64_t histogram_percentile(Histogram h, double fraction) {
  uint64_t counts[kHistogramBuckets];
  uint64_t total = 0;
  for (size_t b = 0; b < kHistogramBuckets; ++b) total += counts[b] = histogram_read(h, b);
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(fraction * static_cast<double>(total));
  uint64_t seen = 0;
  for (size_t b = 0; b < kHistogramBuckets; ++b) {
    seen += counts[b];
    if (seen > want || b + 1 == kHistogramBuckets) return uint64_t{1} << (b + 1);
  }
  return 0;
}

}  // namespace uzswap
