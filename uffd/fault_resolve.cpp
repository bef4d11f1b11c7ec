// uffd/fault_resolve.cpp — putting a page back: one function per entry state.
//
// Every function here runs with map_lock held (shared by handlers, shared by stop()/
// unmanage()'s restore loop) and returns Done, Retry (the entry changed: look again) or
// Deferred (cannot finish now: the caller wakes the faulting thread, which refaults).
// First touches (resolve_zero_run, resolve_unmanaged) may instead return Parked: the
// throttle (throttle.cpp) took the fault, to be resolved later; refaults never park.
//
// Races and their answers (see page_entry.h for the states):
//   two faults on one page   — both CAS from the same stable state; the loser sees
//                              Loading and waits for the winner (who holds map_lock
//                              shared and only issues one ioctl), then finds Absent and
//                              its zero-run ioctl answers EEXIST: a stale fault, woken.
//   fault vs eviction        — the evictor owns Evicting only across one UFFDIO_MOVE
//                              under map_lock shared: wait. Fallback: a missing fault
//                              on Evicting proves the claimed page is not present (it
//                              was claimed from a stale pagemap snapshot, e.g. after an
//                              unmap and a new mapping at the same address): cancel
//                              (Absent|Hot), the evictor's next CAS fails and it drops
//                              its copy. A write fault on Evicting cancels too
//                              (resolve_wp). A fault on EvictingZap is never settled by
//                              a handler: the kernel zaps only after our REMOVE event is
//                              read, so "SelfZap cleared" does not mean "zapped"; the
//                              evictor settles the entry once its madvise returns.
//   unprotect vs re-eviction — write protection is removed only by the owner of the
//                              page's entry, which reads Loading across the ioctl
//                              (unprotect_as_owner): otherwise an evictor could claim the
//                              page again between a handler's cancel and its unprotect,
//                              copy it, and zap the write the unprotect let through.
//   fault vs compression     — the compressor owns the slot until it sees the entry
//                              leave Loading, so a fault copies the page straight out of
//                              the slot (resolve_from_slot); the compressor then drops its
//                              result.
//   fault vs munmap/DONTNEED — events are applied under map_lock exclusive, so a
//                              resolution either completes before the event is applied
//                              (and the kernel's zap, which follows our read of the
//                              event, removes what we installed) or starts after it and
//                              finds Zapping/no range. An ioctl racing the mm change
//                              itself gets EAGAIN from the kernel (mmap_changing): Deferred.
//   fault before mremap's REMAP event is read — the kernel refuses our ioctls with EAGAIN
//                              until then (mmap_changing), so an unmanaged-looking new
//                              address is never zero-filled before its entries arrive.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common/counters.h"
#include "common/histogram.h"
#include "common/log.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {

constexpr int kSpinBeforeYield = 2000;
constexpr int kWaitLimit = 200000;
constexpr int kCallEvery = 1000;

void set_kind(Scratch& s, Histogram h) { s.kind = static_cast<int>(h); }

}  // namespace

// Waits for the owner of a transient state to move on. False if it takes unreasonably
// long (the caller defers instead of blocking a handler). Past the first spins, calls a
// helper handler, and again every kCallEvery yields (a called helper goes back to sleep
// when idle): faults and events must not queue behind this wait (fault_handler.cpp).
bool EngineCore::wait_for_owner(AtomicEntry& e, Entry v) {
  for (int i = 0; i < kWaitLimit; ++i) {
    if (e.load(std::memory_order_acquire) != v) return true;
    if (i < kSpinBeforeYield) {
      cpu_relax();
    } else {
      if ((i - kSpinBeforeYield) % kCallEvery == 0) call_helpers();
      sched_yield();
    }
  }
  return false;
}

// EEXIST: the page is already present. The kernel wakes waiters only after a successful
// fill, so wake explicitly: a thread whose fault we read must never be left waiting.
void EngineCore::note_stale(uintptr_t page) {
  UZ_COUNT(fault_stale);
  uffd_.wake(page, kPageSize);
}

