// uffd/engine_fork.cpp — fork(): quiescing the engine in the parent, taking it over in
// the child.
//
// A fork child gets copies of everything the engine keeps in memory: page-entry tables,
// pool, staging area (all copy-on-write), and of the program's pages; it gets none of the
// engine's threads, and its copies of managed ranges lost their userfaultfd registration
// (UFFD_FEATURE_EVENT_FORK is not requested: it needs CAP_SYS_PTRACE). The copies are a
// consistent engine if, at the instant of the fork syscall, every entry is in a stable
// state (Absent, Zapping, Staged, Stored, SameFilled) and no table edit is half done.
//
//   fork_prepare (parent, forking thread, preload's fork_lock held):
//     1. open a spare userfaultfd: proof that the child may open one (same credentials)
//        and a descriptor number kept free for it; refused -> false (the caller brings
//        the evicted pages back instead, as before this path existed);
//     2. pause reclaim: evictions and compressions in flight finish, none starts, so no
//        Evicting, EvictingZap or Compressing entry exists; nothing is evicted from now
//        until the fork, so what is present now is present in the child;
//     2b. start and join one thread on a stack of our own (warm_thread_creation), as
//        the child will start its first handler, which must run before anything serves
//        a fault there: the child's pthread_create then finds what it touches present
//        (the DTV it callocs is the chunk this thread's freed, at the head of the forking
//        thread's tcache; the stack is ours, never managed). Without this, redis (whose
//        malloc heap and thread stacks the coverage scan manages) blocked in its BGSAVE
//        child on an evicted descriptor of glibc's thread stack cache;
//     3. close the fork gate (fork_gate.h): messages in flight are finished; from now on
//        one resolution at a time, the forking thread's complete before that thread can
//        go on to the fork syscall; other threads' may be caught by the fork: their pool
//        frees and slot releases are deferred (deferred_), and resolving_page_ names the
//        one in flight; events are held, faults on pages they concern parked.
//     manage/unmanage are kept out by the caller's fork_lock.
//   fork_parent: close the spare; apply the held events and the deferred releases; open
//     the gate; wake the parked faults (they fault again and are served); resume reclaim.
//   fork_child_early (single-threaded, the child's first atfork child handler: preload
//     registers it before anyone else's, so it runs before other libraries' child
//     handlers, which may touch memory evicted at the fork; jemalloc's resets fields of
//     its arenas that its prepare handler never touched):
//     1. reset every lock of the engine and of the pool (a lock copied while held by a
//        thread of the parent would stay held: the stats publisher or the coverage scan
//        may have been measuring, a handler may have had a pool object mapped) and the
//        gate; close the spare; reopen /proc/self/pagemap (the inherited one reads the
//        parent's);
//     2. close the inherited userfaultfd (it names the parent's context: never read it)
//        and open a transitional one: no events, UFFD_FEATURE_SIGBUS (no thread of ours
//        can run yet: starting one needs malloc, whose locks other libraries' handlers
//        have not released);
//     3. register the staging area (MOVE mode); repair the resolution the fork caught,
//        if any (repair_interrupted_resolution); apply the events the parent held at the
//        fork and the deferred releases (our copies of them); register every managed
//        range (MISSING only); a range (or part) that cannot be registered any more
//        (unmapped by an event we never saw) is cut.
//     From here to fork_child, a touch of an evicted page raises SIGBUS in the touching
//     thread; preload's signal chain hands it to fork_child_fault, which resolves the
//     page in that thread (transitional state: in_transition_).
//   fork_child (single-threaded, the child's last handler of ours, after the others):
//     without fork_child_early, its steps 1-3 first (the engine's own tests call it so);
//     4. close the transitional userfaultfd (which unregisters everything before the
//        close returns) and open one with the parent's features; new stop eventfd;
//        forget the handler threads; register everything again (WP too in copy mode);
//     5. start new handler threads, then restart reclaim.
//     If any step fails before handlers serve faults: close the new userfaultfd (which
//     drops its registrations) and write every evicted page back into place through
//     /proc/self/mem (the child's memory is then complete; it runs without uzswap).
//
// Known residuals (docs/engine.md, "fork"):
//   - Pages the child touches between the fork syscall and fork_child_early (glibc's own
//     child fixups) read as zeros if they were evicted at the fork: their registration
//     is gone. glibc's fixups touch its malloc arena mutexes, the stdio list lock and the
//     name-service state, which the parent locked or saved after our prepare (present at
//     the fork), and libc's own data (never managed).
//   - In the transitional phase a system call given an evicted buffer fails with EFAULT
//     (SIGBUS mode), and memory-map changes send no event: an madvise(MADV_DONTNEED) of
//     evicted pages there would leave them evicted (old bytes, not zeros, afterwards).
//   - Events the kernel queued for the parent but nobody read before the fork syscall
//     (an mm change by another thread racing the fork, through a call that does not take
//     fork_lock: glibc-internal munmap/mremap, madvise) are unknown to the child. An
//     UNMAP leaves stale entries (cut at registration, or when the address is mapped
//     again); a REMAP (mremap of managed memory by glibc's realloc of an mmapped chunk,
//     racing the fork) leaves the moved range's evicted pages unregistered at their new
//     address in the child: they read as zeros there.
//   - Between the child's registration and its first handler thread, pthread_create runs;
//     a touch of evicted memory there would block the child for good. Step 2b makes what
//     it touches present as far as we know glibc (2.36: the DTV calloc, the thread lists'
//     heads, which are the forking thread's own descriptor); another libc could differ.
//   - A fault of a thread other than the forking one, on a page a held event concerns,
//     is parked until the fork is over: if that thread holds a lock the fork needs, the
//     fork waits for ever. It takes an mm change during the fork window, then a fault on
//     the same pages with a lock of glibc's fork held.
//
// Lock order: read_mutex -> map_lock, as everywhere (core.h). fork_prepare takes no
// engine lock itself; the gate's closed protocol runs under read_mutex.
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <new>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/fd_guard.h"
#include "common/log.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {

