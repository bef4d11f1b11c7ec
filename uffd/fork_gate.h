// uffd/fork_gate.h — keeps fault handlers from being in the middle of a resolution at
// the instant the kernel copies the process in fork().
//
// Why: a resolution moves a page entry through a transient state (Loading) and back, and
// an event application edits the range table in several steps. A fork child copies the
// entries at one instant and has none of our threads: an entry caught in Loading, or a
// half-edited table, would stay so forever in the child. The child can only take over
// the engine (engine_fork.cpp) if, at that instant, every entry is stable.
//
// The fork syscall happens at a moment we do not control, some time after the prepare
// handler returns: glibc first runs the other atfork prepare handlers and takes its
// malloc arena locks, and these may touch evicted memory. So the gate cannot simply stop
// the handlers; it restricts what they may do while closed:
//   open    every handler reads and resolves as usual; each holds the gate ("inside")
//           from taking a message to finishing it.
//   closed  set by fork_prepare after the in-flight messages are finished (inside == 0).
//           One handler at a time (under the read mutex, held throughout) reads a
//           message and
//             - a fault of the forking thread: resolves it (after applying the held
//               events). Safe: the forking thread is blocked in this very fault until
//               the resolution ends (the wake is its last step), so the fork syscall
//               cannot happen in the middle of it;
//             - a fault of any other thread: resolves it too (that thread may hold a
//               lock glibc's fork takes after the prepare handlers: leaving it blocked
//               would deadlock the fork). The fork may catch this resolution: it is the
//               only one in flight, its pool free or slot release is deferred to after
//               the fork (in the parent and in the child's copy), and the child repairs
//               its entry (engine_fork.cpp). Parked unresolved instead (woken by
//               fork_parent, it faults again) if a held event concerns its page (or,
//               never seen, the deferred list is full, or it is a staging page);
//             - an event: holds it unapplied (applying one is a multi-step table edit the
//               fork must not catch; a fault on a page it concerns is parked, other
//               pages are unaffected). The forking thread's faults apply the held events
//               first; fork_parent applies them; the child applies its copy of them too.
// Data layout: inside_ (handlers between taking and finishing a message), closed_,
// forker_ (the tid of the forking thread); the parked and held arrays live in the
// engine (core.h) and are used only under its read mutex.
// Transitions: open --close (prepare, waits for inside == 0)--> closed --open (parent,
// after applying held events, before waking parked faults)--> open. In the child the
// gate is reset to open.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace uzswap::uffd {

class ForkGate {
 public:
  // A handler about to take a message. False: the gate is closed (use the closed-gate
  // protocol above instead).
  bool enter() {
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (!closed_.load(std::memory_order_seq_cst)) return true;
    inside_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  void leave() { inside_.fetch_sub(1, std::memory_order_release); }

  // From fork_prepare: closes and waits for the messages in flight to be finished.
  void close(pid_t forker) {
    forker_.store(forker, std::memory_order_relaxed);
    closed_.store(true, std::memory_order_seq_cst);
    while (inside_.load(std::memory_order_acquire) != 0) sched_yield();
  }
  void open() { closed_.store(false, std::memory_order_release); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  pid_t forker() const { return forker_.load(std::memory_order_relaxed); }

  // In a fork child, single-threaded: no handler of the parent came along.
  void reset() {
    inside_.store(0, std::memory_order_relaxed);
    closed_.store(false, std::memory_order_relaxed);
    forker_.store(0, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint32_t> inside_{0};
  std::atomic<bool> closed_{false};
  std::atomic<pid_t> forker_{0};
};

}  // namespace uzswap::uffd
