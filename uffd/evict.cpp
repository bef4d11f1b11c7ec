// uffd/evict.cpp — eviction mechanics: stage (move out), compress, put back.
//
// Runs on reclaim threads (policy/reclaimer.cpp), and compression also on fault handler
// threads under pressure (assist_reclaim, uffd/throttle.cpp), inside a reclaim round
// (Reclaimer::enter_round) like the reclaim threads' work; never on a program thread.
//
// Staging, MOVE mode (stage_one_move), all under map_lock shared:
//   claim Absent -> Evicting(slot); check that the page's VMA is registered with us
//   (registered_with_us: else Absent|Poor); UFFDIO_MOVE page -> slot; Evicting -> Staged.
//   Evict window: UFFDIO_MOVE checks only its destination's registration, and the kernel
//   stops answering EAGAIN (mmap_changing) once the event of an munmap is read, before
//   we apply it. So the check and the MOVE run inside evict_moves_, and a reader waits
//   for evict_moves_ to drain after announcing itself and before read(2) (Dekker: the
//   evictor increments then looks for an announcement, the reader announces then looks
//   at the count; one of them sees the other). An evictor that sees an announcement
//   backs off. Thus between our check and our MOVE no event is read: a munmap, and a new
//   unregistered mapping at the same address, leave mmap_changing set and the MOVE fails.
//   The MOVE is atomic against writers: a writer either wrote before (its data moves)
//   or faults after (and waits for Staged, then gets the page back by MOVE).
// Staging, fallback (stage_one_copy; no UFFDIO_MOVE, or force_copy_evict):
//   under map_lock shared: claim -> Evicting(slot); write-protect; note the mm epoch.
//   without map_lock: copy page -> slot (process_vm_readv: may fault, never crashes).
//   under map_lock shared: keep the copy only if no mm event was applied (epoch), is
//   pending (write-protect probe not EAGAIN) or was read but not yet applied (a reader
//   has announced itself on map_lock), and the page did not move; then
//   Evicting -> EvictingZap|SelfZap. A writer meanwhile takes a write-protect fault and
//   cancels the eviction (resolve_wp: Evicting -> Loading -> Absent|Hot, protection
//   removed while the entry reads Loading, so no new claim can come between): our CAS
//   fails and we discard the copy. No write can land between the copy and the zap: the
//   page stays write-protected until the zap.
//   without map_lock: MADV_DONTNEED the page. It sends a REMOVE event which a handler
//   must read (under map_lock exclusive) before the kernel zaps: that event clears
//   SelfZap (events.cpp), so an entry without SelfZap after our madvise returns means
//   "zapped by us". After the madvise the evictor alone settles EvictingZap (handlers
//   defer such faults): zapped -> Staged; madvise failed or our event was never seen ->
//   Absent, protection removed (as the entry's owner: unprotect_as_owner), slot
//   released; Loading(slot) (a fault copying out of our slot, which may still fail with
//   EAGAIN and put EvictingZap back) -> wait and look again; anything else (orphaned by
//   an event) -> release the slot.
//   Zap window: madvise drops the mmap lock while it waits for our REMOVE event to be
//   read, then zaps whatever is mapped at the address by then. If the program munmaps or
//   mremaps the page away and maps something new at the old address in that wait, the
//   zap hits the new mapping and its fresh data reads back as zeros. Every munmap,
//   mremap and MAP_FIXED mmap the preload sees unmanages the range first, and unmanage()
//   returns only once no zap is in flight (zaps_in_flight_: counted from the EvictingZap
//   claim, made under map_lock shared, to the madvise's return; unmanage waits after its
//   last exclusive hold, so a zap claimed before it is counted and none can be claimed
//   in the range after it). The program's layout change therefore comes after the zap.
//   Known limit: a layout change no interposer sees does not wait: glibc's own munmap
//   and mremap of malloc's mmapped chunks, a brk shrink (memory the coverage scan
//   manages), raw system calls. The count is engine-wide: an unmanage may also wait for
//   zaps elsewhere (a few tens of microseconds each; fallback mode only).
//   To keep the window out of the way of programs reshaping their memory so, no zap
//   starts within kLayoutQuietNs of an UNMAP or REMAP event (layout_quiet); the window
//   itself remains there. UFFDIO_MOVE has no such window; the fallback exists for
//   kernels without it.
// Compression (compress_one): Staged -> Compressing (map_lock shared, briefly); compress
//   without locks from the slot (which we own); finish under map_lock shared:
//   Compressing -> Stored/SameFilled. If a fault stole the page meanwhile (Loading with
//   our slot) we wait for it to finish copying before freeing the slot; if an event
//   dropped it (slot orphaned) we free our pool object.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/log.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {
constexpr uint64_t kLayoutQuietNs = 250'000'000;  // see "Known limit" above
}  // namespace

