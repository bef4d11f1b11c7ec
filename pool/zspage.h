// pool/zspage.h — zspage descriptors and the table that holds them.
//
// A zspage is 1..kMaxPagesPerZspage backing pages holding objects of one size class,
// laid out back to back in a linear "zspage space" of pages_per_zspage * 4 KiB bytes:
// byte x lives in pages[x / 4096] at x % 4096. The pages are NOT virtually contiguous,
// so an object may straddle two backing pages, and any one page (head or tail) can be
// migrated on its own by swapping its pointer.
//
// Object slots: an allocated slot starts with its header word (handle << 1 | 1); a free
// slot starts with a link word (next free index << 1, kNoObj ends the list). Huge classes
// keep their one object raw and its handle in huge_handle. Header and link words are
// 8-byte aligned and never straddle (class sizes are multiples of 16).
//
// Descriptor memory is type-stable (like SLAB_TYPESAFE_BY_RCU): descriptors are recycled
// through a free list but never unmapped while the pool lives, so a reader may lock a
// descriptor it reached through a stale handle slot and then revalidate; it never touches
// freed memory. `lock` is never reinitialised for the same reason.
//
// States (ZspageState, held with the class index in `ident` so both read in one load):
//   Free --ZspageTable::alloc--> Building --inserted under its class lock--> Live
//   Live --emptied, under its class lock--> Free
// Fullness (FullnessGroup) of a Live zspage is set under its class lock whenever inuse
// changes, and decides which list of the class it sits on.
//
// Field guards: class lock of the zspage's class for free_head, inuse, fullness, list
// links, page_state, isolated, huge_handle and the link/header words in the pages;
// pages[] is written only under class lock + write lock, so either lock makes it stable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pool/handle_table.h"
#include "pool/size_class.h"
#include "pool/spin_lock.h"

namespace uzswap::pool {

inline constexpr uint16_t kNoObj = 0xffff;

enum class ZspageState : uint8_t { Free, Building, Live };

// Fraction of object slots in use; zsmalloc's ZS_INUSE_RATIO_* groups. Compaction takes
// sources from the low groups and destinations from the high ones.
enum class FullnessGroup : uint8_t {
  Empty,      // inuse == 0 (transient: an empty zspage is freed at once)
  Under10,    // 0 < inuse/max < 10 %
  Under20, Under30, Under40, Under50, Under60, Under70, Under80, Under90,
  Under100,   // 90 % <= inuse/max < 100 %
  Full,       // inuse == max
};
inline constexpr size_t kNumFullnessGroups = 12;

inline FullnessGroup fullness_for(uint32_t inuse, uint32_t max) {
  if (inuse == 0) return FullnessGroup::Empty;
  if (inuse >= max) return FullnessGroup::Full;
  uint32_t decile = inuse * 10 / max;  // 0..9
  return static_cast<FullnessGroup>(static_cast<uint8_t>(FullnessGroup::Under10) + decile);
}

// Migration state of one backing page.
enum class BackingPageState : uint8_t {
  Normal,    // in use, not reserved by anyone
  Isolated,  // isolate_page() took it; migrate_page() or putback_page() ends this
};

struct Zspage {
  ZspageLock lock;                      // shared: mapped objects; exclusive: movers
  std::atomic<uint32_t> ident{0};       // ZspageState << 16 | class index
  FullnessGroup fullness;
  uint8_t npages;
  uint16_t inuse;                       // allocated objects
  uint16_t free_head;                   // first free object, kNoObj if none
  uint16_t isolated;                    // pages in BackingPageState::Isolated
  uint32_t prev, next;                  // fullness list of the class (0 = none)
  Handle huge_handle;                   // huge classes: the object's handle
  BackingPageState page_state[kMaxPagesPerZspage];
  char* pages[kMaxPagesPerZspage];

  static uint32_t make_ident(ZspageState s, uint16_t class_index) {
    return static_cast<uint32_t>(s) << 16 | class_index;
  }
  ZspageState state() const {
    return static_cast<ZspageState>(ident.load(std::memory_order_acquire) >> 16);
  }
  uint16_t class_index() const {
    return static_cast<uint16_t>(ident.load(std::memory_order_acquire));
  }

  // The 8-byte word at zspage-space offset off (8-aligned, never straddles).
  uint64_t* word_at(size_t off) const {
    return reinterpret_cast<uint64_t*>(pages[off / kPageSize] + off % kPageSize);
  }
  // Copies between zspage space and plain memory, across page boundaries.
  void copy_out(size_t off, void* dst, size_t len) const;
  void copy_in(size_t off, const void* src, size_t len);
  int page_slot(const void* page) const {
    for (int i = 0; i < npages; ++i)
      if (pages[i] == page) return i;
    return -1;
  }
};

// Copies len bytes from one zspage space to another, both possibly straddling.
void zspage_copy(Zspage& dst, size_t dst_off, const Zspage& src, size_t src_off, size_t len);

// Type-stable descriptor storage. Index 0 is never used (0 means "none" in list links).
// free_lock_ (a leaf spin lock) guards the free list and growth.
class ZspageTable {
 public:
  ZspageTable() = default;
  ~ZspageTable();
  ZspageTable(const ZspageTable&) = delete;
  ZspageTable& operator=(const ZspageTable&) = delete;

  bool init(size_t max_zspages);
  // A descriptor in state Building for class_index, or 0 when the table is full.
  uint32_t alloc(uint16_t class_index);
  // Returns a descriptor already set to Free.
  void free(uint32_t index);
  Zspage& at(uint32_t index) { return table_[index]; }
  bool in_range(uint32_t index) const {
    return index >= 1 && index < high_water_.load(std::memory_order_acquire);
  }
  size_t high_water() const { return high_water_.load(std::memory_order_acquire); }
  size_t metadata_bytes() const;
  // Fork child, single-threaded: the free-list lock and every descriptor's lock free.
  void reset_locks_after_fork();

 private:
  Zspage* table_ = nullptr;
  size_t max_ = 0;
  SpinLock free_lock_;
  uint32_t free_head_ = 0;              // linked through Zspage::next (free_lock_)
  std::atomic<size_t> high_water_{1};
};

}  // namespace uzswap::pool