template <typename T>
void reinit(T& lock) {
  new (&lock) T();
}

pid_t current_tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// deferred_ records: a pool handle (kind 0) or a staging slot, clean (1) or dirty (2).
constexpr uint64_t kReleaseHandle = 0, kReleaseSlotClean = 1, kReleaseSlotDirty = 2;
uint64_t release_record(uint64_t value, uint64_t kind) { return value << 2 | kind; }

void* do_nothing(void*) { return nullptr; }

// Step 2b above: one thread started and joined exactly as the child will start its
// first handler (on a stack of our own), all signals blocked like every engine thread.
void warm_thread_creation() {
  void* stack = map_thread_stack();
  if (stack == nullptr) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  if (start_on_stack(&t, stack, do_nothing, nullptr)) pthread_join(t, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kThreadStackBytes);
}

}  // namespace

bool EngineCore::fork_prepare() {
  if (stopped_.load(std::memory_order_acquire) || !uffd_.features().thread_id || !uffd_.transitional_supported() ||
      held_ == nullptr)
    return false;
  int spare = uffd_.open_spare();
  if (spare < 0) return false;
  spare_fd_ = spare;
  reclaimer_.pause();
  warm_thread_creation();
  fork_gate_.close(current_tid());
  // Closed-gate handlers take no message until this is set (take_message_gate_closed):
  // handlers still inside the open gate released directly, and have finished.
  defer_releases_.store(true, std::memory_order_seq_cst);
  // Faults the throttle parked are served only with the gate open: a thread parked so
  // while holding a lock the fork takes later would hang it. Woken, they fault again and
  // are served through the closed gate.
  wake_all_parked();
  UZ_COUNT(fork_quiesced);
  return true;
}

void EngineCore::fork_parent() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
  spare_fd_ = -1;
  {
    LockGuard<SpinLock> rm(read_mutex_);
    defer_releases_.store(false, std::memory_order_relaxed);
    map_lock_.lock_exclusive();
    apply_held_events();
    map_lock_.unlock_exclusive();
    run_deferred_releases();
    fork_gate_.open();
    wake_fork_parked();
  }
  reclaimer_.resume();
}

