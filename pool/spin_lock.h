// pool/spin_lock.h — the pool's two small lock types.
//
// SpinLock: a test-and-test-and-set lock for the short leaf sections (handle and
// descriptor free lists). ZspageLock: a reader/writer lock word per zspage: map() holds
// it shared while an object is mapped; object movers (compaction) and backing-page
// migration hold it exclusive, always by try_write_lock() so that a mover never waits on
// a mapper while holding another zspage lock. Both spin briefly, then yield: with two
// CPUs a preempted holder must get to run.
#pragma once

#include <atomic>
#include <cstdint>
#include <sched.h>

namespace uzswap::pool {

inline void cpu_relax(unsigned& spins) {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    spins = 0;
    sched_yield();
  }
}

class SpinLock {
 public:
  void lock() {
    unsigned spins = 0;
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) cpu_relax(spins);
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class ZspageLock {
 public:
  static constexpr uint32_t kWriter = 1u << 31;

  void read_lock() {
    unsigned spins = 0;
    uint32_t v = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (!(v & kWriter) &&
          word_.compare_exchange_weak(v, v + 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
      if (v & kWriter) {
        cpu_relax(spins);
        v = word_.load(std::memory_order_relaxed);
      }
    }
  }
  void read_unlock() { word_.fetch_sub(1, std::memory_order_release); }

  bool try_write_lock() {
    uint32_t expected = 0;
    return word_.compare_exchange_strong(expected, kWriter, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void write_unlock() { word_.store(0, std::memory_order_release); }
  bool write_locked() const { return word_.load(std::memory_order_relaxed) & kWriter; }
  // A fork child's copy, single-threaded: no holder exists (Pool::reset_locks_after_fork).
  void reset_after_fork() {
    if (word_.load(std::memory_order_relaxed) != 0) word_.store(0, std::memory_order_relaxed);  // no copy-on-write otherwise
  }

 private:
  std::atomic<uint32_t> word_{0};
};

}  // namespace uzswap::pool
