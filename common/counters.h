// common/counters.h — lock-free event counters, summed when read.
//
// Data layout: a CounterBlock holds kCounterSlots rows of kNumCounters 64-bit counters,
// each row on its own cache lines. A thread picks a row once (round-robin, thread_local)
// and increments its counters there with relaxed atomic adds: no lock, no shared cache
// line between threads that drew different rows. A reader sums a counter over the rows;
// the sum is a consistent lower bound of events so far (each row only grows).
//
// The block normally lives in static storage; the stats exporter may move it into the
// shared-memory region that zsstat reads (counters_relocate), once, before uzswap starts
// any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uzswap {

enum class Counter : uint32_t {
#define UZ_COUNTER(name, unit, help) name,
#include "common/counters.def"
#undef UZ_COUNTER
  kCount
};

inline constexpr size_t kNumCounters = static_cast<size_t>(Counter::kCount);
inline constexpr size_t kCounterSlots = 16;  // rows; a power of two

struct CounterInfo {
  const char* name;
  const char* unit;
  const char* help;
};
// The name, unit and meaning of every counter, indexed by Counter.
const CounterInfo& counter_info(Counter c);

struct CounterRow {
  alignas(64) std::atomic<uint64_t> value[kNumCounters];
};
struct CounterBlock {
  CounterRow row[kCounterSlots];
};

// The block that counter_add writes to.
CounterBlock* counters_block();
// Moves the counters into `block` (copying current values); call before threads start.
void counters_relocate(CounterBlock* block);

// This thread's row of the current block.
CounterRow& counters_my_row();

inline void counter_add(Counter c, uint64_t n = 1) {
  counters_my_row().value[static_cast<size_t>(c)].fetch_add(n, std::memory_order_relaxed);
}
// Sum over all rows.
uint64_t counter_read(Counter c);

}  // namespace uzswap

#define UZ_COUNT(name) ::uzswap::counter_add(::uzswap::Counter::name)
#define UZ_COUNT_N(name, n) ::uzswap::counter_add(::uzswap::Counter::name, (n))