Resolve EngineCore::resolve_missing(uintptr_t page, Scratch& s) {
  Range* r = ranges_.find(page);
  if (r == nullptr) return resolve_unmanaged(page, s);
  AtomicEntry& e = r->entries[r->index_of(page)];
  Entry v = e.load(std::memory_order_acquire);
  switch (entry_state(v)) {
    case PageState::Absent:
    case PageState::Zapping:
      return resolve_zero_run(r, page, s);
    case PageState::Evicting:
      // MOVE mode: the evictor holds map_lock across one ioctl: wait. Fallback: it copies
      // without map_lock (maybe faulting itself): never wait for it.
      if (move_mode_) return wait_for_owner(e, v) ? Resolve::Retry : Resolve::Deferred;
      // Fallback: a missing fault proves the claimed page is not present (claimed from a
      // stale pagemap snapshot): nothing to copy. Cancel; the evictor's next CAS fails.
      if (!e.compare_exchange_strong(v, make_entry(PageState::Absent, 0, kFlagHot), std::memory_order_acq_rel))
        return Resolve::Retry;
      UZ_COUNT(evict_cancelled);
      return Resolve::Retry;
    case PageState::Loading:
      return wait_for_owner(e, v) ? Resolve::Retry : Resolve::Deferred;
    case PageState::EvictingZap:
      // Our own REMOVE event not yet applied: the zap is still ahead; refault later.
      if (v & kFlagSelfZap) return Resolve::Deferred;
      return resolve_from_slot(e, v, page, s);
    default:
      return resolve_evicted(e, v, page, s);
  }
}

Resolve EngineCore::resolve_evicted(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s) {
  switch (entry_state(v)) {
    case PageState::Staged:
      return resolve_staged(e, v, page, s);
    case PageState::Compressing:
      return resolve_from_slot(e, v, page, s);
    case PageState::Stored:
      return resolve_stored(e, v, page, s);
    case PageState::SameFilled:
      return resolve_same_filled(e, v, page, s);
    default:
      return Resolve::Retry;
  }
}

Resolve EngineCore::resolve_zero_run(Range* r, uintptr_t page, Scratch& s) {
  // Claim the run of never-touched entries from the faulting page on, so that no eviction
  // can empty one of them between our look and the ioctl.
  if (s.may_park && park(page, s)) return Resolve::Parked;
  Entry saved[kZeroRunPages];
  size_t idx = r->index_of(page);
  size_t last = r->first + r->npages;
  const size_t run = s.max_run < kZeroRunPages ? s.max_run : kZeroRunPages;
  if (last > idx + run) last = idx + run;
  size_t n = 0;
  for (size_t i = idx; i < last; ++i) {
    Entry v = r->entries[i].load(std::memory_order_acquire);
    PageState st = entry_state(v);
    if (st != PageState::Absent && st != PageState::Zapping) break;
    if (!r->entries[i].compare_exchange_strong(v, make_entry(PageState::Loading),
                                               std::memory_order_acq_rel))
      break;
    saved[n++] = v;
  }
  if (n == 0) return Resolve::Retry;
  size_t done = 0;
  int rc = uffd_.zeropage(page, n * kPageSize, true, &done);
  if (rc == ENOENT && n > 1) {
    // The run leaves the faulting page's VMA (an mprotect split inside the range, or the
    // end of a mapping our table outlives): the kernel refuses the whole run. Fill the
    // faulting page alone, or this fault would be deferred and retaken forever.
    for (size_t k = 1; k < n; ++k) r->entries[idx + k].store(saved[k], std::memory_order_release);
    n = 1;
    UZ_COUNT(fault_zero_run_split);
    rc = uffd_.zeropage(page, kPageSize, true, &done);
  }
  size_t done_pages = rc == 0 ? n : done / kPageSize;
  // Filled pages are plain never-touched memory now; the rest keep their state.
  for (size_t k = 0; k < n; ++k)
    r->entries[idx + k].store(k < done_pages ? make_entry(PageState::Absent) : saved[k],
                              std::memory_order_release);
  if (done_pages > 0) {
    UZ_COUNT(fault_zero_run);
    UZ_COUNT_N(fault_zero_pages, done_pages);
    if (s.write) estimate_.add(static_cast<int64_t>(done_pages * kPageSize));  // about to be written
    set_kind(s, Histogram::fault_zero);
    if (rc != 0) uffd_.wake(page, kPageSize);
    return Resolve::Done;
  }
  if (rc == EEXIST) {  // already present: another handler or the program got there first
    note_stale(page);
    return Resolve::Done;
  }
  if (rc != EAGAIN) UZ_COUNT(error_ioctl);
  return Resolve::Deferred;
}

Resolve EngineCore::resolve_staged(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s) {
  uint32_t slot = static_cast<uint32_t>(entry_payload(v));
  if (!e.compare_exchange_strong(v, make_entry(PageState::Loading, slot), std::memory_order_acq_rel))
    return Resolve::Retry;
  int rc = EINVAL;
  if (move_mode_) {
    size_t done = 0;
    rc = uffd_.move(page, staging_.addr(slot), kPageSize, true, &done);
    if (rc == 0) {
      e.store(make_entry(PageState::Absent, 0, kFlagHot), std::memory_order_release);
      release_slot(slot, /*clean=*/true);
      UZ_COUNT(fault_staged);
      set_kind(s, Histogram::fault_staged);
      return Resolve::Done;
    }
  }
  // Fallback mode, or MOVE refused (e.g. the program changed the protection): copy.
  if (rc != EAGAIN) rc = uffd_.copy(page, reinterpret_cast<void*>(staging_.addr(slot)), kPageSize, true);
  if (rc == 0 || rc == EEXIST) {
    if (rc == EEXIST) note_stale(page);
    e.store(make_entry(PageState::Absent, 0, kFlagHot), std::memory_order_release);
    release_slot(slot, /*clean=*/false);
    UZ_COUNT(fault_staged);
    set_kind(s, Histogram::fault_staged);
    return Resolve::Done;
  }
  e.store(v, std::memory_order_release);
  if (rc != EAGAIN) UZ_COUNT(error_ioctl);
  return Resolve::Deferred;
}