// The closed-gate protocol (fork_gate.h), under read_mutex_ with map_lock announced.
//
// The forking thread: blocked in this fault until our wake, which comes last, so the fork
// cannot happen in the middle (a signal that frees it early: the child repairs).
void EngineCore::resolve_forking_thread_fault(const uffd_msg& msg, Scratch& s) {
  map_lock_.drain();
  // Released at once: the forking thread waits for this message, so the fork cannot catch
  // these edits, and an unmap of many evicted pages would fill the deferred list (after
  // which other threads' faults are parked again).
  defer_releases_.store(false, std::memory_order_relaxed);
  apply_held_events();
  defer_releases_.store(true, std::memory_order_relaxed);
  map_lock_.withdraw();
  const uintptr_t page = msg.arg.pagefault.address & ~(kPageSize - 1);
  begin_closed_resolution(page);
  UffdFile::defer_wakes(true);
  if (staging_.contains(page)) {
    handle_message(msg, s);
  } else {
    s.may_park = false;  // never throttled: the fork waits for this thread
    s.write = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;
    resolve_and_wake(page, msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP, s, now_ns());
  }
  UffdFile::defer_wakes(false);
  end_closed_resolution();
  uffd_.wake_now(page, kPageSize);
}

// Another thread's fault: served, not parked, because that thread may hold a lock the
// forking thread takes after our prepare handler (glibc's malloc arena and stdio list
// locks): parking it would deadlock the fork. The fork may now happen in the middle of
// this resolution: it is the only one in flight (read_mutex_ is held throughout), the
// pool and staging releases it ends with are deferred, and resolving_page_ tells the
// child which entry to repair.
void EngineCore::resolve_fault_gate_closed(const uffd_msg& msg, Scratch& s) {
  map_lock_.withdraw();
  const uintptr_t page = msg.arg.pagefault.address & ~(kPageSize - 1);
  begin_closed_resolution(page);
  s.may_park = false;  // the throttle's parked faults are served only with the gate open
  s.write = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;
  s.max_run = 1;  // a zero run could reach pages a held event concerns (checked: this one only)
  resolve_and_wake(page, msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP, s, now_ns());
  s.max_run = kZeroRunPages;
  end_closed_resolution();
  UZ_COUNT(fork_served_faults);
}

// A fault of another thread is parked instead when the events held so far concern its
// page (our table does not show them yet; applying them is a multi-step table edit the
// fork must not catch half done), or when a release might not fit the deferred list.
bool EngineCore::may_resolve_gate_closed(uintptr_t page) const {
  return !staging_.contains(page) && ndeferred_ + 1 < kDeferredReleases && !held_event_covers(page);
}

bool EngineCore::held_event_covers(uintptr_t page) const {
  for (size_t i = 0; i < nheld_; ++i) {
    const uffd_msg& m = held_[i];
    switch (m.event) {
      case UFFD_EVENT_REMOVE:
      case UFFD_EVENT_UNMAP:
        if (page >= m.arg.remove.start && page < m.arg.remove.end) return true;
        break;
      case UFFD_EVENT_REMAP:
        if (page >= m.arg.remap.from && page - m.arg.remap.from < m.arg.remap.len) return true;
        if (page >= m.arg.remap.to && page - m.arg.remap.to < m.arg.remap.len) return true;
        break;
      default:
        return true;  // not requested: assume the worst
    }
  }
  return false;
}

void EngineCore::begin_closed_resolution(uintptr_t page) {
  resolving_before_ = 0;
  {
    SharedGuard g(map_lock_);
    if (Range* r = ranges_.find(page)) resolving_before_ = r->entries[r->index_of(page)].load(std::memory_order_acquire);
  }
  __atomic_store_n(&resolving_page_, page, __ATOMIC_SEQ_CST);
}

void EngineCore::end_closed_resolution() { __atomic_store_n(&resolving_page_, 0, __ATOMIC_SEQ_CST); }

// True: noted for after the fork instead of released now.
bool EngineCore::defer_release(uint64_t record) {
  if (!defer_releases_.load(std::memory_order_relaxed) || ndeferred_ == kDeferredReleases) return false;
  deferred_[ndeferred_] = record;
  __atomic_store_n(&ndeferred_, ndeferred_ + 1, __ATOMIC_RELEASE);  // after the record: a fork sees whole records
  return true;
}

void EngineCore::release_handle(pool::Handle h) {
  if (!defer_release(release_record(h, kReleaseHandle))) pool_->free(h);
}

void EngineCore::release_slot(uint32_t slot, bool clean) {
  if (defer_release(release_record(slot, clean ? kReleaseSlotClean : kReleaseSlotDirty))) return;
  if (clean) {
    staging_.release_clean(slot);
  } else {
    staging_.release_dirty(slot);
  }
}

bool EngineCore::release_is_deferred(uint64_t record) const {
  for (size_t i = 0; i < ndeferred_; ++i)
    if (deferred_[i] == record) return true;
  return false;
}

