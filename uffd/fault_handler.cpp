// uffd/fault_handler.cpp — the fault handler threads: read the userfaultfd, resolve.
//
// One waiter at a time. Every thread sleeping in poll() on the userfaultfd is woken by
// every fault, and on a VM each wake-up of a remote, idle CPU is an IPI the faulting
// thread pays for before it sleeps. Measured here (2 vCPUs, one program thread
// refaulting): one blocking, unpinned handler p50 8 us, p99 12 us; two handlers waiting
// p50 9-14 us, p99 31-54 us; a handler busy-polling on the other CPU p50 16 us (the
// faulting CPU goes idle and needs an IPI to wake up); a handler pinned to the other
// CPU 50 us. So:
//   - the leader (handler 0) alone waits on the userfaultfd. It is not pinned: the
//     scheduler wakes it on the faulting CPU, which is about to go idle, and the
//     program wakes up there again when the leader sleeps. After a message it goes
//     straight back to ppoll(), which returns at once if more is pending: no busy-poll,
//     no extra syscall per fault (whatever a handler does between its UFFDIO_COPY and
//     its next sleep delays the woken thread, which does not preempt it);
//   - helpers (handlers 1..n-1) sleep on a futex, out of the userfaultfd's wait queue.
//     The leader calls one when faults overlap: ppoll returned without sleeping and
//     the waiting fault is another thread's than the last one (helpers do not call
//     each other). A called helper waits on the userfaultfd too, until it has had
//     nothing to do for kHelperQuietNs and no fault is parked;
//   - a handler waiting for another thread (wait_for_owner) calls a helper first and
//     again while it waits, so that no fault or event queues behind it.
// Handler states: leader: waiting (ppoll) -> taking a message -> resolving -> waiting.
// helper: asleep (futex) --called--> waiting (ppoll) / taking / resolving --quiet for
// kHelperQuietNs--> asleep (at once serving again if called meanwhile). stop_handlers()
// wakes both kinds (stop eventfd; stopping_, then the futex word).
// Known cost: a ppoll() slower than kNoSleepNs without sleeping (a VM whose clock reads
// trap) hides overlaps; helpers then come only from wait_for_owner.
//
// Reading protocol (uffd/map_lock.h): a handler takes read_mutex (try-lock: if another
// handler is reading, this one goes back to waiting), announces on map_lock, waits for
// evictions between their check and their MOVE (evict.cpp), reads one message, and then either
//   - a page fault: withdraws the announcement, releases read_mutex, resolves under
//     map_lock shared;
//   - an event: drains map_lock to exclusive, applies the event, releases both.
// Handlers block all signals, never malloc (Scratch is mmap'd) and never touch
// registered memory.
//
// Throttled faults (throttle.cpp): a first touch taken well over the limit may be parked
// instead of resolved; every turn of the loop serves the parked faults that are due, and
// while any is parked ppoll() sleeps no longer than its deadline. A handler never sleeps
// on behalf of one fault.
//
// Data layout: help_seq_ (the futex word: bumped on every call and at stop), helpers_awake_
// (helpers between being called and going back to sleep), nhelpers_ (helpers started).
// Lock order: as core.h; the futex is a leaf (nothing is held while sleeping on it).
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>

#include "common/counters.h"
#include "common/futex.h"
#include "common/histogram.h"
#include "common/log.h"
#include "common/own_thread.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {

// A ppoll() that returned sooner than this did not sleep: a message was already waiting.
constexpr uint64_t kNoSleepNs = 2000;
// A called helper goes back to sleep after this long without a message.
constexpr uint64_t kHelperQuietNs = 5000000;

struct HandlerArg {
  EngineCore* core;
  bool leader;
  uint32_t help_seq;  // helpers: the futex word's value before the thread was created
  Scratch scratch;    // mapped by start_handlers: a handler that starts can always work
};

enum class ReadResult : uint8_t { Fault, Event, Empty };

