// uffd/range_table.cpp — see range_table.h for layout and locking.
#include "uffd/range_table.h"

#include <string.h>
#include <sys/mman.h>

namespace uzswap::uffd {
namespace {

void* map_zeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

bool RangeTable::init() {
  ranges_ = static_cast<Range*>(map_zeroed(kMaxRanges * sizeof(Range)));
  order_ = static_cast<uint16_t*>(map_zeroed(kMaxRanges * sizeof(uint16_t)));
  free_slots_ = static_cast<uint16_t*>(map_zeroed(kMaxRanges * sizeof(uint16_t)));
  return ranges_ && order_ && free_slots_;
}

void RangeTable::destroy() {
  for (size_t i = 0; i < count_; ++i) {
    Range* r = &ranges_[order_[i]];
    heap_.free(r->entries, r->entries_len * sizeof(AtomicEntry));
  }
  if (ranges_) munmap(ranges_, kMaxRanges * sizeof(Range));
  if (order_) munmap(order_, kMaxRanges * sizeof(uint16_t));
  if (free_slots_) munmap(free_slots_, kMaxRanges * sizeof(uint16_t));
  ranges_ = nullptr;
  order_ = free_slots_ = nullptr;
  count_ = 0;
}

Range* RangeTable::find(uintptr_t addr) {
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    Range* r = &ranges_[order_[mid]];
    if (addr < r->start) {
      hi = mid;
    } else if (addr >= r->end()) {
      lo = mid + 1;
    } else {
      return r;
    }
  }
  return nullptr;
}

Range* RangeTable::lower_bound(uintptr_t addr) {
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ranges_[order_[mid]].end() <= addr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < count_ ? &ranges_[order_[lo]] : nullptr;
}

Owner RangeTable::owner_of(const Range* r, size_t index) const {
  return (static_cast<Owner>(slot_index(r)) << 48) | (static_cast<Owner>(r->gen) << 32) |
         static_cast<Owner>(index);
}

Range* RangeTable::resolve(Owner o, size_t* index) {
  if (o == kNoOwner) return nullptr;
  Range* r = &ranges_[o >> 48];
  if (!r->live || r->gen != static_cast<uint16_t>(o >> 32)) return nullptr;
  size_t idx = static_cast<uint32_t>(o);
  if (idx < r->first || idx >= r->first + r->npages) return nullptr;
  *index = idx;
  return r;
}

Range* RangeTable::alloc_record() {
  Range* r;
  if (free_count_ > 0) {
    r = &ranges_[free_slots_[--free_count_]];
  } else if (high_water_ < kMaxRanges) {
    r = &ranges_[high_water_++];
  } else {
    return nullptr;
  }
  uint16_t gen = static_cast<uint16_t>(r->gen + 1);
  *r = Range{};
  r->gen = gen;
  r->live = true;
  return r;
}

void RangeTable::free_record(Range* r) {
  heap_.free(r->entries, r->entries_len * sizeof(AtomicEntry));
  r->entries = nullptr;
  r->live = false;
  free_slots_[free_count_++] = slot_index(r);
}

void RangeTable::insert_order(Range* r) {
  size_t pos = 0;
  while (pos < count_ && ranges_[order_[pos]].start < r->start) ++pos;
  memmove(&order_[pos + 1], &order_[pos], (count_ - pos) * sizeof(uint16_t));
  order_[pos] = slot_index(r);
  ++count_;
}

void RangeTable::erase_order(Range* r) {
  uint16_t s = slot_index(r);
  for (size_t i = 0; i < count_; ++i) {
    if (order_[i] == s) {
      memmove(&order_[i], &order_[i + 1], (count_ - i - 1) * sizeof(uint16_t));
      --count_;
      return;
    }
  }
}

Range* RangeTable::add(uintptr_t start, size_t npages) {
  uintptr_t end = start + npages * kPageSize;
  for (size_t i = 0; i < count_; ++i) {
    Range* r = &ranges_[order_[i]];
    if (r->start < end && r->end() > start) return nullptr;
  }
  Range* r = alloc_record();
  if (r == nullptr) return nullptr;
  auto* entries = static_cast<AtomicEntry*>(heap_.alloc(npages * sizeof(AtomicEntry)));
  if (entries == nullptr) {
    free_record(r);
    return nullptr;
  }
  r->start = start;
  r->npages = npages;
  r->entries = entries;
  r->entries_len = npages;
  insert_order(r);
  managed_pages_ += npages;
  return r;
}

size_t RangeTable::metadata_bytes() const {
  return heap_.footprint() + high_water_ * sizeof(Range) + 2 * high_water_ * sizeof(uint16_t);
}

}  // namespace uzswap::uffd