// Caller holds map_lock shared: last_layout_event_ns_ is written only under exclusive.
bool EngineCore::layout_quiet() const { return now_ns() - last_layout_event_ns_ > kLayoutQuietNs; }

namespace {

bool same_filled(const uint8_t* page, uint32_t* pattern) {
  const auto* w = reinterpret_cast<const uint32_t*>(page);
  uint32_t first = w[0];
  for (size_t i = 1; i < kPageSize / 4; ++i)
    if (w[i] != first) return false;
  *pattern = first;
  return true;
}

// Reads one page of our own address space, failing (not faulting) if it is gone.
bool copy_from_program(uintptr_t page, uintptr_t dst) {
  iovec local = {reinterpret_cast<void*>(dst), kPageSize};
  iovec remote = {reinterpret_cast<void*>(page), kPageSize};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(kPageSize);
}

}  // namespace

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Scratch& EngineCore::my_reclaim_scratch() {
  thread_local Scratch* mine = nullptr;
  thread_local EngineCore* owner = nullptr;
  if (mine == nullptr || owner != this) {
    int i = reclaim_scratch_next_.fetch_add(1, std::memory_order_relaxed) % policy::Reclaimer::kMaxThreads;
    mine = &reclaim_scratch_[i];
    owner = this;
    if (mine->page == nullptr) mine->init();
  }
  return *mine;
}

void EngineCore::wait_while_loading(AtomicEntry& e, uint32_t slot) {
  const Entry loading = make_entry(PageState::Loading, slot);
  Backoff b;
  while (e.load(std::memory_order_acquire) == loading) b.pause();
}

// The clock hand gives a marked page a second chance: it clears the mark and moves on.
// Hot marks pace the hand: a chunk of the walk that found nothing but marked pages ends
// the call (the next comes a reclaim tick later), so recently faulted pages get time to
// be touched again. Shared marks (EBUSY: a fork shared the page) say nothing about use,
// and a fork marks every resident page so: at one chunk per tick the hand needed minutes
// to come back to them once the child had gone. So past a chunk of Shared marks only, the
// hand walks on (up to kSharedWalk pages a call) if the chunk's last such page is
// exclusive to us again (pagemap): the child is gone. Not while it lives, nor in a fork
// child taking the engine over, whose pages shared with the parent stay refused: walking
// past them there only found the pages the child had just faulted back (its BGSAVE took
// 2-5x longer). EBUSY answers are bounded too (kBusyPerCall): while a child shares the
// memory, every attempt is refused.
namespace {
constexpr size_t kSharedWalk = 4096;
constexpr size_t kBusyPerCall = 64;
}  // namespace

