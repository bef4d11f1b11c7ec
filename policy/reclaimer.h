// policy/reclaimer.h — the background reclaim threads.
//
// Data layout: one Reclaimer per engine. Every tick one thread (whoever takes plan_lock_
// first once the plan is a tick old) measures the footprint and computes a TickPlan
// (policy/plan.h); the plan's page budgets sit in atomics that all reclaim threads draw
// batches from, so N threads share one plan without doing the work twice.
// States: Stopped -> Running (start) -> Stopping (stop, threads join) -> Stopped.
// Pause (fork, uffd/engine_fork.cpp), orthogonal to the states: paused_ set and no thread
// inside a round (busy_ == 0): no eviction or compression is in flight and none starts
// until resume(). A thread counts itself in busy_ before it looks at paused_, and pause()
// sets paused_ before it waits for busy_ to drain (both seq_cst), so no round slips by.
// Rounds of other threads (enter_round: fault handlers) follow the same protocol, and
// stop() also sets Stopping before it waits for them.
// Lock order: plan_lock_ is a leaf, never held while calling into Mechanics except
// measure() (which takes the engine's MapLock shared: engine lock after plan_lock_).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "policy/mechanics.h"
#include "policy/plan.h"

namespace uzswap::policy {

class Reclaimer {
 public:
  static constexpr int kMaxThreads = 16;

  // Starts `threads` reclaim threads (at least 1). False if no thread could start.
  bool start(const PolicyConfig& config, int threads, Mechanics* mech, Clock* clock);
  // Joins the threads. Safe to call twice.
  void stop();

  bool over_limit_unreachable() const { return unreachable_.load(std::memory_order_relaxed); }
  // Runs one plan + work round on the calling thread (tests; also the threads' body).
  size_t run_once();

  // Reclaim work done outside the threads (a fault handler's direct reclaim) counts as a
  // round: false while paused or not running (nothing may be evicted or compressed then);
  // true obliges the caller to leave_round() when done.
  bool enter_round();
  void leave_round() { busy_.fetch_sub(1, std::memory_order_release); }

  // Waits for the rounds in flight to finish; the threads start none until resume().
  void pause();
  void resume();
  // In a fork child, single-threaded, before any thread of the engine starts: rounds in
  // flight at the fork belonged to threads that did not come along.
  void forget_rounds_after_fork();
  // In a fork child, once its fault handlers run: the reclaim threads did not come along.
  // Starts as many again (none if none ran), unpaused. False if none could start.
  bool restart_after_fork();

 private:
  enum class State : uint8_t { Stopped, Running, Stopping };
  static void* thread_main(void* self);
  void maybe_plan();
  size_t draw(std::atomic<size_t>& budget, size_t batch);

  PolicyConfig config_;
  Mechanics* mech_ = nullptr;
  Clock* clock_ = nullptr;
  pthread_t threads_[kMaxThreads] = {};
  int nthreads_ = 0;
  std::atomic<State> state_{State::Stopped};
  std::atomic<bool> plan_lock_{false};
  std::atomic<uint64_t> last_plan_ns_{0};
  std::atomic<size_t> stage_budget_{0};
  std::atomic<size_t> compress_budget_{0};
  std::atomic<uint64_t> compress_min_age_ns_{0};
  std::atomic<bool> unreachable_{false};
  std::atomic<bool> paused_{false};
  std::atomic<int> busy_{0};  // threads inside a round
};

}  // namespace uzswap::policy
