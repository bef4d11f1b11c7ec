// uffd/range_table.h — the managed ranges and their page-entry tables.
//
// Data layout: ranges_[kMaxRanges] is a fixed array of Range records in memory the table
// mmaps itself; order_[0..count_) lists the live ones sorted by start address (binary
// search on every fault). A Range's entries live in a MetaHeap block; entry i of the
// block describes page (i - first) of the range, so cutting a prefix only moves `first`.
// A page is named durably by an Owner (range slot, generation, entry index): staging
// slots record their page that way, and moving entries (mremap, split) updates them.
//
// Locking: lookups and entry CASes need MapLock shared (uffd/map_lock.h); adding,
// cutting and moving ranges need MapLock exclusive. The table itself has no lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uffd/meta_heap.h"
#include "uffd/page_entry.h"

namespace uzswap::uffd {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kMaxRanges = 1 << 16;

struct Range {
  uintptr_t start = 0;          // first managed address (page aligned)
  size_t npages = 0;            // managed pages from start
  size_t first = 0;             // entries index of the page at start
  AtomicEntry* entries = nullptr;
  size_t entries_len = 0;       // entries allocated (>= first + npages)
  uint16_t gen = 0;             // bumped each time the record is reused
  bool live = false;
  bool leaving = false;         // unmanage() in progress: no new evictions

  uintptr_t end() const { return start + npages * kPageSize; }
  bool contains(uintptr_t a) const { return a >= start && a < end(); }
  size_t index_of(uintptr_t a) const { return first + (a - start) / kPageSize; }
  uintptr_t addr_of(size_t index) const { return start + (index - first) * kPageSize; }
};

// A page named independently of its address: 16-bit range slot, 16-bit generation,
// 32-bit entry index. kNoOwner marks a staging slot whose page was dropped.
using Owner = uint64_t;
inline constexpr Owner kNoOwner = ~0ull;

class RangeTable {
 public:
  bool init();
  void destroy();

  Range* find(uintptr_t addr);                 // shared; nullptr if unmanaged
  Range* lower_bound(uintptr_t addr);          // shared; first range ending after addr
  Range* resolve(Owner o, size_t* index);      // shared; nullptr if the owner is stale
  Owner owner_of(const Range* r, size_t index) const;

  // Exclusive. Adds [start, start+npages*4K); false if it overlaps a managed range or no
  // memory/slot is left.
  Range* add(uintptr_t start, size_t npages);

  // Exclusive. Removes [a, b) from the table. `drop(entry, owner)` is called for each
  // entry leaving the table unless `keep` (entries moved elsewhere first by the caller).
  // Splits a range when [a, b) lies inside it; `moved(entry, new_owner)` is called for
  // each entry that changes owner in a split.
  template <typename Drop, typename Moved>
  void cut(uintptr_t a, uintptr_t b, Drop&& drop, Moved&& moved);

  // Visit live ranges in address order (shared).
  template <typename F>
  void for_each(F&& f) {
    for (size_t i = 0; i < count_; ++i) f(&ranges_[order_[i]]);
  }
  size_t count() const { return count_; }
  size_t managed_pages() const { return managed_pages_; }
  MetaHeap& heap() { return heap_; }
  // Metadata bytes: entry tables + this table's own arrays (resident part).
  size_t metadata_bytes() const;

 private:
  uint16_t slot_index(const Range* r) const { return static_cast<uint16_t>(r - ranges_); }
  Range* alloc_record();
  void free_record(Range* r);
  void insert_order(Range* r);
  void erase_order(Range* r);
  // Splits r at address `at`: r keeps [start, at); a new range gets [at, end).
  template <typename Moved>
  Range* split(Range* r, uintptr_t at, Moved&& moved);

  Range* ranges_ = nullptr;
  uint16_t* order_ = nullptr;
  uint16_t* free_slots_ = nullptr;
  size_t free_count_ = 0;
  size_t count_ = 0;
  size_t high_water_ = 0;
  size_t managed_pages_ = 0;
  MetaHeap heap_;
};

// ---- templates ----

template <typename Moved>
Range* RangeTable::split(Range* r, uintptr_t at, Moved&& moved) {
  size_t tail_pages = (r->end() - at) / kPageSize;
  Range* t = alloc_record();
  if (t == nullptr) return nullptr;
  auto* entries = static_cast<AtomicEntry*>(heap_.alloc(tail_pages * sizeof(AtomicEntry)));
  if (entries == nullptr) {
    free_record(t);
    return nullptr;
  }
  t->start = at;
  t->npages = tail_pages;
  t->first = 0;
  t->entries = entries;
  t->entries_len = tail_pages;
  size_t from = r->index_of(at);
  for (size_t i = 0; i < tail_pages; ++i) {
    Entry e = r->entries[from + i].load(std::memory_order_relaxed);
    t->entries[i].store(e, std::memory_order_relaxed);
    moved(e, owner_of(t, i));
  }
  r->npages -= tail_pages;
  insert_order(t);
  return t;
}

template <typename Drop, typename Moved>
void RangeTable::cut(uintptr_t a, uintptr_t b, Drop&& drop, Moved&& moved) {
  // Collect overlapping ranges first: the order array changes as we go.
  for (;;) {
    Range* hit = nullptr;
    for (size_t i = 0; i < count_; ++i) {
      Range* r = &ranges_[order_[i]];
      if (r->start < b && r->end() > a) {
        hit = r;
        break;
      }
    }
    if (hit == nullptr) return;
    uintptr_t lo = a > hit->start ? a : hit->start;
    uintptr_t hi = b < hit->end() ? b : hit->end();
    if (lo > hit->start && hi < hit->end()) {
      // Keep head and tail: split off the tail at hi, then cut [lo, end) of the head.
      if (split(hit, hi, moved) == nullptr) {
        // No memory for a new table: keep the middle managed but dropped (all Absent).
        for (uintptr_t p = lo; p < hi; p += kPageSize) {
          AtomicEntry& e = hit->entries[hit->index_of(p)];
          drop(e.load(std::memory_order_relaxed), owner_of(hit, hit->index_of(p)));
          e.store(make_entry(PageState::Absent), std::memory_order_relaxed);
        }
        return;
      }
    }
    for (uintptr_t p = lo; p < hi; p += kPageSize) {
      size_t idx = hit->index_of(p);
      drop(hit->entries[idx].load(std::memory_order_relaxed), owner_of(hit, idx));
    }
    size_t n = (hi - lo) / kPageSize;
    managed_pages_ -= n;
    if (lo == hit->start && hi == hit->end()) {
      erase_order(hit);
      free_record(hit);
    } else if (lo == hit->start) {
      hit->start = hi;
      hit->first += n;
      hit->npages -= n;
    } else {
      hit->npages -= n;
    }
  }
}

}  // namespace uzswap::uffd