Resolve EngineCore::resolve_from_slot(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s) {
  // The slot stays owned by the compressor/evictor, which waits for us to leave Loading.
  uint32_t slot = static_cast<uint32_t>(entry_payload(v));
  if (!e.compare_exchange_strong(v, make_entry(PageState::Loading, slot), std::memory_order_acq_rel))
    return Resolve::Retry;
  int rc = uffd_.copy(page, reinterpret_cast<void*>(staging_.addr(slot)), kPageSize, true);
  if (rc == 0 || rc == EEXIST) {
    if (rc == EEXIST) note_stale(page);
    e.store(make_entry(PageState::Absent, 0, kFlagHot), std::memory_order_release);
    UZ_COUNT(fault_compressing);
    set_kind(s, Histogram::fault_compressing);
    return Resolve::Done;
  }
  e.store(v, std::memory_order_release);
  if (rc != EAGAIN) UZ_COUNT(error_ioctl);
  return Resolve::Deferred;
}

Resolve EngineCore::resolve_stored(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s) {
  pool::Handle h = entry_payload(v);
  if (!e.compare_exchange_strong(v, make_entry(PageState::Loading), std::memory_order_acq_rel))
    return Resolve::Retry;
  size_t n = pool_->object_size(h);
  void* src = pool_->map(h, pool::MapMode::ReadOnly);
  // The object is cold: ask for all its lines at once rather than one miss after another
  // as the decompressor walks it (measured: 1.1 -> 0.75 us p50 per page).
  for (size_t o = 0; src != nullptr && o < n; o += 64) __builtin_prefetch(static_cast<const char*>(src) + o);
  bool ok = src != nullptr && comp_->decompress(src, n, s.page, kPageSize);
  pool_->unmap(h);
  if (!ok) {
    UZ_COUNT(error_decompress);
    if (!poison_page(page)) {
      e.store(v, std::memory_order_release);  // never hand out wrong bytes
      return Resolve::Deferred;
    }
  } else {
    int rc = uffd_.copy(page, s.page, kPageSize, true);
    if (rc != 0 && rc != EEXIST) {
      e.store(v, std::memory_order_release);
      if (rc != EAGAIN) UZ_COUNT(error_ioctl);
      return Resolve::Deferred;
    }
    if (rc == EEXIST) note_stale(page);
    UZ_COUNT(fault_pool);
    set_kind(s, Histogram::fault_pool);
  }
  e.store(make_entry(PageState::Absent), std::memory_order_release);
  release_handle(h);
  stored_pages_.fetch_sub(1, std::memory_order_relaxed);
  compressed_bytes_.fetch_sub(n, std::memory_order_relaxed);
  return Resolve::Done;
}

Resolve EngineCore::resolve_same_filled(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s) {
  uint32_t pattern = static_cast<uint32_t>(entry_payload(v));
  if (!e.compare_exchange_strong(v, make_entry(PageState::Loading), std::memory_order_acq_rel))
    return Resolve::Retry;
  int rc;
  if (pattern == 0) {
    size_t done = 0;
    rc = uffd_.zeropage(page, kPageSize, true, &done);
  } else {
    auto* words = reinterpret_cast<uint32_t*>(s.page);
    for (size_t i = 0; i < kPageSize / 4; ++i) words[i] = pattern;
    rc = uffd_.copy(page, s.page, kPageSize, true);
  }
  if (rc != 0 && rc != EEXIST) {
    e.store(v, std::memory_order_release);
    if (rc != EAGAIN) UZ_COUNT(error_ioctl);
    return Resolve::Deferred;
  }
  if (rc == EEXIST) note_stale(page);
  e.store(make_entry(PageState::Absent), std::memory_order_release);
  same_filled_pages_.fetch_sub(1, std::memory_order_relaxed);
  UZ_COUNT(fault_same_filled);
  set_kind(s, Histogram::fault_same_filled);
  return Resolve::Done;
}

