// common/counters.cpp — see counters.h for the layout.
#include "common/counters.h"

namespace uzswap {
namespace {

constexpr CounterInfo kInfo[] = {
#define UZ_COUNTER(name, unit, help) {#name, unit, help},
#include "common/counters.def"
#undef UZ_COUNTER
};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == kNumCounters);

CounterBlock g_static_block;
std::atomic<CounterBlock*> g_block{&g_static_block};
std::atomic<uint32_t> g_next_row{0};
thread_local uint32_t t_row = ~0u;

}  // namespace

const CounterInfo& counter_info(Counter c) { return kInfo[static_cast<size_t>(c)]; }

CounterBlock* counters_block() { return g_block.load(std::memory_order_acquire); }

void counters_relocate(CounterBlock* block) {
  CounterBlock* old = counters_block();
  if (block == old) return;
  for (size_t r = 0; r < kCounterSlots; ++r)
    for (size_t i = 0; i < kNumCounters; ++i)
      block->row[r].value[i].store(old->row[r].value[i].load(std::memory_order_relaxed),
                                   std::memory_order_relaxed);
  g_block.store(block, std::memory_order_release);
}

CounterRow& counters_my_row() {
  if (t_row == ~0u) t_row = g_next_row.fetch_add(1, std::memory_order_relaxed) % kCounterSlots;
  return counters_block()->row[t_row];
}

uint64_t counter_read(Counter c) {
  CounterBlock* b = counters_block();
  uint64_t sum = 0;
  for (size_t r = 0; r < kCounterSlots; ++r)
    sum += b->row[r].value[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  return sum;
}

}  // namespace uzswap
