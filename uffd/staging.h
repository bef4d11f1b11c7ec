// uffd/staging.h — the staging area: where evicted pages wait before compression.
//
// Data layout: one private anonymous mapping of `slots` pages, owned by the engine and
// never touched by the engine unless the slot holds a page (a missing staging page would
// fault into our own userfaultfd). In MOVE mode the mapping is registered with the
// engine's userfaultfd, because the kernel only moves pages into registered ranges.
// Per slot: state_ (SlotState), owner_ (the page it holds, range_table.h's Owner) and
// stage_ns_ (when it was staged). free_ and dirty_ are stacks of slot indices.
//
// Slot states (explicit, one byte each):
//   Free   no page behind the slot (pte none): may be the target of an eviction.
//   InUse  holds the page named by owner_ (entry Evicting/EvictingZap/Staged/Compressing).
//   Dirty  holds a page nobody needs (compressed, or dropped by an mm event): must be
//          zapped (MADV_DONTNEED) before reuse. Only reclaim threads zap, never a handler:
//          in MOVE mode the zap sends a REMOVE event that a handler has to read.
//   Free --alloc--> InUse --moved back to the program--> Free
//   InUse --compressed / dropped / copied back--> Dirty --zap_dirty--> Free
//
// Zapping a registered staging area would send a REMOVE event for every madvise, and
// while any event is unread the kernel answers EAGAIN to every resolution ioctl on the
// userfaultfd (mmap_changing): fault latency would suffer for our own housekeeping. So
// zap_dirty unregisters the area, zaps, and registers it again. Evictions moving pages
// into the area hold move_lock_ shared (begin_move/end_move); zap_dirty holds it
// exclusive, so no MOVE ever targets the area while it is unregistered.
//
// Lock order: MapLock shared -> move_lock_ shared; zap_lock_ -> move_lock_ exclusive;
// lock_ is a leaf guarding free_ and dirty_ (pushes/pops only, a few ns).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "uffd/map_lock.h"
#include "uffd/range_table.h"

namespace uzswap::uffd {

class UffdFile;

enum class SlotState : uint8_t { Free = 0, InUse = 1, Dirty = 2 };

class Staging {
 public:
  bool init(size_t slots, UffdFile* uffd, bool register_with_uffd);
  void destroy();

  uintptr_t base() const { return base_; }
  size_t slots() const { return slots_; }
  bool contains(uintptr_t a) const { return a >= base_ && a < base_ + slots_ * kPageSize; }
  uintptr_t addr(uint32_t slot) const { return base_ + size_t{slot} * kPageSize; }

  // A Free slot, now InUse for `owner`; false if none is free.
  bool alloc(Owner owner, uint32_t* slot);
  // InUse -> Free: the page left the slot by UFFDIO_MOVE (or never arrived).
  void release_clean(uint32_t slot);
  // InUse -> Dirty: the slot still holds a page nobody needs.
  void release_dirty(uint32_t slot);
  // Reclaim threads only (never a handler, never while owning a transient entry):
  // zaps every Dirty slot and frees it. Returns slots freed.
  size_t zap_dirty();

  // Brackets a UFFDIO_MOVE into the area (it must stay registered meanwhile).
  void begin_move() { move_lock_.lock_shared(); }
  void end_move() { move_lock_.unlock_shared(); }

  Owner owner(uint32_t slot) const { return owner_[slot].load(std::memory_order_acquire); }
  void set_owner(uint32_t slot, Owner o) { owner_[slot].store(o, std::memory_order_release); }
  SlotState state(uint32_t slot) const { return static_cast<SlotState>(state_[slot].load(std::memory_order_acquire)); }
  uint64_t stage_ns(uint32_t slot) const { return stage_ns_[slot].load(std::memory_order_relaxed); }
  void set_stage_ns(uint32_t slot, uint64_t ns) { stage_ns_[slot].store(ns, std::memory_order_relaxed); }

  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t dirty() const { return dirty_count_.load(std::memory_order_relaxed); }
  // Pages the staging area holds (InUse + Dirty): its share of the footprint.
  size_t resident_pages() const { return in_use() + dirty(); }
  size_t metadata_bytes() const;

  // In a fork child, single-threaded: resets the locks (their holders did not come
  // along) and registers the area with the child's userfaultfd if the parent had it
  // registered (the child's copy of the area lost its registration). False if refused.
  bool reset_after_fork();

 private:
  uintptr_t base_ = 0;
  size_t slots_ = 0;
  UffdFile* uffd_ = nullptr;
  bool registered_ = false;       // zap_lock_ (and move_lock_ exclusive) to change
  bool want_registered_ = false;  // fixed at init
  std::atomic<uint8_t>* state_ = nullptr;
  std::atomic<Owner>* owner_ = nullptr;
  std::atomic<uint64_t>* stage_ns_ = nullptr;
  uint32_t* free_ = nullptr;     // stack of Free slots
  size_t free_top_ = 0;
  uint32_t* dirty_ = nullptr;    // stack of Dirty slots
  size_t dirty_top_ = 0;
  uint32_t* scratch_ = nullptr;  // zap_dirty's sorted copy (reclaim threads, zap_lock_)
  SpinLock lock_;
  SpinLock zap_lock_;
  MapLock move_lock_;  // shared: a MOVE into the area; exclusive: zap_dirty's unregistered window
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> dirty_count_{0};
};

}  // namespace uzswap::uffd