Resolve EngineCore::resolve_unmanaged(uintptr_t page, Scratch& s) {
  // Registered but not in the table: memory that grew in place (mremap), never evicted.
  // If it is the new home of a moved range whose REMAP event is still unread, the kernel
  // answers EAGAIN (mmap_changing) and we retry after the event.
  if (s.may_park && park(page, s)) return Resolve::Parked;
  size_t done = 0;
  int rc = uffd_.zeropage(page, kPageSize, true, &done);
  if (rc == 0) {
    UZ_COUNT(fault_unmanaged);
    if (s.write) estimate_.add(static_cast<int64_t>(kPageSize));
    set_kind(s, Histogram::fault_zero);
    return Resolve::Done;
  }
  if (rc == EEXIST) {
    note_stale(page);
    return Resolve::Done;
  }
  if (rc != EAGAIN && rc != ENOENT) UZ_COUNT(error_ioctl);
  return Resolve::Deferred;
}

Resolve EngineCore::resolve_wp(uintptr_t page, Scratch& s) {
  Range* r = ranges_.find(page);
  int rc = 0;
  if (r == nullptr) {
    // Not in the table (grown in place): never evicted, so no evictor protects it.
    rc = uffd_.writeprotect(page, kPageSize, false, true);
  } else {
    AtomicEntry& e = r->entries[r->index_of(page)];
    Entry v = e.load(std::memory_order_acquire);
    if (entry_state(v) == PageState::EvictingZap) return Resolve::Deferred;  // the evictor settles it
    if (entry_state(v) == PageState::Loading) return wait_for_owner(e, v) ? Resolve::Retry : Resolve::Deferred;
    // Every other state unprotects, as the entry's owner (evict.cpp, unprotect_as_owner):
    //   Evicting: a write while the evictor copies wins; the eviction is cancelled (the
    //     evictor's next CAS fails and it discards its copy);
    //   Absent, Zapping: a stale protection;
    //   evicted states: normally a stale message (the zap came after the fault; the thread
    //     refaults as missing), but a fallback zap can miss its page (evict.cpp, "Known
    //     limit": an mremap in madvise's wait carries the present, protected page along),
    //     and a wake alone would then have the writer fault for ever.
    const bool cancel = entry_state(v) == PageState::Evicting;
    const Entry after = cancel ? make_entry(PageState::Absent, 0, kFlagHot) : v;
    if (!unprotect_as_owner(e, v, page, after, &rc)) return Resolve::Retry;
    if (cancel) UZ_COUNT(evict_cancelled);
  }
  if (rc != 0 && rc != EAGAIN && rc != ENOENT) UZ_COUNT(error_ioctl);
  UZ_COUNT(fault_wp);
  if (rc == EAGAIN) return Resolve::Deferred;
  if (rc != 0) uffd_.wake(page, kPageSize);  // the ioctl wakes only when it succeeds (ENOENT: range gone)
  return Resolve::Done;
}

bool EngineCore::poison_page(uintptr_t page) {
  UZ_ERROR("page %#lx could not be restored; poisoning it (SIGBUS on access)",
           static_cast<unsigned long>(page));
  if (uffd_.features().poison && uffd_.poison(page, kPageSize) == 0) {
    UZ_COUNT(poison_pages);
    return true;
  }
  // No UFFDIO_POISON: the faulting thread keeps refaulting rather than read wrong bytes.
  return false;
}

bool EngineCore::restore_page(Range* r, size_t index, Scratch& s) {
  AtomicEntry& e = r->entries[index];
  uintptr_t page = r->addr_of(index);
  for (;;) {
    Entry v = e.load(std::memory_order_acquire);
    Resolve res;
    switch (entry_state(v)) {
      case PageState::Absent:
      case PageState::Zapping:
        return true;
      case PageState::Evicting:
      case PageState::Loading:
        res = wait_for_owner(e, v) ? Resolve::Retry : Resolve::Deferred;
        break;
      case PageState::EvictingZap:
        res = (v & kFlagSelfZap) ? Resolve::Deferred : resolve_from_slot(e, v, page, s);
        break;
      default:
        res = resolve_evicted(e, v, page, s);
        if (res == Resolve::Done) UZ_COUNT(restore_pages);
        break;
    }
    if (res == Resolve::Deferred) return false;
  }
}

void EngineCore::restore_range(uintptr_t start, uintptr_t end) {
  for (uintptr_t a = start; a < end; a += kPageSize) {
    for (;;) {
      bool done;
      {
        SharedGuard g(map_lock_);
        Range* r = ranges_.find(a);
        done = r == nullptr || restore_page(r, r->index_of(a), stop_scratch_);
      }
      if (done) break;
      sched_yield();  // an mm change is pending: let a handler read its event
    }
  }
}

}  // namespace uzswap::uffd
