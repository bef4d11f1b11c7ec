// preload/range_set.h — a small set of address ranges that needs no malloc: uzswap's own
// memory and the program's mlock'ed ranges (coverage.cpp, locked.cpp, own_memory.cpp).
//
// Data layout: a fixed array of [begin, end) pairs in memory mmap'd once (never managed:
// it is registered as uzswap's own by its creator), an entry count, and a spin lock.
// Ranges may overlap; add() skips a range that one entry already contains.
// States: Unallocated (slots == nullptr: every add is dropped and counted, queries see an
// empty set) --init()--> Ready. Never torn down (the process ends with it).
// Lock order: the set's spin lock is a leaf: nothing is called while it is held.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uzswap::preload {

struct AddrRange {
  uintptr_t begin;
  uintptr_t end;
};

class RangeSet {
 public:
  static constexpr size_t kCapacity = 4096;

  // Reserves the slots (raw mmap). false if the memory could not be had.
  bool init();
  // Adds [begin, end). false (and counted in dropped()) when full or not initialised.
  bool add(uintptr_t begin, uintptr_t end);
  // Removes every entry that lies wholly inside [begin, end).
  void remove_within(uintptr_t begin, uintptr_t end);
  // Removes everything.
  void clear();
  // True if some entry overlaps [begin, end).
  bool overlaps(uintptr_t begin, uintptr_t end);
  // Writes the parts of [begin, end) no entry covers into out[0..n) (ascending); returns n,
  // at most max_out (the rest is dropped: over-exclusion is the safe side).
  size_t subtract(uintptr_t begin, uintptr_t end, AddrRange* out, size_t max_out);
  size_t size();
  // The slots' own memory (to be listed as uzswap's own); {0, 0} before init().
  AddrRange storage() const;
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Held across fork() by the prepare handler and released in both processes: a program
  // thread inside add()/remove_within() at the fork would leave the child's copy locked.
  void lock_for_fork() { lock(); }
  void unlock_after_fork() { unlock(); }

 private:
  void lock();
  void unlock() { lock_.clear(std::memory_order_release); }

  std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
  AddrRange* slots_ = nullptr;
  size_t count_ = 0;
  std::atomic<uint64_t> dropped_{0};  // +1 per add() refused (full or not initialised)
};

}  // namespace uzswap::preload
