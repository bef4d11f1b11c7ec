// pool/size_class.h — the table of size classes.
//
// Objects are rounded up to 16-byte steps from 32 bytes to kPageSize; a "raw class" is one
// such step. For each raw class the table picks the zspage length (1..kMaxPagesPerZspage
// backing pages) that wastes the least tail space, as zsmalloc's get_pages_per_zspage()
// does, and merges neighbouring raw classes that end up with the same pages-per-zspage
// and objects-per-zspage into the larger one (fewer partly-used zspages, same density).
//
// Every object except in huge classes carries an 8-byte header (its handle, so
// compaction can find the handle from the object). A class holding a single object per
// zspage is "huge": its object is stored raw, without header, and its handle lives in
// the zspage descriptor; the last class (kPageSize) is huge and takes near-page-size
// and incompressible objects. The table is immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pool/pool.h"

namespace uzswap::pool {

inline constexpr size_t kObjHeaderSize = 8;
inline constexpr size_t kMinClassSize = 32;
inline constexpr size_t kClassDelta = 16;
inline constexpr size_t kMaxPagesPerZspage = 8;
inline constexpr size_t kNumRawClasses = (kPageSize - kMinClassSize) / kClassDelta + 1;
// Largest object count of a zspage (8 pages of 32-byte objects).
inline constexpr size_t kMaxObjsPerZspage = kMaxPagesPerZspage * kPageSize / kMinClassSize;

struct SizeClass {
  uint32_t size;              // bytes one object slot takes (header included unless huge)
  uint16_t index;             // position in the table
  uint16_t pages_per_zspage;  // backing pages of one zspage
  uint16_t objs_per_zspage;   // object slots in one zspage
  bool huge;                  // one raw object per zspage, no header
};

class ClassTable {
 public:
  ClassTable();
  size_t count() const { return count_; }
  const SizeClass& at(size_t index) const { return classes_[index]; }
  // The class for an object of `size` bytes (1..kPageSize).
  uint16_t class_for(size_t size) const {
    size_t need = size + kObjHeaderSize;
    if (need > kPageSize) return last_;
    size_t raw = need <= kMinClassSize ? 0 : (need - kMinClassSize + kClassDelta - 1) / kClassDelta;
    return raw_to_class_[raw];
  }
  // Byte offset of the payload of object `obj` inside the zspage.
  static size_t payload_offset(const SizeClass& c, size_t obj) {
    return c.huge ? 0 : obj * c.size + kObjHeaderSize;
  }

 private:
  SizeClass classes_[kNumRawClasses];
  uint16_t raw_to_class_[kNumRawClasses];
  size_t count_ = 0;
  uint16_t last_ = 0;
};

// zsmalloc's get_pages_per_zspage(): the zspage length with the best used fraction.
uint16_t pages_per_zspage_for(size_t class_size);

}  // namespace uzswap::pool