size_t EngineCore::stage_cold(size_t max_pages) {
  size_t staged = 0, busy = 0, walked = 0;
  uintptr_t cand[32];
  while (staged < max_pages) {
    size_t want = max_pages - staged < 32 ? max_pages - staged : 32;
    size_t n = 0;
    {
      LockGuard<SpinLock> h(hand_lock_);
      SharedGuard g(map_lock_);
      uintptr_t a = hand_;
      int wraps = 0;
      while (n < want) {
        Range* r = ranges_.lower_bound(a);
        if (r == nullptr) {
          if (++wraps > 1) break;
          a = 0;
          continue;
        }
        if (a < r->start) a = r->start;
        if (r->leaving) {
          a = r->end();
          continue;
        }
        const size_t asked = want - n;
        size_t visited = 0, other_marks = 0, shared = 0;
        uintptr_t last_shared = 0;
        a = pagemap_.present_runs(a, r->end(), asked, [&](uintptr_t s, uintptr_t e) {
          for (uintptr_t p = s; p < e && n < want; p += kPageSize) {
            ++visited;
            AtomicEntry& en = r->entries[r->index_of(p)];
            Entry v = en.load(std::memory_order_acquire);
            if (entry_state(v) != PageState::Absent) continue;
            if (entry_flags(v) & (kFlagHot | kFlagPoor | kFlagShared)) {
              // Second chance: clear the mark, evict next time round.
              en.compare_exchange_strong(v, make_entry(PageState::Absent), std::memory_order_acq_rel);
              UZ_COUNT(evict_skip_hot);
              if (entry_flags(v) == kFlagShared) {
                ++shared;
                last_shared = p;
              } else {
                ++other_marks;
              }
              continue;
            }
            cand[n++] = p;
          }
        });
        if (n < want && a < r->end()) {
          // Short: a scan error (visited < asked), or marked or busy pages. Walk on only
          // past Shared marks whose child has gone, within the budget.
          walked += visited;
          if (visited < asked || other_marks > 0 || shared == 0 || walked >= kSharedWalk ||
              !pagemap_.exclusive(last_shared))
            break;
          continue;
        }
        if (a >= r->end()) a = r->end();
      }
      hand_ = a;
    }
    if (n == 0) break;
    bool stop = false;
    for (size_t i = 0; i < n && !stop; ++i) {
      StageResult res = stage_one(cand[i]);
      if (res == StageResult::Busy && make_exclusive_again(cand[i])) res = stage_one(cand[i]);
      if (res == StageResult::Staged) ++staged;
      if (res == StageResult::Busy) ++busy;
      stop = res == StageResult::NoSlot || busy >= kBusyPerCall;
    }
    if (stop) break;
  }
  return staged;
}

// UFFDIO_MOVE refuses (EBUSY) an anonymous page that is not marked exclusive to this
// process. Every page present at a fork loses that mark in the parent and gets it back
// only from a write fault, so after the child has gone, memory the parent never writes
// again (the cold data) could never be evicted: a program under uzswap that forks once
// (redis' BGSAVE, a subprocess) kept its whole dataset resident. When the page is mapped
// by us alone again (pagemap bit 56), MADV_POPULATE_WRITE takes that write fault without
// writing: the kernel reuses the page, marks it exclusive, copies nothing, and the next
// round moves it. While a child still maps it, it is left alone: evicting would copy it.
// Called without map_lock: if the program dropped the page meanwhile, the populate faults
// like a first touch, which a handler serves (and which must not wait for an event reader
// blocked on our shared hold).
// True when the page was made exclusive again and its refusal mark cleared: the caller
// tries it again at once (MOVE now takes it).
bool EngineCore::make_exclusive_again(uintptr_t page) {
  if (!pagemap_.exclusive(page)) return false;
  if (madvise(reinterpret_cast<void*>(page), kPageSize, MADV_POPULATE_WRITE) != 0) return false;
  UZ_COUNT(evict_unshared);
  SharedGuard g(map_lock_);
  Range* r = ranges_.find(page);
  if (r == nullptr) return false;
  Entry marked = make_entry(PageState::Absent, 0, kFlagShared);
  return r->entries[r->index_of(page)].compare_exchange_strong(marked, make_entry(PageState::Absent),
                                                               std::memory_order_acq_rel);
}

EngineCore::StageResult EngineCore::stage_one(uintptr_t page) {
  return move_mode_ ? stage_one_move(page) : stage_one_copy(page);
}

