// policy/reclaimer.cpp — see reclaimer.h.
#include "policy/reclaimer.h"

#include <sched.h>
#include <signal.h>
#include <time.h>

#include "common/own_thread.h"

namespace uzswap::policy {
namespace {

constexpr size_t kBatch = 32;
constexpr size_t kZapBatch = 1024;

class SystemClock final : public Clock {
 public:
  uint64_t now_ns() override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
  void sleep_ns(uint64_t ns) override {
    timespec ts = {static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
    nanosleep(&ts, nullptr);
  }
};

}  // namespace

Clock* system_clock() {
  static SystemClock clock;
  return &clock;
}

bool Reclaimer::start(const PolicyConfig& config, int threads, Mechanics* mech, Clock* clock) {
  config_ = config;
  mech_ = mech;
  clock_ = clock;
  if (threads < 1) threads = 1;
  if (threads > kMaxThreads) threads = kMaxThreads;
  state_.store(State::Running, std::memory_order_release);
  // Our threads must not take the program's signals.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (int i = 0; i < threads; ++i) {
    if (pthread_create(&threads_[nthreads_], nullptr, &Reclaimer::thread_main, this) == 0) {
      pthread_setname_np(threads_[nthreads_], "uzswap-reclaim");
      ++nthreads_;
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (nthreads_ == 0) state_.store(State::Stopped, std::memory_order_release);
  return nthreads_ > 0;
}

void Reclaimer::stop() {
  if (state_.load(std::memory_order_acquire) != State::Running) return;
  state_.store(State::Stopping, std::memory_order_seq_cst);
  for (int i = 0; i < nthreads_; ++i) pthread_join(threads_[i], nullptr);
  while (busy_.load(std::memory_order_seq_cst) != 0) sched_yield();  // rounds of enter_round()
  nthreads_ = 0;
  state_.store(State::Stopped, std::memory_order_release);
}

void Reclaimer::pause() {
  paused_.store(true, std::memory_order_seq_cst);
  while (busy_.load(std::memory_order_seq_cst) != 0) sched_yield();
}

bool Reclaimer::enter_round() {
  busy_.fetch_add(1, std::memory_order_seq_cst);
  if (paused_.load(std::memory_order_seq_cst) || state_.load(std::memory_order_seq_cst) != State::Running) {
    busy_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  return true;
}

void Reclaimer::resume() { paused_.store(false, std::memory_order_release); }

void Reclaimer::forget_rounds_after_fork() { busy_.store(0, std::memory_order_relaxed); }

// Fault handlers may already run (and try enter_round): Stopped before unpausing, so none
// enters until start() says Running; busy_ is theirs to count now (forget_rounds_after_fork
// reset it before they started).
bool Reclaimer::restart_after_fork() {
  const int n = nthreads_;
  nthreads_ = 0;
  state_.store(State::Stopped, std::memory_order_seq_cst);
  plan_lock_.store(false, std::memory_order_relaxed);
  paused_.store(false, std::memory_order_seq_cst);
  return n == 0 || start(config_, n, mech_, clock_);
}

void* Reclaimer::thread_main(void* arg) {
  own_thread_begin();
  auto* self = static_cast<Reclaimer*>(arg);
  const uint64_t tick_ns = static_cast<uint64_t>(self->config_.tick_seconds * 1e9);
  while (self->state_.load(std::memory_order_acquire) == State::Running) {
    self->busy_.fetch_add(1, std::memory_order_seq_cst);
    if (self->paused_.load(std::memory_order_seq_cst)) {
      self->busy_.fetch_sub(1, std::memory_order_release);
      self->clock_->sleep_ns(1000000);
      continue;
    }
    size_t done = self->run_once();
    self->busy_.fetch_sub(1, std::memory_order_release);
    if (done == 0) self->clock_->sleep_ns(tick_ns / 4 + 1);
  }
  return nullptr;
}

void Reclaimer::maybe_plan() {
  uint64_t now = clock_->now_ns();
  const uint64_t tick_ns = static_cast<uint64_t>(config_.tick_seconds * 1e9);
  if (now - last_plan_ns_.load(std::memory_order_relaxed) < tick_ns) return;
  if (plan_lock_.exchange(true, std::memory_order_acquire)) return;
  TickInputs in;
  in.footprint = mech_->measure();
  in.staged_pages = mech_->staged_pages();
  in.managed_pages = mech_->managed_pages();
  in.pool_full = mech_->pool_full();
  TickPlan p = plan_tick(config_, in);
  stage_budget_.store(p.stage_pages, std::memory_order_relaxed);
  compress_budget_.store(p.compress_pages, std::memory_order_relaxed);
  compress_min_age_ns_.store(p.compress_min_age_ns, std::memory_order_relaxed);
  unreachable_.store(p.over_limit_unreachable, std::memory_order_relaxed);
  last_plan_ns_.store(now, std::memory_order_relaxed);
  plan_lock_.store(false, std::memory_order_release);
}

size_t Reclaimer::draw(std::atomic<size_t>& budget, size_t batch) {
  size_t have = budget.load(std::memory_order_relaxed);
  while (have > 0) {
    size_t take = have < batch ? have : batch;
    if (budget.compare_exchange_weak(have, have - take, std::memory_order_relaxed)) return take;
  }
  return 0;
}

size_t Reclaimer::run_once() {
  maybe_plan();
  size_t done = 0;
  // Stage before compressing: under pressure (compress_min_age 0) the pages staged in
  // this round are compressed in the same round instead of waiting a tick in staging.
  if (size_t n = draw(stage_budget_, kBatch)) {
    size_t s = mech_->stage_cold(n);
    done += s;
    if (s == 0) stage_budget_.store(0, std::memory_order_relaxed);  // no candidates left
  }
  if (size_t n = draw(compress_budget_, kBatch)) {
    size_t c = mech_->compress_staged(compress_min_age_ns_.load(std::memory_order_relaxed), n);
    done += c;
    // Pages too young this round are not owed any more: the next plan recounts.
    if (c < n) compress_budget_.store(0, std::memory_order_relaxed);
  }
  // Returning staging pages to the OS costs a few system calls per run: batch them.
  if (done == 0 || mech_->staging_dirty_pages() >= kZapBatch) done += mech_->release_staging();
  return done;
}

}  // namespace uzswap::policy