// Under read_mutex_ (parent) or single-threaded (child), with defer_releases_ off.
void EngineCore::run_deferred_releases() {
  const size_t n = ndeferred_;
  ndeferred_ = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t value = deferred_[i] >> 2;
    switch (deferred_[i] & 3) {
      case kReleaseHandle:
        pool_->free(value);
        break;
      case kReleaseSlotClean:
        staging_.release_clean(static_cast<uint32_t>(value));
        break;
      default:
        staging_.release_dirty(static_cast<uint32_t>(value));
        break;
    }
  }
}

// Under read_mutex_, with map_lock announced (the reader's protocol).
void EngineCore::hold_event(const uffd_msg& msg) {
  if (nheld_ == kHeldEvents) {
    // Never seen in practice (a thousand mm events within one fork); apply rather than
    // lose them, at the price of an edit the fork may catch half done.
    UZ_WARN("fork: more than %zu memory-map events during a fork; applying them now", kHeldEvents);
    map_lock_.drain();
    apply_held_events();
    apply_event(msg);
    return;
  }
  held_[nheld_++] = msg;
  UZ_COUNT(fork_held_events);
}

void EngineCore::apply_held_events() {
  for (size_t i = 0; i < nheld_; ++i) apply_event(held_[i]);
  nheld_ = 0;
}

void EngineCore::park_for_fork(uintptr_t page) {
  if (nfork_parked_ == kParkedFaults) {
    uffd_.wake_now(page, kPageSize);  // it faults again: read again later
    return;
  }
  fork_parked_[nfork_parked_++] = page;
  UZ_COUNT(fork_parked_faults);
}

void EngineCore::wake_fork_parked() {
  for (size_t i = 0; i < nfork_parked_; ++i) uffd_.wake_now(fork_parked_[i], kPageSize);
  nfork_parked_ = 0;
}

void EngineCore::reset_locks_after_fork() {
  reinit(map_lock_);
  reinit(read_mutex_);
  reinit(hand_lock_);
  reinit(unmanage_lock_);
  reinit(measure_lock_);
  pool_->reset_locks_after_fork();
  defer_releases_.store(false, std::memory_order_relaxed);
  fork_gate_.reset();
  nfork_parked_ = 0;
  zaps_in_flight_.store(0, std::memory_order_relaxed);  // reclaim was paused: none was in flight
  reclaimer_.forget_rounds_after_fork();                // it stays paused until restarted
  parked_.forget_after_fork();  // the throttle's: faults of the parent's threads
  stopping_.store(false, std::memory_order_relaxed);
}

