// uffd/fault_handler.cpp — the fault handler threads: read the userfaultfd, resolve.
//
// One handler per CPU, each pinned to its CPU, all poll()ing the same userfaultfd:
// the wake-up lands on the faulting CPU's handler most of the time, which measured
// best here (DESIGN.md: p50 ~10 us vs 58 us for one unpinned handler). After each
// message a handler busy-polls for kSpinNs before sleeping in poll() again: faults come
// in bursts and a sleeping handler costs a cross-CPU wake-up.
//
// Reading protocol (uffd/map_lock.h): a handler takes read_mutex (try-lock: if another
// handler is reading, this one goes back to polling), announces on map_lock, waits for
// evictions between their check and their MOVE (evict.cpp), reads one message, and then either
//   - a page fault: withdraws the announcement, releases read_mutex, resolves under
//     map_lock shared;
//   - an event: drains map_lock to exclusive, applies the event, releases both.
// Handlers block all signals, never malloc (Scratch is mmap'd) and never touch
// registered memory.
//
// Throttled faults (throttle.cpp): a first touch taken well over the limit may be parked
// instead of resolved; every turn of the loop serves the parked faults that are due, and
// while any is parked poll() sleeps no longer than its deadline. A handler never sleeps
// on behalf of one fault.
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/histogram.h"
#include "common/log.h"
#include "common/own_thread.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {

constexpr uint64_t kSpinNs = 50000;

struct HandlerArg {
  EngineCore* core;
  int cpu;
};

enum class ReadResult : uint8_t { Fault, Event, Empty };

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
}

Resolve EngineCore::resolve_and_wake(uintptr_t page, bool wp, Scratch& s, uint64_t t0) {
  s.kind = -1;
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
      s.kind == static_cast<int>(Histogram::fault_compressing))
    estimate_.add(static_cast<int64_t>(kPageSize));
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

void* EngineCore::handler_main(void* raw) {
  own_thread_begin();
  HandlerArg arg = *static_cast<HandlerArg*>(raw);
  munmap(raw, kPageSize);
  EngineCore* core = arg.core;
  if (arg.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(arg.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  Scratch s;
  if (!s.init()) {
    UZ_ERROR("fault handler: no memory for its scratch pages");
    return nullptr;
  }
  pollfd fds[2] = {{core->uffd_.fd(), POLLIN, 0}, {core->stop_efd_, POLLIN, 0}};
  uint64_t last = 0;
  uffd_msg msg;
  while (!core->stopping_.load(std::memory_order_acquire)) {
    bool took = false;
    pollfd probe = {core->uffd_.fd(), POLLIN, 0};
    if (core->fork_gate_.enter()) {
      core->serve_parked(s);  // throttled faults: resolutions too, so inside the gate
      if (poll(&probe, 1, 0) > 0) took = core->take_message(msg, s);
      core->fork_gate_.leave();
    } else if (poll(&probe, 1, 0) > 0) {
      took = core->take_message_gate_closed(msg, s);
    }
    if (took) {
      last = now_ns();
      continue;
    }
    if (now_ns() - last < kSpinNs) {
      cpu_relax();
      continue;
    }
    // Never sleep past the deadline of a parked fault (throttle.cpp).
    const uint64_t wait_ns = core->parked_wait_ns();
    timespec ts = {1, 0};
    if (wait_ns < 1000000000ull) ts = {0, static_cast<long>(wait_ns)};
    ppoll(fds, 2, &ts, nullptr);
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
  int ncpu = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (int i = 0; i < n; ++i) {
    void* mem = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) break;
    void* stack = map_thread_stack();
    auto* arg = static_cast<HandlerArg*>(mem);
    arg->core = this;
    arg->cpu = ncpu > 0 ? i % ncpu : -1;
    if (stack == nullptr || !start_on_stack(&handlers_[nhandlers_], stack, &EngineCore::handler_main, arg)) {
      munmap(mem, kPageSize);
      if (stack != nullptr) munmap(stack, kThreadStackBytes);
      break;
    }
    handler_stacks_[nhandlers_] = stack;
    pthread_setname_np(handlers_[nhandlers_], "uzswap-fault");
    ++nhandlers_;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return nhandlers_ > 0;
}

void EngineCore::stop_handlers() {
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  if (stop_efd_ >= 0) (void)!write(stop_efd_, &one, sizeof(one));
  for (int i = 0; i < nhandlers_; ++i) {
    pthread_join(handlers_[i], nullptr);
    munmap(handler_stacks_[i], kThreadStackBytes);
  }
  nhandlers_ = 0;
  wake_all_parked();  // no handler is left to serve them
}

}  // namespace uzswap::uffd