// UFFDIO_MOVE checks only that the destination is registered: moving a page out of a
// VMA that is not registered with us would leave a hole that reads as zeros instead of
// faulting. Our table can cover such a VMA if the program's memory changed behind every
// interposer (a brk shrink and regrowth around our registration). UFFDIO_ZEROPAGE on the
// claimed page asks the kernel: ENOENT if the VMA is not ours; EEXIST if it is and the
// page is present; 0 if it is ours and was not present (a stale pagemap snapshot), which
// installs the zero page: what the program would read from a never-touched page, and the
// entry, Evicting, keeps faults away until we settle it.
// The kernel's check is "registered with a userfaultfd"; in a process with one engine that
// is ours.
bool EngineCore::registered_with_us(uintptr_t page) {
  size_t done = 0;
  int rc = uffd_.zeropage(page, kPageSize, false, &done);
  return rc == 0 || rc == EEXIST || rc == EAGAIN;  // EAGAIN: an event is pending; MOVE will say so too
}

// Caller holds map_lock shared. Claimed: the entry went Absent -> Evicting(*slot).
EngineCore::StageResult EngineCore::claim_for_eviction(uintptr_t page, AtomicEntry** entry, uint32_t* slot) {
  Range* r = ranges_.find(page);
  if (r == nullptr || r->leaving) return StageResult::Skipped;
  size_t idx = r->index_of(page);
  AtomicEntry& e = r->entries[idx];
  Entry v = e.load(std::memory_order_acquire);
  if (v != make_entry(PageState::Absent)) return StageResult::Skipped;
  if (!staging_.alloc(ranges_.owner_of(r, idx), slot)) {
    UZ_COUNT(evict_no_slot);
    return StageResult::NoSlot;
  }
  if (!e.compare_exchange_strong(v, make_entry(PageState::Evicting, *slot), std::memory_order_acq_rel)) {
    staging_.release_clean(*slot);
    return StageResult::Skipped;
  }
  *entry = &e;
  return StageResult::Claimed;
}

EngineCore::StageResult EngineCore::stage_one_move(uintptr_t page) {
  SharedGuard g(map_lock_);
  AtomicEntry* claimed = nullptr;
  uint32_t slot;
  StageResult claim = claim_for_eviction(page, &claimed, &slot);
  if (claim != StageResult::Claimed) return claim;
  AtomicEntry& e = *claimed;
  staging_.begin_move();
  // From the check to the MOVE no event may be read (see "Evict window" above): a change
  // of the page's VMA meanwhile then shows as mmap_changing and the MOVE answers EAGAIN.
  evict_moves_.fetch_add(1, std::memory_order_seq_cst);
  const bool reader_waiting = map_lock_.announced();
  if (reader_waiting || !registered_with_us(page)) {
    evict_moves_.fetch_sub(1, std::memory_order_release);
    staging_.end_move();
    e.store(make_entry(PageState::Absent, 0, reader_waiting ? 0 : kFlagPoor), std::memory_order_release);
    staging_.release_clean(slot);
    if (!reader_waiting) UZ_COUNT(evict_skip_unregistered);
    return StageResult::Skipped;
  }
  size_t done = 0;
  int rc = uffd_.move(staging_.addr(slot), page, kPageSize, false, &done);
  evict_moves_.fetch_sub(1, std::memory_order_release);
  staging_.end_move();
  if (rc == 0) {
    staging_.set_stage_ns(slot, now_ns());
    e.store(make_entry(PageState::Staged, slot), std::memory_order_release);
    UZ_COUNT(evict_staged);
    return StageResult::Staged;
  }
  // Nothing moved. EBUSY: the page is shared (fork child, KSM); EINVAL: mlocked or a
  // protection that differs from the staging area's. Leave it resident, skip it once.
  Entry back = make_entry(PageState::Absent);
  if (rc == EBUSY) {
    UZ_COUNT(evict_skip_busy);
    back = make_entry(PageState::Absent, 0, kFlagShared);
  } else if (rc != ENOENT && rc != EAGAIN) {
    UZ_COUNT(evict_skip_refused);
    back = make_entry(PageState::Absent, 0, kFlagPoor);
  }
  e.store(back, std::memory_order_release);
  if (rc == EEXIST) {
    staging_.release_dirty(slot);  // the slot was not empty: have it zapped
  } else {
    staging_.release_clean(slot);
  }
  return rc == EBUSY ? StageResult::Busy : StageResult::Skipped;
}