// The pool object, slot or count of an entry in a stable evicted state (Staged, Stored,
// SameFilled) whose page was put back or dropped. Also drop_entry's (events.cpp).
void EngineCore::release_entry_resources(Entry before) {
  switch (entry_state(before)) {
    case PageState::Stored: {
      pool::Handle h = entry_payload(before);
      compressed_bytes_.fetch_sub(pool_->object_size(h), std::memory_order_relaxed);
      stored_pages_.fetch_sub(1, std::memory_order_relaxed);
      release_handle(h);
      break;
    }
    case PageState::Staged:
      release_slot(static_cast<uint32_t>(entry_payload(before)), /*clean=*/false);  // a zap of an empty slot is harmless
      break;
    case PageState::SameFilled:
      same_filled_pages_.fetch_sub(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
}

// In the child, single-threaded, before the held events are applied (the resolution
// concerned no page of theirs: may_resolve_gate_closed, or applied before it): the
// resolution a fork caught (resolving_page_) is finished or undone in our copy, by what
// the child's page shows. Resolutions release their pool object or slot after leaving
// Loading, and only into the deferred list, so the child's pool and staging lists are
// whole. Counts are decremented after the entry leaves Loading: a caught Loading entry has
// not been counted out yet; a finished one may have been or not (at worst one too many).
void EngineCore::repair_interrupted_resolution() {
  const uintptr_t page = resolving_page_;
  resolving_page_ = 0;
  if (page == 0) return;
  Range* r = ranges_.find(page);
  if (r == nullptr) return;
  size_t idx = r->index_of(page);
  const Entry now = r->entries[idx].load(std::memory_order_acquire);
  const PageState before = entry_state(resolving_before_);
  if (entry_state(now) != PageState::Loading) {
    // Finished before the fork, or not begun. Finished, its release may not have been
    // noted yet: the child releases that one itself.
    if (entry_state(now) != PageState::Absent) return;
    const uint64_t payload = entry_payload(resolving_before_);
    if (before == PageState::Stored && pool_->object_size(payload) > 0 &&
        !release_is_deferred(release_record(payload, kReleaseHandle))) {
      release_handle(payload);
      UZ_COUNT(fork_child_repaired);
    } else if (before == PageState::Staged && staging_.state(static_cast<uint32_t>(payload)) == SlotState::InUse &&
               !release_is_deferred(release_record(payload, kReleaseSlotClean)) &&
               !release_is_deferred(release_record(payload, kReleaseSlotDirty))) {
      release_slot(static_cast<uint32_t>(payload), /*clean=*/false);
      UZ_COUNT(fork_child_repaired);
    }
    return;
  }
  UZ_COUNT(fork_child_repaired);
  if (before == PageState::Absent || before == PageState::Zapping) {
    // A zero run: its claimed entries were Absent/Zapping; Absent fits either outcome.
    size_t last = r->first + r->npages;
    for (size_t i = idx; i < last && i < idx + kZeroRunPages; ++i)
      if (r->entries[i].load(std::memory_order_relaxed) == make_entry(PageState::Loading))
        r->entries[i].store(make_entry(PageState::Absent), std::memory_order_relaxed);
    return;
  }
  // The ioctl that puts the page back and the fork exclude each other (mmap_lock): the
  // page is in the child if and only if the ioctl ran first.
  if (pagemap_.count_present(page, page + kPageSize) > 0) {
    r->entries[idx].store(make_entry(PageState::Absent), std::memory_order_relaxed);
    release_entry_resources(resolving_before_);
  } else {
    r->entries[idx].store(resolving_before_, std::memory_order_relaxed);
  }
}

// [lo, hi) of a range in the table: registered, or (the parts the kernel refuses) cut.
void EngineCore::register_or_cut(uintptr_t lo, uintptr_t hi, bool wp) {
  if (uffd_.register_range(lo, hi - lo, wp) == 0) return;
  if (hi - lo == kPageSize) {
    ranges_.cut(lo, hi, [this](Entry v, Owner o) { drop_entry(v, o); },
                [this](Entry v, Owner o) { retarget_slot(v, o); });
    UZ_COUNT(fork_child_cut_pages);
    return;
  }
  uintptr_t mid = lo + (hi - lo) / kPageSize / 2 * kPageSize;
  register_or_cut(lo, mid, wp);
  register_or_cut(mid, hi, wp);
}

bool EngineCore::reregister_in_child(bool wp) {
  if (!staging_.reset_after_fork()) return false;
  map_lock_.lock_exclusive();  // single-threaded: for the rules of the calls below
  repair_interrupted_resolution();
  apply_held_events();
  run_deferred_releases();
  const size_t n = snapshot_ranges();
  for (size_t i = 0; i < n; ++i) register_or_cut(range_buf_[2 * i], range_buf_[2 * i + 1], wp);
  map_lock_.unlock_exclusive();
  return true;
}

// The child could not take the engine over: every evicted page goes back where it
// belongs, written through /proc/self/mem (which also writes read-only pages). Nothing is
// registered (the child's new userfaultfd, if any, is closed). Returns pages written.
size_t EngineCore::write_back_in_place() {
  int mem = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  size_t written = 0, lost = 0;
  Scratch& s = stop_scratch_;
  ranges_.for_each([&](Range* r) {
    for (size_t i = r->first; i < r->first + r->npages; ++i) {
      Entry v = r->entries[i].load(std::memory_order_relaxed);
      const void* src = nullptr;
      PageState st = entry_state(v);
      if (entry_holds_slot(v)) {
        src = reinterpret_cast<const void*>(staging_.addr(static_cast<uint32_t>(entry_payload(v))));
      } else if (st == PageState::Stored) {
        pool::Handle h = entry_payload(v);
        size_t len = pool_->object_size(h);
        void* obj = pool_->map(h, pool::MapMode::ReadOnly);
        if (obj != nullptr && comp_->decompress(obj, len, s.page, kPageSize)) src = s.page;
        pool_->unmap(h);
        if (src == nullptr) ++lost;
      } else if (st == PageState::SameFilled) {
        auto* words = reinterpret_cast<uint32_t*>(s.page);
        for (size_t k = 0; k < kPageSize / 4; ++k) words[k] = static_cast<uint32_t>(entry_payload(v));
        src = s.page;
      }
      if (src == nullptr) continue;
      if (mem >= 0 && pwrite(mem, src, kPageSize, static_cast<off_t>(r->addr_of(i))) == static_cast<ssize_t>(kPageSize)) {
        ++written;
      } else {
        ++lost;
      }
    }
  });
  if (mem >= 0) ::close(mem);
  if (lost > 0) UZ_ERROR("fork child: %zu evicted pages could not be written back", lost);
  return written;
}

// The child cannot take the engine over: nothing may block on a registration of ours,
// and every evicted page goes back in place.
bool EngineCore::give_up_in_child() {
  uffd_.close();  // drops whatever was registered
  repair_interrupted_resolution();  // a caught resolution's page is then written back too (no-op if done)
  in_transition_ = false;
  size_t n = write_back_in_place();
  stopped_.store(true, std::memory_order_release);
  UZ_WARN("fork child: cannot restart the engine; %zu evicted pages written back, running without uzswap", n);
  return false;
}

// The state every child path starts from: locks free, no spare, our own pagemap (the
// inherited descriptor reads the parent's).
void EngineCore::forget_parent_in_child() {
  reset_locks_after_fork();
  if (spare_fd_ >= 0) ::close(spare_fd_);  // frees the descriptor number for ours
  spare_fd_ = -1;
  pagemap_.reopen();
}

bool EngineCore::fork_child_early() {
  forget_parent_in_child();
  // MISSING only: the child's copies carry no write-protect bits (fork drops them).
  if (!uffd_.reopen_in_child(/*transitional=*/true) || !reregister_in_child(/*wp=*/false)) return give_up_in_child();
  in_transition_ = true;
  transition_page_ = 0;
  transition_repeats_ = 0;
  transition_deferred_ = 0;
  return true;
}

bool EngineCore::fork_child_fault(const void* addr) {
  if (!in_transition_) return false;
  const uintptr_t page = reinterpret_cast<uintptr_t>(addr) & ~(kPageSize - 1);
  {
    SharedGuard g(map_lock_);
    if (ranges_.find(page) == nullptr) return false;
  }
  // A page that keeps faulting after we resolved it (poisoned, or a fault that is not a
  // missing page) is left to the program's SIGBUS action.
  if (page != transition_page_) {
    transition_page_ = page;
    transition_repeats_ = 0;
  } else if (++transition_repeats_ > kTransitionRetries) {
    return false;
  }
  // Not re-entrant: the preload layer blocks every asynchronous signal for the phase.
  Scratch& s = stop_scratch_;  // stop()/unmanage() cannot run: the child is single-threaded
  s.may_park = false;
  s.write = true;
  if (resolve_and_wake(page, /*wp=*/false, s, now_ns()) == Resolve::Deferred && ++transition_deferred_ > kTransitionRetries * 64)
    return false;  // resolutions keep failing: leave it to the program's SIGBUS action
  UZ_COUNT(fork_child_early_faults);
  return true;
}

bool EngineCore::fork_child() {
  if (stopped_.load(std::memory_order_acquire)) return false;  // fork_child_early gave up
  if (!in_transition_) forget_parent_in_child();
  in_transition_ = false;
  fd_release(stop_efd_);
  if (stop_efd_ >= 0) ::close(stop_efd_);  // shared with the parent: never write it
  stop_efd_ = fd_adopt(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  for (int i = 0; i < nhandlers_; ++i) munmap(handler_stacks_[i], kThreadStackBytes);  // copies of dead threads' stacks
  nhandlers_ = 0;
  nhelpers_.store(0, std::memory_order_relaxed);  // the parent's helpers did not come along
  helpers_awake_.store(0, std::memory_order_relaxed);
  // Closing the transitional descriptor (reopen_in_child closes first) unregisters its
  // ranges before the close returns; only this thread runs, so nothing touches them until
  // they are registered again below.
  bool ok = stop_efd_ >= 0 && uffd_.reopen_in_child(/*transitional=*/false) && reregister_in_child(!move_mode_);
  if (ok) ok = start_handlers(cfg_.handler_threads);
  if (!ok) return give_up_in_child();
  if (!reclaimer_.restart_after_fork()) UZ_WARN("fork child: no reclaim thread; evicted pages are still served");
  UZ_COUNT(fork_child_restarted);
  return true;
}

}  // namespace uzswap::uffd
