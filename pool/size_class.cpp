// pool/size_class.cpp — see size_class.h.
#include "pool/size_class.h"

namespace uzswap::pool {

uint16_t pages_per_zspage_for(size_t class_size) {
  size_t best_used_pct = 0;
  uint16_t best = 1;
  for (size_t pages = 1; pages <= kMaxPagesPerZspage; ++pages) {
    size_t bytes = pages * kPageSize;
    size_t used_pct = (bytes - bytes % class_size) * 100 / bytes;
    if (used_pct > best_used_pct) {
      best_used_pct = used_pct;
      best = static_cast<uint16_t>(pages);
    }
  }
  return best;
}

ClassTable::ClassTable() {
  // Walk from the largest raw class down, merging a raw class into the previous (larger)
  // one when both have the same zspage shape; then renumber in ascending size order.
  uint16_t desc_index[kNumRawClasses];
  SizeClass desc[kNumRawClasses];
  size_t n = 0;
  for (size_t raw = kNumRawClasses; raw-- > 0;) {
    size_t size = kMinClassSize + raw * kClassDelta;
    uint16_t pages = pages_per_zspage_for(size);
    uint16_t objs = static_cast<uint16_t>(pages * kPageSize / size);
    if (n > 0 && desc[n - 1].pages_per_zspage == pages && desc[n - 1].objs_per_zspage == objs) {
      desc_index[raw] = static_cast<uint16_t>(n - 1);
      continue;
    }
    desc[n] = SizeClass{static_cast<uint32_t>(size), 0, pages, objs, objs == 1};
    desc_index[raw] = static_cast<uint16_t>(n);
    ++n;
  }
  count_ = n;
  for (size_t i = 0; i < n; ++i) {
    classes_[i] = desc[n - 1 - i];
    classes_[i].index = static_cast<uint16_t>(i);
  }
  for (size_t raw = 0; raw < kNumRawClasses; ++raw)
    raw_to_class_[raw] = static_cast<uint16_t>(n - 1 - desc_index[raw]);
  last_ = static_cast<uint16_t>(n - 1);
}

}  // namespace uzswap::pool