EngineCore::StageResult EngineCore::stage_one_copy(uintptr_t page) {
  uint32_t slot;
  uint64_t epoch;
  // Phase 1 (map_lock shared): claim, write-protect, note the mm epoch.
  {
    SharedGuard g(map_lock_);
    AtomicEntry* claimed = nullptr;
    StageResult claim = claim_for_eviction(page, &claimed, &slot);
    if (claim != StageResult::Claimed) return claim;
    if (uffd_.writeprotect(page, kPageSize, true, false) != 0) {
      claimed->store(make_entry(PageState::Absent), std::memory_order_release);
      staging_.release_clean(slot);
      return StageResult::Skipped;
    }
    epoch = mm_epoch_;
  }
  // Copy without map_lock: process_vm_readv fails instead of crashing if the program
  // unmapped the page meanwhile, and if the address now holds some other registered
  // page that is missing, the fault it takes is served by a handler (we hold nothing a
  // handler needs).
  bool copied = copy_from_program(page, staging_.addr(slot));
  // Phase 2 (map_lock shared): the copy counts only if no mm change happened since
  // phase 1: none applied (epoch) and none pending (the kernel answers EAGAIN to the
  // write-protect probe while an event is unread).
  {
    SharedGuard g(map_lock_);
    size_t idx;
    Range* r = ranges_.resolve(staging_.owner(slot), &idx);
    if (r == nullptr) {  // dropped by an event
      staging_.release_dirty(slot);
      return StageResult::Skipped;
    }
    AtomicEntry& e = r->entries[idx];
    const uintptr_t now_at = r->addr_of(idx);
    // The probe sees only unread events; an event read but not yet applied (its reader
    // waits in drain() for us) shows as the announcement, checked after the probe.
    const bool stable = copied && mm_epoch_ == epoch && now_at == page && layout_quiet() &&
                        uffd_.writeprotect(page, kPageSize, true, false) == 0 && !map_lock_.announced();
    Entry expect = make_entry(PageState::Evicting, slot);
    if (!stable) {
      unprotect_as_owner(e, expect, now_at, make_entry(PageState::Absent));
      staging_.release_dirty(slot);
      return StageResult::Skipped;
    }
    if (!e.compare_exchange_strong(expect, make_entry(PageState::EvictingZap, slot, kFlagSelfZap),
                                   std::memory_order_acq_rel)) {
      staging_.release_dirty(slot);  // a writer cancelled us (resolve_wp)
      return StageResult::Skipped;
    }
    zaps_in_flight_.fetch_add(1, std::memory_order_relaxed);  // published by the unlock
  }
  // Phase 3: zap without map_lock: the REMOVE event must be read by a handler first.
  if (cfg_.before_fallback_zap != nullptr) cfg_.before_fallback_zap(page);
  int mrc = madvise(reinterpret_cast<void*>(page), kPageSize, MADV_DONTNEED);
  zaps_in_flight_.fetch_sub(1, std::memory_order_release);
  SharedGuard g(map_lock_);
  size_t idx;
  Range* r = ranges_.resolve(staging_.owner(slot), &idx);
  if (r == nullptr) {  // dropped by an event meanwhile
    staging_.release_dirty(slot);
    return StageResult::Skipped;
  }
  AtomicEntry& e = r->entries[idx];
  const Entry zapped = make_entry(PageState::EvictingZap, slot);
  for (;;) {
    Entry cur = e.load(std::memory_order_acquire);
    if (cur == zapped && mrc == 0) {
      if (!e.compare_exchange_strong(cur, make_entry(PageState::Staged, slot), std::memory_order_acq_rel)) continue;
      staging_.set_stage_ns(slot, now_ns());
      UZ_COUNT(evict_fallback);
      return StageResult::Staged;
    }
    if (cur == (zapped | kFlagSelfZap) || cur == zapped) {
      if (!unprotect_as_owner(e, cur, r->addr_of(idx), make_entry(PageState::Absent))) continue;
      staging_.release_dirty(slot);
      return StageResult::Skipped;
    }
    if (cur == make_entry(PageState::Loading, slot)) {
      wait_while_loading(e, slot);  // a fault copying out of our slot may yet fail (EAGAIN)
      continue;
    }
    staging_.release_dirty(slot);
    return StageResult::Skipped;
  }
}

