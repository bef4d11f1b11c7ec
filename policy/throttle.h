// policy/throttle.h — slowing a program's new memory while its footprint is well over the
// limit, and the cheap footprint estimate that decision reads on every fault.
//
// Model: like the kernel, which makes an allocating task reclaim (direct reclaim) or
// wait (zswap/cgroup throttling) when memory is short, a first-touch fault (a page the
// program has never had, resolved with zero pages) taken while the footprint is past
// limit + margin is not resolved at once: the engine parks it (uffd/parked_faults.h) and
// resolves it when the footprint is back under limit + margin ("relieved") or after
// max_delay_ns at most ("timeout"; the zero run is then shortened to timeout_run_pages,
// so that a writer that reclaim cannot keep up with is slowed to about
// timeout_run_pages pages per max_delay_ns). No fault is parked when the limit is
// unreachable (pool and metadata alone exceed it) or the pool is at its hard limit:
// reclaim cannot bring the footprint down then, and throttling would only slow the program.
//
// Refaults (faults on evicted pages) are never parked: the page is the program's, and
// holding it gives reclaim nothing. But a program that reads its evicted data back as fast
// as one reclaim thread evicts held its footprint hundreds of MiB over the limit (the
// hot/cold benchmark: 800 MiB against 567). So under the same pressure a refault pays for
// itself, as the kernel's direct reclaim makes a task that charges a page reclaim one:
// the handler that served it wakes the program's thread, then compresses up to
// kAssistPages staged pages before it takes the next fault (uffd/throttle.cpp,
// assist_reclaim). The faulting thread does not wait for that work; its next fault does,
// which paces a program to the rate reclaim and handlers evict together.
//
// States of one first-touch fault:
//   Arrived --no pressure / throttle off / list full--> Resolved (at once)
//   Arrived --estimate > limit + margin--> Parked
//   Parked --estimate <= limit + margin, or the limit became unreachable--> Relieved --> Resolved (full run)
//   Parked --max_delay_ns passed--> Timeout --> Resolved (shortened run)
//   Parked --engine stopping--> Woken (the range is unregistered: the program's thread
//                                retries on plain memory)
//
// The estimate (FootprintEstimate): PAGEMAP_SCAN (the engine's measure()) is far too
// costly per fault, so the engine keeps base + delta: every measure() rebases it on the
// measured total, and between measurements the engine adds what it knows changed: pages
// given to the program by write faults and refaults (+), compressed bytes added to the
// pool (+), staging pages returned to the OS (-). Growth the engine does not see (the
// kernel's copy-on-write of a zero page written after a read fault) and shrinkage it does
// not account (munmap, pool frees) wait for the next measurement (a reclaim tick).
//
// Thread safety: the functions are pure; FootprintEstimate is two relaxed atomics (any
// thread; the measurement rebases under the engine's measure lock).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uzswap::policy {

struct ThrottleConfig {
  bool enabled = true;
  uint64_t limit_bytes = 0;               // 0 = no limit: never throttle
  uint64_t margin_bytes = 0;              // park only past limit + margin
  uint64_t max_delay_ns = 4'000'000;      // a parked fault waits at most this long
  size_t timeout_run_pages = 64;          // zero-run length of a fault released by timeout
};

// The margin used with `limit`: 1/32 of it, at least 4 MiB (two full zero runs), so
// that the ordinary jitter of the footprint around the limit is never throttled.
uint64_t throttle_margin(uint64_t limit_bytes);

struct ThrottleInputs {
  uint64_t estimate_bytes = 0;  // FootprintEstimate::bytes()
  bool unreachable = false;     // the limit cannot be reached (Reclaimer)
  bool pool_full = false;       // the pool is at its hard limit
};

// True if a first-touch fault arriving now should be parked.
bool should_park(const ThrottleConfig& config, const ThrottleInputs& in);

// True if the handler that has just brought an evicted page back should compress staged
// pages before serving the next fault (see "Refaults" above).
bool should_assist(const ThrottleConfig& config, const ThrottleInputs& in);

enum class Release : uint8_t {
  Keep,      // stays parked
  Relieved,  // the pressure is gone: resolve with a full zero run
  Timeout,   // waited max_delay_ns: resolve with a shortened zero run
};

// What to do with a fault parked at parked_ns, at now_ns.
Release release_parked(const ThrottleConfig& config, const ThrottleInputs& in, uint64_t parked_ns,
                       uint64_t now_ns);

// Nanoseconds until a fault parked at parked_ns must be released (0 if due).
uint64_t release_deadline_in(const ThrottleConfig& config, uint64_t parked_ns, uint64_t now_ns);

class FootprintEstimate {
 public:
  // A change the engine made to the footprint (bytes, either sign).
  void add(int64_t bytes) { delta_.fetch_add(bytes, std::memory_order_relaxed); }
  // Taken just before a measurement starts ...
  int64_t mark() const { return delta_.load(std::memory_order_relaxed); }
  // ... and given back with its result: changes added since the mark stay counted.
  void rebase(uint64_t measured_bytes, int64_t mark) {
    base_.store(static_cast<int64_t>(measured_bytes) - mark, std::memory_order_relaxed);
  }
  uint64_t bytes() const {
    int64_t v = base_.load(std::memory_order_relaxed) + delta_.load(std::memory_order_relaxed);
    return v > 0 ? static_cast<uint64_t>(v) : 0;
  }

 private:
  std::atomic<int64_t> base_{0};
  std::atomic<int64_t> delta_{0};
};

}  // namespace uzswap::policy