// How long ppoll() may sleep: until a parked fault is due (throttle.cpp) or `cap_ns`
// pass; nullptr = no limit. No timer unless needed: on a VM, arming and cancelling one
// costs two exits on every sleep, in the path of every fault.
const timespec* poll_timeout(uint64_t parked_wait_ns, uint64_t cap_ns, timespec* ts) {
  const uint64_t ns = parked_wait_ns < cap_ns ? parked_wait_ns : cap_ns;
  if (ns == UINT64_MAX) return nullptr;
  *ts = {static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
  return ts;
}

}  // namespace

bool Scratch::init() {
  void* p = mmap(nullptr, 3 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  page = static_cast<uint8_t*>(p);
  buf = page + kPageSize;
  return true;
}

void Scratch::destroy() {
  if (page) munmap(page, 3 * kPageSize);
  page = buf = nullptr;
}

void EngineCore::handle_message(const uffd_msg& msg, Scratch& s) {
  const uint64_t t0 = now_ns();
  const uintptr_t page = msg.arg.pagefault.address & ~(kPageSize - 1);
  const bool wp = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP;
  if (staging_.contains(page)) {
    // We never touch a missing staging page; if something did, do not leave it hanging.
    size_t done = 0;
    if (uffd_.zeropage(page, kPageSize, true, &done) != 0) uffd_.wake(page, kPageSize);
    UZ_COUNT(error_ioctl);
    return;
  }
  s.may_park = true;
  s.write = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;
  resolve_and_wake(page, wp, s, t0);
  s.may_park = false;
  if (s.refaulted) assist_reclaim(s);  // the faulting thread is awake already
}

Resolve EngineCore::resolve_and_wake(uintptr_t page, bool wp, Scratch& s, uint64_t t0) {
  s.kind = -1;
  s.refaulted = false;
  Resolve res;
  {
    SharedGuard g(map_lock_);
    do {
      res = wp ? resolve_wp(page, s) : resolve_missing(page, s);
    } while (res == Resolve::Retry);
  }
  if (res == Resolve::Deferred) {
    uffd_.wake(page, kPageSize);
    UZ_COUNT(fault_deferred);
    return res;
  }
  if (res == Resolve::Parked) return res;  // parked_ owns it now (throttle.cpp)
  // A page brought back from the pool or a slot is a new resident page; one moved back
  // from staging only changes place; zero runs count themselves (fault_resolve.cpp).
  if (s.kind == static_cast<int>(Histogram::fault_pool) || s.kind == static_cast<int>(Histogram::fault_same_filled) ||
      s.kind == static_cast<int>(Histogram::fault_compressing)) {
    estimate_.add(static_cast<int64_t>(kPageSize));
    s.refaulted = true;
  }
  if (s.kind >= 0) histogram_record(static_cast<Histogram>(s.kind), now_ns() - t0);
  return res;
}

bool EngineCore::take_message(uffd_msg& msg, Scratch& s) {
  if (!read_mutex_.try_lock()) return false;
  ReadResult rr = ReadResult::Empty;
  map_lock_.announce();
  while (evict_moves_.load(std::memory_order_seq_cst) != 0) cpu_relax();  // evict.cpp, "Evict window"
  ssize_t n = read(uffd_.fd(), &msg, sizeof(msg));
  if (n == static_cast<ssize_t>(sizeof(msg)) && msg.event != UFFD_EVENT_PAGEFAULT) {
    map_lock_.drain();
    apply_event(msg);
    rr = ReadResult::Event;
  } else if (n == static_cast<ssize_t>(sizeof(msg))) {
    rr = ReadResult::Fault;
  } else if (n < 0 && errno != EAGAIN) {
    UZ_COUNT(error_read);
  }
  map_lock_.withdraw();
  read_mutex_.unlock();
  if (rr == ReadResult::Fault) handle_message(msg, s);
  return rr != ReadResult::Empty;
}

// The closed-gate protocol of fork_gate.h. read_mutex_ is held throughout, so this is the
// only handler acting; held_ and parked_ are ours under it.
bool EngineCore::take_message_gate_closed(uffd_msg& msg, Scratch& s) {
  // Not before fork_prepare has switched releases to deferred (and not after fork_parent
  // switched them back: the gate opens right after).
  if (!defer_releases_.load(std::memory_order_seq_cst)) return false;
  if (!read_mutex_.try_lock()) return false;
  if (!fork_gate_.closed()) {  // fork_parent opened it meanwhile: an event held now would never be applied
    read_mutex_.unlock();
    return false;
  }
  map_lock_.announce();
  while (evict_moves_.load(std::memory_order_seq_cst) != 0) cpu_relax();  // none: reclaim is paused
  ssize_t n = read(uffd_.fd(), &msg, sizeof(msg));
  bool took = n == static_cast<ssize_t>(sizeof(msg));
  if (n < 0 && errno != EAGAIN) UZ_COUNT(error_read);
  const uintptr_t page = took ? msg.arg.pagefault.address & ~(kPageSize - 1) : 0;
  if (took && msg.event != UFFD_EVENT_PAGEFAULT) {
    hold_event(msg);
  } else if (took && static_cast<pid_t>(msg.arg.pagefault.feat.ptid) == fork_gate_.forker()) {
    resolve_forking_thread_fault(msg, s);
  } else if (took && may_resolve_gate_closed(page)) {
    resolve_fault_gate_closed(msg, s);
  } else if (took) {
    park_for_fork(page);
  }
  map_lock_.withdraw();
  read_mutex_.unlock();
  return took;
}

// One turn: serve the parked faults that are due, then take one message if `readable`.
// Inside the fork gate, or by the closed-gate protocol (fork_gate.h) while it is closed.
bool EngineCore::handler_turn(uffd_msg& msg, Scratch& s, bool readable) {
  bool took = false;
  if (fork_gate_.enter()) {
    serve_parked(s);  // throttled faults: resolutions too, so inside the gate
    if (readable) took = take_message(msg, s);
    fork_gate_.leave();
  } else if (readable) {
    took = take_message_gate_closed(msg, s);
  }
  return took;
}

// The word always changes, so a helper between serving and sleeping (its futex_wait
// compares with the value it was woken by) serves again at once; the syscall is spared
// only while every helper is already serving.
void EngineCore::call_helpers() {
  help_seq_.fetch_add(1, std::memory_order_seq_cst);
  if (helpers_awake_.load(std::memory_order_seq_cst) >= nhelpers_.load(std::memory_order_relaxed)) return;
  futex_wake(help_seq_, 1);
  UZ_COUNT(handler_helper_called);
}

// Waits on the userfaultfd until `quiet_ns` pass without a message (helpers; never while
// a fault is parked: the leader may be asleep without a deadline), or until stop (the
// leader: quiet_ns = UINT64_MAX). The leader calls helpers when faults overlap (see the
// top); helpers do not call each other, or one overlap would wake them all.
void EngineCore::serve_messages(Scratch& s, uint64_t quiet_ns) {
  const bool leader = quiet_ns == UINT64_MAX;
  pollfd fds[2] = {{uffd_.fd(), POLLIN, 0}, {stop_efd_, POLLIN, 0}};
  uffd_msg msg;
  uint32_t last_tid = 0;
  uint64_t last_msg = now_ns();
  while (!stopping_.load(std::memory_order_acquire)) {
    const uint64_t now = now_ns();
    const uint64_t parked_ns = parked_wait_ns();
    uint64_t cap_ns = UINT64_MAX;
    if (!leader) {
      const uint64_t idle = now - last_msg;
      if (idle >= quiet_ns && parked_ns == UINT64_MAX) return;
      if (idle < quiet_ns) cap_ns = quiet_ns - idle;
    }
    timespec ts;
    const int n = ppoll(fds, 2, poll_timeout(parked_ns, cap_ns, &ts), nullptr);
    const bool slept = now_ns() - now >= kNoSleepNs;
    const bool readable = n > 0 && (fds[0].revents & POLLIN);
    if (!handler_turn(msg, s, readable)) {
      // A message is pending but another thread holds the read mutex (a handler, manage,
      // stop, a fork's prepare step): let it run rather than spin against it.
      if (readable) sched_yield();
      continue;
    }
    last_msg = now_ns();
    if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
    const uint32_t tid = msg.arg.pagefault.feat.ptid;
    if (leader && !slept && (tid == 0 || tid != last_tid)) call_helpers();
    last_tid = tid;
  }
}

// `seen`: the word's value when this helper was started. Read before checking stopping_,
// so that stop_handlers() (stopping_, then the word) either is seen or makes the wait
// return at once; and kept from the wake-up on, so that a call made while serving (or in
// the moment between serving and sleeping) sends this helper round again.
void EngineCore::helper_sleep_and_serve(Scratch& s, uint32_t seen) {
  for (;;) {
    if (stopping_.load(std::memory_order_seq_cst)) return;
    futex_wait(help_seq_, seen);
    const uint32_t now_seq = help_seq_.load(std::memory_order_seq_cst);
    if (now_seq == seen) continue;  // spurious
    seen = now_seq;
    if (stopping_.load(std::memory_order_seq_cst)) return;
    helpers_awake_.fetch_add(1, std::memory_order_seq_cst);
    serve_messages(s, kHelperQuietNs);
    helpers_awake_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

void* EngineCore::handler_main(void* raw) {
  own_thread_begin();
  HandlerArg arg = *static_cast<HandlerArg*>(raw);
  munmap(raw, kPageSize);
  EngineCore* core = arg.core;
  Scratch s = arg.scratch;
  if (arg.leader) {
    core->serve_messages(s, UINT64_MAX);
  } else {
    core->helper_sleep_and_serve(s, arg.help_seq);
  }
  s.destroy();
  return nullptr;
}

// Handler threads run on stacks of our own (never managed: mmap'd by uzswap), not on
// glibc's cached thread stacks: the coverage scan may manage those, and a fork child
// starts its first handler before anything could serve a fault there (engine_fork.cpp).
void* map_thread_stack() {
  void* p = mmap(nullptr, kThreadStackBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool start_on_stack(pthread_t* t, void* stack, void* (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  int rc = pthread_attr_setstack(&attr, stack, kThreadStackBytes);
  if (rc == 0) rc = pthread_create(t, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  return rc == 0;
}

bool EngineCore::start_handlers(int n) {
  if (n <= 0) n = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (n <= 0) n = 1;
  if (n > kMaxHandlers) n = kMaxHandlers;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (int i = 0; i < n; ++i) {
    void* mem = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) break;
    void* stack = map_thread_stack();
    auto* arg = new (mem) HandlerArg{this, i == 0, help_seq_.load(std::memory_order_seq_cst), Scratch{}};
    if (!arg->scratch.init()) UZ_ERROR("fault handler: no memory for its scratch pages");
    if (arg->scratch.page == nullptr || stack == nullptr ||
        !start_on_stack(&handlers_[nhandlers_], stack, &EngineCore::handler_main, arg)) {
      arg->scratch.destroy();
      munmap(mem, kPageSize);
      if (stack != nullptr) munmap(stack, kThreadStackBytes);
      break;
    }
    handler_stacks_[nhandlers_] = stack;
    pthread_setname_np(handlers_[nhandlers_], "uzswap-fault");
    if (nhandlers_ > 0) nhelpers_.fetch_add(1, std::memory_order_relaxed);
    ++nhandlers_;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return nhandlers_ > 0;
}

void EngineCore::stop_handlers() {
  stopping_.store(true, std::memory_order_seq_cst);
  uint64_t one = 1;
  if (stop_efd_ >= 0) (void)!write(stop_efd_, &one, sizeof(one));
  help_seq_.fetch_add(1, std::memory_order_seq_cst);  // after stopping_: see helper_sleep_and_serve
  futex_wake(help_seq_);
  for (int i = 0; i < nhandlers_; ++i) {
    pthread_join(handlers_[i], nullptr);
    munmap(handler_stacks_[i], kThreadStackBytes);
  }
  nhandlers_ = 0;
  nhelpers_.store(0, std::memory_order_relaxed);
  helpers_awake_.store(0, std::memory_order_relaxed);
  wake_all_parked();  // no handler is left to serve them
}

}  // namespace uzswap::uffd
