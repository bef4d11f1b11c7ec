// uffd/events.cpp — applying munmap, MADV_DONTNEED/REMOVE and mremap to page entries.
//
// Called by the handler that read the event, with read_mutex held and map_lock
// exclusive (fault_handler.cpp): no resolution, eviction step or compression finish is
// in flight, so the only transient states that can exist are those whose owner works
// without map_lock: Compressing (the compressor), and in the fallback Evicting (copying)
// and EvictingZap (in madvise). Those owners find their page again through the staging slot's owner
// record, which we orphan (drop) or retarget (carry) here.
//
// Semantics:
//   REMOVE (MADV_DONTNEED/MADV_REMOVE): the data is gone. Payloads are freed and entries
//     become Zapping: the kernel zaps the range after our read, and an eviction before
//     that zap would stage data the program just discarded.
//   UNMAP: entries leave the table with their payloads.
//   REMAP (mremap moved the mapping): entries move to the new address; the moved VMA
//     keeps its registration. Faults at the new address read before this event get EAGAIN
//     from the kernel until it has been read (fault_resolve.cpp).
//     The kernel sends the source's UNMAP only after our read of the REMAP, when the
//     mmap lock is long released: another thread may already have mapped the freed
//     source addresses and mremapped its own managed pages there (its REMAP read before
//     that UNMAP). Applying the late UNMAP would then drop the newcomer's entries. So a
//     REMAP records its source as an expected unmap, and an UNMAP lying inside a recorded
//     source is consumed as already applied. Records live kExpectMs (1 s): the source
//     UNMAP normally follows the REMAP within microseconds, but a loaded handler may read
//     it much later; MREMAP_DONTUNMAP sends none, so a stale record could swallow a real
//     munmap of that exact source within the second (its entries then stay until the
//     next manage()/mremap of those addresses drops them).
#include <linux/userfaultfd.h>

#include "common/counters.h"
#include "common/log.h"
#include "uffd/core.h"