// Every removal of write protection is made by the owner of the page's entry, which reads
// Loading until the protection is gone. An unowned one could land after an evictor had
// claimed the page again, protected it (a no-op: still protected) and copied it: the
// write it lets through would be missing from that copy, and the zap would lose it. The
// evictor's second protect (the phase-2 probe) cannot see that the page was writable in
// between. Caller holds map_lock shared. A Staged or Compressing entry reads Loading(its
// slot) meanwhile: a compressor holding that slot waits for exactly that to end.
bool EngineCore::unprotect_as_owner(AtomicEntry& e, Entry owned, uintptr_t page, Entry after, int* rc) {
  const PageState st = entry_state(owned);
  const Entry loading = st == PageState::Staged || st == PageState::Compressing
                            ? make_entry(PageState::Loading, entry_payload(owned))
                            : make_entry(PageState::Loading);
  if (!e.compare_exchange_strong(owned, loading, std::memory_order_acq_rel)) return false;
  int r = uffd_.writeprotect(page, kPageSize, false, true);
  e.store(after, std::memory_order_release);
  if (rc != nullptr) *rc = r;
  return true;
}

size_t EngineCore::release_staging() {
  size_t n = staging_.zap_dirty();
  estimate_.add(-static_cast<int64_t>(n * kPageSize));
  return n;
}

size_t EngineCore::compress_staged(uint64_t min_age_ns, size_t max_pages) {
  Scratch& s = my_reclaim_scratch();
  if (s.page == nullptr) return 0;
  return compress_aged(s, min_age_ns, max_pages, staging_.slots());
}

// Compresses up to max_pages staged pages at least min_age_ns old, looking at max_scan
// slots at most from the shared compress hand. Any thread holding no lock (reclaim
// threads; fault handlers assisting under pressure, throttle.cpp).
size_t EngineCore::compress_aged(Scratch& s, uint64_t min_age_ns, size_t max_pages, size_t max_scan) {
  const uint64_t now = now_ns();
  const size_t slots = staging_.slots();
  if (max_scan > slots) max_scan = slots;
  size_t done = 0;
  for (size_t scanned = 0; scanned < max_scan && done < max_pages; ++scanned) {
    uint32_t slot = compress_hand_.fetch_add(1, std::memory_order_relaxed) % slots;
    if (staging_.state(slot) != SlotState::InUse) continue;
    if (now - staging_.stage_ns(slot) < min_age_ns) continue;
    if (compress_one(slot, s)) ++done;
  }
  return done;
}

bool EngineCore::compress_one(uint32_t slot, Scratch& s) {
  {
    SharedGuard g(map_lock_);
    size_t idx;
    Range* r = ranges_.resolve(staging_.owner(slot), &idx);
    if (r == nullptr) return false;
    Entry v = make_entry(PageState::Staged, slot);
    if (!r->entries[idx].compare_exchange_strong(v, make_entry(PageState::Compressing, slot),
                                                 std::memory_order_acq_rel))
      return false;
  }
  const auto* src = reinterpret_cast<const uint8_t*>(staging_.addr(slot));
  uint32_t pattern;
  if (same_filled(src, &pattern)) {
    finish_compress(slot, make_entry(PageState::SameFilled, pattern), pool::kNoHandle, 0);
    return true;
  }
  size_t n = comp_->compress(src, kPageSize, s.buf, cfg_.reject_threshold);
  if (n == 0) {
    UZ_COUNT(reject_compress_poor);
    put_back(slot);
    return true;
  }
  pool::AllocError err = pool::AllocError::None;
  pool::Handle h = pool_->alloc(n, &err);
  if (h == pool::kNoHandle) {
    if (err == pool::AllocError::Limit) {
      UZ_COUNT(reject_pool_limit);
      pool_full_.store(true, std::memory_order_relaxed);
    } else {
      UZ_COUNT(reject_alloc_fail);
    }
    put_back(slot);
    return true;
  }
  pool_full_.store(false, std::memory_order_relaxed);
  if (h > kPayloadMax) {
    pool_->free(h);
    UZ_COUNT(reject_handle_range);
    put_back(slot);
    return true;
  }
  pool_->write(h, s.buf, n);
  finish_compress(slot, make_entry(PageState::Stored, h), h, n);
  return true;
}

