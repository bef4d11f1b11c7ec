// uffd/page_entry.h — the per-page entry: one 64-bit atomic word per managed page.
//
// Layout: bits 0..3 state, bits 4..7 flags, bits 8..63 payload (56 bits):
//   Staged / Evicting / EvictingZap / Compressing : staging slot index
//   Stored                                        : pool handle
//   SameFilled                                    : the repeated 32-bit pattern
//   others                                        : 0
//
// States and transitions (every transition is one CAS on the whole word; the thread whose
// CAS succeeded "owns" the page until it moves it to a stable state):
//
//   Absent       stable. Not held by the engine: resident, never touched, or dropped.
//                A missing fault here means "never touched": resolve with zeros.
//   Zapping      stable. An MADV_DONTNEED/REMOVE event dropped this page; the kernel zaps
//                it after our read of the event. Resolves like Absent; never evicted
//                (an eviction between our read and the zap would stage pre-zap data).
//                A missing fault proves the zap happened: -> Absent.
//   Evicting     transient, owner = the evictor:
//                MOVE mode: page being moved to its staging slot (MapLock shared held
//                           across the one ioctl);
//                fallback : page write-protected and being copied to its slot (the copy
//                           runs without MapLock; an mm event may orphan the slot).
//   EvictingZap  transient, fallback only, owner = the evictor (MapLock NOT held: it is
//                in MADV_DONTNEED, which waits for a handler to read the REMOVE event).
//                Flag kSelfZap: our own REMOVE event has not been seen yet.
//   Staged       stable. Page lives in its staging slot (MOVE mode: moved, not copied).
//   Compressing  transient, owner = a compressor thread (MapLock not held while it
//                compresses; it owns the slot, which stays intact until it finishes).
//   Stored       stable. Page lives compressed in the pool.
//   SameFilled   stable. Page was one repeated 32-bit word; no pool object.
//   Loading      transient, owner = a fault handler or stop() (holds MapLock shared):
//                page being put back into the program; or the thread removing a
//                fallback eviction's write protection (a handler or the evictor, MapLock
//                shared, one ioctl): no eviction may claim the page before the
//                protection is gone (evict.cpp, unprotect_as_owner).
//
//   Absent --evict claim--> Evicting                    (evictor; only present pages)
//   Evicting --moved/copied--> Staged | --zap--> EvictingZap --zapped--> Staged
//   EvictingZap --not zapped--> Loading --> Absent    (unprotecting)
//   Evicting --failed--> Absent                 (fallback: through Loading, unprotecting)
//   Evicting --write fault--> Loading --> Absent|Hot   (fallback: eviction cancelled)
//   Absent | Zapping | Staged | Compressing | Stored | SameFilled
//           --write fault--> Loading --> unchanged   (stale protection removed; Loading
//           carries the slot of Staged/Compressing)
//   Staged --compress claim--> Compressing --stored--> Stored | SameFilled
//   Compressing --poor ratio / pool full--> Loading --> Absent|Poor   (put back)
//   Staged | Compressing | Stored | SameFilled | EvictingZap(zapped) --fault--> Loading
//   Loading --done--> Absent (|Hot if it came from staging) ; --EAGAIN--> previous state
//   any stable state --REMOVE event--> Zapping ; --UNMAP event--> entry gone
//
// Flags: kHot (Absent: refaulted from staging, skipped once by the clock hand),
// kPoor (Absent: rejected by the compressor or refused by the kernel, skipped once),
// kShared (Absent: UFFDIO_MOVE answered EBUSY, the page is not exclusive to us, e.g. a
// fork shared it; skipped once), kSelfZap (EvictingZap).
#pragma once

#include <atomic>
#include <cstdint>

namespace uzswap::uffd {

enum class PageState : uint8_t {
  Absent = 0,
  Zapping = 1,
  Evicting = 2,
  EvictingZap = 3,
  Staged = 4,
  Compressing = 5,
  Stored = 6,
  SameFilled = 7,
  Loading = 8,
};

using Entry = uint64_t;
using AtomicEntry = std::atomic<uint64_t>;

inline constexpr uint64_t kFlagHot = 1u << 4;
inline constexpr uint64_t kFlagPoor = 1u << 5;
inline constexpr uint64_t kFlagShared = 1u << 7;
inline constexpr uint64_t kFlagSelfZap = 1u << 6;
inline constexpr uint64_t kPayloadMax = (1ull << 56) - 1;

inline PageState entry_state(Entry e) { return static_cast<PageState>(e & 0xf); }
inline uint64_t entry_payload(Entry e) { return e >> 8; }
inline uint64_t entry_flags(Entry e) { return e & 0xf0; }
inline Entry make_entry(PageState s, uint64_t payload = 0, uint64_t flags = 0) {
  return (payload << 8) | flags | static_cast<uint64_t>(s);
}
// States a page may be evicted from (never Zapping: see above).
inline bool entry_is_idle_resident(Entry e) { return entry_state(e) == PageState::Absent; }
// States whose payload names a staging slot.
inline bool entry_holds_slot(Entry e) {
  PageState s = entry_state(e);
  return s == PageState::Staged || s == PageState::Compressing || s == PageState::Evicting ||
         s == PageState::EvictingZap;
}

}  // namespace uzswap::uffd
