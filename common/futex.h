// common/futex.h — sleeping on a 32-bit atomic word until it changes.
//
// For threads that must not sit in a shared wait queue while idle (uffd/fault_handler.cpp:
// every waiter on the userfaultfd costs each faulting thread a wake-up).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>

namespace uzswap {

// Sleeps while `word` still holds `seen` (returns at once if it no longer does). May
// return spuriously (signals, another waker): callers look at the word again.
inline void futex_wait(std::atomic<uint32_t>& word, uint32_t seen) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}

// Wakes up to `n` sleepers of `word`; the caller changes the word first.
inline void futex_wake(std::atomic<uint32_t>& word, int n = INT_MAX) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

}  // namespace uzswap
