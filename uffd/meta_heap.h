// uffd/meta_heap.h — the engine's own small-block allocator for metadata.
//
// Page-entry tables of small ranges (a 64 KiB mapping needs 128 bytes of entries) would
// waste most of a page if each had its own mmap. MetaHeap carves power-of-two blocks of
// 64..2048 bytes out of 256 KiB chunks it mmaps itself; larger blocks get their own
// mmap. Never malloc: it may run on a fault handler (applying an mremap event).
//
// Data layout: free_[c] is a singly linked list of free blocks of class c (the link lives
// in the block); chunks are never returned to the OS (metadata of ranges that come and
// go is reused). Lock order: leaf (lock_ guards free_ and the carve pointer).
#pragma once

#include <atomic>
#include <cstddef>

#include "uffd/map_lock.h"

namespace uzswap::uffd {

class MetaHeap {
 public:
  // Zero-filled block of at least `bytes`; nullptr if the OS refuses.
  void* alloc(size_t bytes);
  void free(void* p, size_t bytes);
  // Bytes obtained from the OS (chunks + large blocks).
  size_t footprint() const { return footprint_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kMinShift = 6;  // 64 bytes
  static constexpr size_t kMaxShift = 11; // 2048 bytes
  static constexpr size_t kClasses = kMaxShift - kMinShift + 1;
  static constexpr size_t kChunk = 256 * 1024;

  static size_t class_of(size_t bytes);

  SpinLock lock_;
  void* free_[kClasses] = {};
  char* carve_ = nullptr;
  char* carve_end_ = nullptr;
  std::atomic<size_t> footprint_{0};
};

}  // namespace uzswap::uffd
