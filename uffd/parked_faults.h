// uffd/parked_faults.h — first-touch faults held back by the throttle (policy/throttle.h).
//
// A parked fault is a page fault message we have read and not answered: the program's
// thread sleeps in the kernel until something wakes its page (an ioctl with wake, or
// UFFDIO_WAKE). Losing one hangs that thread forever, so ownership is strict:
//   - push() hands the fault to the list (the handler that parked it returns without
//     waking anything);
//   - take() hands one fault to exactly one caller, which must resolve it (the
//     resolution ioctls wake) or wake it (EngineCore::resolve_and_wake does one or the
//     other on every path).
// Who takes: fault handlers (EngineCore::serve_parked, every turn of their loop, and
// their poll() never sleeps past the oldest fault's deadline while the list is not
// empty), and stop_handlers() once every handler has been joined (wake_all_parked), so
// no fault outlives the engine's threads.
//
// Data layout: a fixed array of kCapacity entries (no allocation), unordered, the first
// count_ in use. lock_ is a SpinLock leaf: push() runs under map_lock shared (inside a
// fault resolution), take() under no other lock; both only copy a few words.
#pragma once

#include <atomic>
#include <new>
#include <cstddef>
#include <cstdint>

#include "policy/throttle.h"
#include "uffd/map_lock.h"

namespace uzswap::uffd {

struct ParkedFault {
  uintptr_t page = 0;
  uint64_t parked_ns = 0;
  bool write = false;  // the fault was a write (it will grow the footprint)
};

class ParkedFaults {
 public:
  static constexpr size_t kCapacity = 256;

  // False if full (the caller resolves the fault at once).
  bool push(const ParkedFault& f) {
    LockGuard<SpinLock> g(lock_);
    size_t n = count_.load(std::memory_order_relaxed);
    if (n == kCapacity) return false;
    items_[n] = f;
    count_.store(n + 1, std::memory_order_release);
    return true;
  }

  // Removes the oldest fault for which decide(fault) is not Keep; false if there is none.
  // decide runs under the lock: it must be quick and take no lock.
  template <typename Decide>
  bool take(Decide&& decide, ParkedFault* out, policy::Release* why) {
    LockGuard<SpinLock> g(lock_);
    size_t n = count_.load(std::memory_order_relaxed);
    size_t best = n;
    policy::Release best_why = policy::Release::Keep;
    for (size_t i = 0; i < n; ++i) {
      if (best < n && items_[i].parked_ns >= items_[best].parked_ns) continue;
      policy::Release r = decide(items_[i]);
      if (r == policy::Release::Keep) continue;
      best = i;
      best_why = r;
    }
    if (best == n) return false;
    *out = items_[best];
    *why = best_why;
    items_[best] = items_[n - 1];
    count_.store(n - 1, std::memory_order_release);
    return true;
  }

  // parked_ns of the oldest fault; false if the list is empty.
  bool oldest(uint64_t* parked_ns) {
    LockGuard<SpinLock> g(lock_);
    size_t n = count_.load(std::memory_order_relaxed);
    if (n == 0) return false;
    uint64_t t = items_[0].parked_ns;
    for (size_t i = 1; i < n; ++i)
      if (items_[i].parked_ns < t) t = items_[i].parked_ns;
    *parked_ns = t;
    return true;
  }

  size_t size() const { return count_.load(std::memory_order_acquire); }
  // In a fork child, single-threaded: the parked faults were the parent's threads'.
  void forget_after_fork() {
    new (&lock_) SpinLock();
    count_.store(0, std::memory_order_relaxed);
  }

 private:
  SpinLock lock_;
  std::atomic<size_t> count_{0};
  ParkedFault items_[kCapacity];
};

}  // namespace uzswap::uffd