void EngineCore::finish_compress(uint32_t slot, Entry result, pool::Handle handle, size_t size) {
  {
    SharedGuard g(map_lock_);
    size_t idx;
    Range* r = ranges_.resolve(staging_.owner(slot), &idx);
    if (r != nullptr) {
      AtomicEntry& e = r->entries[idx];
      const Entry claimed = make_entry(PageState::Compressing, slot);
      for (;;) {
        Entry expect = claimed;
        if (e.compare_exchange_strong(expect, result, std::memory_order_acq_rel)) {
          staging_.release_dirty(slot);
          if (handle != pool::kNoHandle) {
            estimate_.add(static_cast<int64_t>(size));  // the pool grew; the slot is freed by its zap
            stored_pages_.fetch_add(1, std::memory_order_relaxed);
            compressed_bytes_.fetch_add(size, std::memory_order_relaxed);
            UZ_COUNT(compress_stored);
          } else {
            same_filled_pages_.fetch_add(1, std::memory_order_relaxed);
            UZ_COUNT(compress_same_filled);
          }
          return;
        }
        if (expect != make_entry(PageState::Loading, slot)) break;
        wait_while_loading(e, slot);  // a fault copying out of the slot may yet fail (EAGAIN)
      }
    }
  }
  // Faulted back or dropped meanwhile: our result is not needed.
  if (handle != pool::kNoHandle) pool_->free(handle);
  staging_.release_dirty(slot);
}

void EngineCore::put_back(uint32_t slot) {
  SharedGuard g(map_lock_);
  size_t idx;
  Range* r = ranges_.resolve(staging_.owner(slot), &idx);
  if (r == nullptr) {
    staging_.release_dirty(slot);
    return;
  }
  AtomicEntry& e = r->entries[idx];
  const Entry claimed = make_entry(PageState::Compressing, slot);
  const Entry loading = make_entry(PageState::Loading, slot);
  for (;;) {
    Entry expect = claimed;
    if (e.compare_exchange_strong(expect, loading, std::memory_order_acq_rel)) break;
    if (expect != loading) {
      staging_.release_dirty(slot);  // faulted back meanwhile
      return;
    }
    wait_while_loading(e, slot);
  }
  uintptr_t page = r->addr_of(idx);
  int rc = EINVAL;
  if (move_mode_) {
    size_t done = 0;
    rc = uffd_.move(page, staging_.addr(slot), kPageSize, true, &done);
    if (rc == 0) {
      e.store(make_entry(PageState::Absent, 0, kFlagPoor), std::memory_order_release);
      staging_.release_clean(slot);
      UZ_COUNT(put_back_pages);
      return;
    }
  }
  if (rc != EAGAIN) rc = uffd_.copy(page, reinterpret_cast<void*>(staging_.addr(slot)), kPageSize, true);
  if (rc == 0) {
    e.store(make_entry(PageState::Absent, 0, kFlagPoor), std::memory_order_release);
    staging_.release_dirty(slot);
    UZ_COUNT(put_back_pages);
    return;
  }
  // The mm is changing (EAGAIN) or the ioctl failed: keep it staged, retry later.
  staging_.set_stage_ns(slot, now_ns());
  e.store(make_entry(PageState::Staged, slot), std::memory_order_release);
}

}  // namespace uzswap::uffd
