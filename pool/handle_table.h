// pool/handle_table.h — stable handles.
//
// Data layout: a NORESERVE mapping of max_slots 64-bit atomic slots, touched lazily from
// the low end (high_water_). A Handle is a slot index >= 1. Each slot is in one of three
// states, told by its top bits:
//   Free      (no state bit): the low 32 bits link to the next free slot (0 ends the list)
//   Reserved  (kReservedBit): handed out by alloc_slot(), object not yet placed
//   Live      (kLiveBit):     encodes where the object is: zspage descriptor index, object
//                             index in the zspage, and the object's size (see SlotValue)
// Transitions: Free -alloc_slot-> Reserved -pool places object-> Live -pool frees->
// Reserved -free_slot-> Free. Compaction rewrites a Live slot to a new Live location.
// The pool writes Live slots only under the lock of the object's size class; readers
// (map, object_size, walks) load them without a lock.
//
// Locking: free_lock_ (a leaf spin lock) guards free_head_ and high_water_ growth.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "pool/pool.h"
#include "pool/spin_lock.h"

namespace uzswap::pool {

// A Live slot's value: bit 63 live, bits 44..56 size, bits 32..43 object index, bits
// 0..31 zspage descriptor index.
struct SlotValue {
  static constexpr uint64_t kLiveBit = uint64_t{1} << 63;
  static constexpr uint64_t kReservedBit = uint64_t{1} << 62;

  static uint64_t encode(uint32_t zspage, uint32_t obj, uint32_t size) {
    return kLiveBit | (uint64_t{size} << 44) | (uint64_t{obj} << 32) | zspage;
  }
  static bool live(uint64_t v) { return v & kLiveBit; }
  static uint32_t zspage(uint64_t v) { return static_cast<uint32_t>(v); }
  static uint32_t obj(uint64_t v) { return static_cast<uint32_t>(v >> 32) & 0xfff; }
  static uint32_t size(uint64_t v) { return static_cast<uint32_t>(v >> 44) & 0x1fff; }
};

class HandleTable {
 public:
  HandleTable() = default;
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  bool init(size_t max_slots);
  // A Reserved slot, or kNoHandle when the table is full.
  Handle alloc_slot();
  // Returns a Reserved slot to the free list.
  void free_slot(Handle h);

  bool in_range(Handle h) const { return h >= 1 && h < high_water_.load(std::memory_order_acquire); }
  std::atomic<uint64_t>& slot(Handle h) { return slots_[h]; }
  // One past the highest slot ever handed out.
  size_t high_water() const { return high_water_.load(std::memory_order_acquire); }
  size_t metadata_bytes() const;
  // Fork child, single-threaded: the free-list lock free.
  void reset_locks_after_fork() { new (&free_lock_) SpinLock(); }

 private:
  std::atomic<uint64_t>* slots_ = nullptr;
  size_t max_slots_ = 0;
  SpinLock free_lock_;
  uint32_t free_head_ = 0;                 // free_lock_
  std::atomic<size_t> high_water_{1};      // grows under free_lock_
};

}  // namespace uzswap::pool
