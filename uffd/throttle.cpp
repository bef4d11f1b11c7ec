// uffd/throttle.cpp — parking first-touch faults while the footprint is well over the
// limit, and releasing them (policy/throttle.h has the model and the decisions).
//
// A handler thread never sleeps on a parked fault: it records the fault in parked_
// (uffd/parked_faults.h) and goes back to serving other faults. Every turn of every
// handler's loop calls serve_parked(), which takes the due faults one at a time (fresh
// inputs for each: a released fault grows the estimate, which may keep the next one
// parked) and resolves them through resolve_and_wake(), the same path as a fresh fault
// without the right to park again. While parked_ is not empty a handler's poll() sleeps
// at most until the oldest fault's deadline (and no more than kParkedPollNs, so that a
// drop of the footprint releases faults promptly).
//
// Every parked fault is woken exactly once by its taker; the paths:
//   relieved / timeout — resolve_and_wake(): the resolution ioctl wakes, or (Deferred:
//                        the mm is changing, the range is gone, unmanaged) UFFDIO_WAKE;
//   range unmanaged    — UFFDIO_UNREGISTER already woke the thread; the resolution
//                        finds no range, its ioctl fails, UFFDIO_WAKE (harmless);
//   munmap'd range     — the resolution finds no range and no vma: UFFDIO_WAKE, the
//                        thread refaults and gets what the program asked for (SIGSEGV
//                        or EFAULT);
//   stop()             — no new parking once stop() starts (stopped_); handlers serve the
//                        list until they exit; stop_handlers() joins them and wakes
//                        whatever is left (wake_all_parked).
// Extra wake-ups are harmless (a thread woken with its page still missing refaults); a
// missing one hangs the program, hence one taker per fault and no early return between
// take() and resolve_and_wake().
#include <cstdint>

#include "common/counters.h"
#include "common/histogram.h"
#include "uffd/core.h"

namespace uzswap::uffd {
namespace {

constexpr uint64_t kParkedPollNs = 1'000'000;
// Staged pages a handler compresses after a refault under pressure. One frees a page less
// its compressed size, the reclaim thread covers the rest: with two, the hot/cold
// benchmark held the same footprint 8% slower.
constexpr size_t kAssistPages = 1;
constexpr size_t kAssistScan = 64;

}  // namespace

policy::ThrottleInputs EngineCore::throttle_inputs() {
  policy::ThrottleInputs in;
  in.estimate_bytes = estimate_.bytes();
  in.unreachable = reclaimer_.over_limit_unreachable();
  in.pool_full = pool_full_.load(std::memory_order_relaxed);
  return in;
}

bool EngineCore::park(uintptr_t page, const Scratch& s) {
  if (!throttle_cfg_.enabled || stopped_.load(std::memory_order_acquire)) return false;
  if (!policy::should_park(throttle_cfg_, throttle_inputs())) return false;
  if (!parked_.push(ParkedFault{page, now_ns(), s.write})) {
    UZ_COUNT(throttle_list_full);
    return false;
  }
  UZ_COUNT(fault_throttled);
  return true;
}

void EngineCore::serve_parked(Scratch& s) {
  if (parked_.size() == 0) return;
  ParkedFault f;
  policy::Release why;
  for (;;) {
    const policy::ThrottleInputs in = throttle_inputs();
    const uint64_t now = now_ns();
    auto decide = [&](const ParkedFault& p) { return policy::release_parked(throttle_cfg_, in, p.parked_ns, now); };
    if (!parked_.take(decide, &f, &why)) return;
    // From here on this thread alone owns the fault: resolve_and_wake() on every path.
    histogram_record(Histogram::fault_throttle, now - f.parked_ns);
    if (why == policy::Release::Timeout) {
      UZ_COUNT(throttle_release_timeout);
    } else {
      UZ_COUNT(throttle_release_relieved);
    }
    s.may_park = false;
    s.write = f.write;
    s.max_run = why == policy::Release::Timeout ? throttle_cfg_.timeout_run_pages : kZeroRunPages;
    resolve_and_wake(f.page, false, s, now);
    s.max_run = kZeroRunPages;
  }
}

// Direct reclaim for refaults (policy/throttle.h, "Refaults"). Staged pages of any age:
// under this pressure the page waiting in staging counts in the footprint as much as a
// resident one. A short scan: a handler must not walk the whole staging area per fault.
void EngineCore::assist_reclaim(Scratch& s) {
  if (!throttle_cfg_.enabled || !policy::should_assist(throttle_cfg_, throttle_inputs())) return;
  if (!reclaimer_.enter_round()) return;  // paused for a fork, or stopping
  size_t n = compress_aged(s, 0, kAssistPages, kAssistScan);
  reclaimer_.leave_round();
  if (n > 0) UZ_COUNT_N(reclaim_assist_pages, n);
}

uint64_t EngineCore::parked_wait_ns() {
  uint64_t oldest;
  if (parked_.size() == 0 || !parked_.oldest(&oldest)) return UINT64_MAX;  // no lock on the fault path
  uint64_t due = policy::release_deadline_in(throttle_cfg_, oldest, now_ns());
  return due < kParkedPollNs ? due : kParkedPollNs;
}

void EngineCore::wake_all_parked() {
  ParkedFault f;
  policy::Release why;
  auto all = [](const ParkedFault&) { return policy::Release::Relieved; };
  while (parked_.take(all, &f, &why)) {
    uffd_.wake(f.page, kPageSize);
    UZ_COUNT(throttle_release_stop);
  }
}

}  // namespace uzswap::uffd