namespace uzswap::uffd {

void EngineCore::retarget_slot(Entry v, Owner new_owner) {
  if (entry_holds_slot(v)) staging_.set_owner(static_cast<uint32_t>(entry_payload(v)), new_owner);
}

void EngineCore::drop_entry(Entry v, Owner owner) {
  (void)owner;
  switch (entry_state(v)) {
    case PageState::Absent:
    case PageState::Zapping:
      return;
    case PageState::Staged:
    case PageState::Stored:
    case PageState::SameFilled:
      release_entry_resources(v);
      break;
    case PageState::Compressing:
    case PageState::EvictingZap:
    case PageState::Evicting:  // fallback only: its copy runs without map_lock
      // The owner finishes without us: an orphaned slot tells it the page is gone.
      staging_.set_owner(static_cast<uint32_t>(entry_payload(v)), kNoOwner);
      break;
    case PageState::Loading:
      UZ_ERROR("mm event found a page in state %d under map_lock exclusive", static_cast<int>(entry_state(v)));
      return;
  }
  UZ_COUNT(event_dropped_pages);
}

void EngineCore::apply_remove(uintptr_t start, uintptr_t end) {
  for (uintptr_t a = start; a < end;) {
    Range* r = ranges_.lower_bound(a);
    if (r == nullptr || r->start >= end) return;
    uintptr_t lo = a > r->start ? a : r->start;
    uintptr_t hi = end < r->end() ? end : r->end();
    for (uintptr_t p = lo; p < hi; p += kPageSize) {
      size_t idx = r->index_of(p);
      AtomicEntry& e = r->entries[idx];
      Entry v = e.load(std::memory_order_acquire);
      if (entry_state(v) == PageState::EvictingZap && (v & kFlagSelfZap) && start == p &&
          end == p + kPageSize) {
        e.store(v & ~kFlagSelfZap, std::memory_order_release);  // our own zap (evict.cpp)
        continue;
      }
      drop_entry(v, ranges_.owner_of(r, idx));
      e.store(make_entry(PageState::Zapping), std::memory_order_release);
    }
    a = hi;
  }
}

void EngineCore::expect_unmap(uintptr_t start, uintptr_t end) {
  const uint64_t now = now_ns();
  size_t victim = 0;
  for (size_t i = 0; i < kExpectSlots; ++i) {
    if (expected_[i].expires_ns < now) {
      victim = i;
      break;
    }
    if (expected_[i].expires_ns < expected_[victim].expires_ns) victim = i;
  }
  expected_[victim] = ExpectedUnmap{start, end, now + kExpectMs * 1000000ull};
}

bool EngineCore::consume_expected_unmap(uintptr_t start, uintptr_t end) {
  const uint64_t now = now_ns();
  for (size_t i = 0; i < kExpectSlots; ++i) {
    ExpectedUnmap& x = expected_[i];
    if (x.expires_ns >= now && start >= x.start && end <= x.end) {
      x.expires_ns = 0;
      return true;
    }
  }
  return false;
}

void EngineCore::apply_remap(uintptr_t from, uintptr_t to, size_t len) {
  expect_unmap(from, from + len);
  auto drop = [this](Entry v, Owner o) { drop_entry(v, o); };
  auto retarget = [this](Entry v, Owner o) { retarget_slot(v, o); };
  // Whatever we still manage at the destination was unmapped by mremap.
  ranges_.cut(to, to + len, drop, retarget);
  const uintptr_t end = from + len;
  for (uintptr_t a = from; a < end;) {
    Range* r = ranges_.lower_bound(a);
    if (r == nullptr || r->start >= end) break;
    uintptr_t lo = a > r->start ? a : r->start;
    uintptr_t hi = end < r->end() ? end : r->end();
    size_t n = (hi - lo) / kPageSize;
    size_t src = r->index_of(lo);
    Range* nr = ranges_.add(to + (lo - from), n);
    for (size_t i = 0; i < n; ++i) {
      Entry v = r->entries[src + i].load(std::memory_order_relaxed);
      if (nr != nullptr) {
        nr->entries[i].store(v, std::memory_order_relaxed);
        retarget_slot(v, ranges_.owner_of(nr, i));
      } else if (entry_state(v) != PageState::Absent && entry_state(v) != PageState::Zapping) {
        // No metadata memory to carry this evicted page: fail its accesses loudly.
        drop_entry(v, kNoOwner);
        UZ_COUNT(error_remap_nomem);
        uffd_.poison(to + (lo - from) + i * kPageSize, kPageSize);
      }
    }
    // Entries are carried (or dropped above): leave nothing behind to drop again.
    for (size_t i = 0; i < n; ++i) r->entries[src + i].store(make_entry(PageState::Absent), std::memory_order_relaxed);
    ranges_.cut(lo, hi, [](Entry, Owner) {}, retarget);
    a = hi;
  }
}

void EngineCore::apply_event(const uffd_msg& m) {
  ++mm_epoch_;
  switch (m.event) {
    case UFFD_EVENT_REMOVE:
      if (staging_.contains(m.arg.remove.start)) {
        UZ_COUNT(event_staging);
        return;
      }
      apply_remove(m.arg.remove.start, m.arg.remove.end);
      UZ_COUNT(event_remove);
      return;
    case UFFD_EVENT_UNMAP:
      last_layout_event_ns_ = now_ns();
      if (consume_expected_unmap(m.arg.remove.start, m.arg.remove.end)) {
        UZ_COUNT(event_unmap_after_remap);
        return;
      }
      ranges_.cut(m.arg.remove.start, m.arg.remove.end,
                  [this](Entry v, Owner o) { drop_entry(v, o); },
                  [this](Entry v, Owner o) { retarget_slot(v, o); });
      UZ_COUNT(event_unmap);
      return;
    case UFFD_EVENT_REMAP:
      last_layout_event_ns_ = now_ns();
      apply_remap(m.arg.remap.from, m.arg.remap.to, m.arg.remap.len);
      UZ_COUNT(event_remap);
      return;
    default:
      UZ_COUNT(event_other);
      return;
  }
}

}  // namespace uzswap::uffd
