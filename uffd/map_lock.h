// uffd/map_lock.h — the engine's two locks: SpinLock and MapLock.
//
// MapLock orders page-table changes made by the kernel (mm events: munmap, MADV_DONTNEED,
// mremap, as userfaultfd reports them) against the engine's own ioctls on program pages.
//
// Data layout: one atomic word: bit 31 = an "event reader" has announced itself, bits
// 0..30 = number of shared holders.
//
// Modes:
//   shared    — held by anyone who looks up a page entry and then acts on the program's
//               page with an ioctl (fault resolution, eviction, restore). Many at once.
//   announced — held by the one thread reading the userfaultfd (under the read mutex):
//               new shared holders wait; current ones finish undisturbed.
//   exclusive — announced + no shared holders left: the reader applies an mm event, or
//               manage()/unmanage() change the range table.
//
// Why announce before read(2): the kernel zaps a MADV_DONTNEED range only after our read
// of its REMOVE event, and UFFDIO_COPY/MOVE stop returning EAGAIN at that read. An ioctl
// that looked up an entry before the event is applied, but ran after the read, could
// install stale data behind the zap. Announcing before the read makes every shared
// holder either finish before the event is applied or start after it.
//
// Lock order: read mutex -> MapLock (announced/exclusive) -> staging lock (leaf).
// A shared holder never waits for anything that needs the userfaultfd to be read.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace uzswap::uffd {

inline void cpu_relax() { __builtin_ia32_pause(); }

// Spins politely: pause for a while, then yield the CPU.
class Backoff {
 public:
  void pause() {
    if (++n_ < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }

 private:
  int n_ = 0;
};

class SpinLock {
 public:
  void lock() {
    Backoff b;
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) b.pause();
    }
  }
  bool try_lock() { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class MapLock {
 public:
  void lock_shared() {
    Backoff b;
    for (;;) {
      uint32_t v = word_.load(std::memory_order_relaxed);
      if (!(v & kAnnounced) &&
          word_.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst))
        return;
      b.pause();
    }
  }
  void unlock_shared() { word_.fetch_sub(1, std::memory_order_release); }

  // Caller holds the read mutex (one announcer at a time).
  void announce() { word_.fetch_or(kAnnounced, std::memory_order_seq_cst); }
  // True while a reader has announced itself. A shared holder that sees false knows no
  // event has been read since it took the lock: a reader that read one waits in drain()
  // for this holder, with the announcement still set.
  bool announced() const { return (word_.load(std::memory_order_seq_cst) & kAnnounced) != 0; }
  void withdraw() { word_.fetch_and(~kAnnounced, std::memory_order_release); }
  // From announced to exclusive: waits for the shared holders to leave.
  void drain() {
    Backoff b;
    while ((word_.load(std::memory_order_acquire) & ~kAnnounced) != 0) b.pause();
  }
  void lock_exclusive() { announce(); drain(); }
  void unlock_exclusive() { withdraw(); }

 private:
  static constexpr uint32_t kAnnounced = 1u << 31;
  std::atomic<uint32_t> word_{0};
};

class SharedGuard {
 public:
  explicit SharedGuard(MapLock& l) : l_(l) { l_.lock_shared(); }
  ~SharedGuard() { l_.unlock_shared(); }
  SharedGuard(const SharedGuard&) = delete;
  SharedGuard& operator=(const SharedGuard&) = delete;

 private:
  MapLock& l_;
};

template <typename L>
class LockGuard {
 public:
  explicit LockGuard(L& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& l_;
};

}  // namespace uzswap::uffd
