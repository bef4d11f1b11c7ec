// tests/uffd/test_util.h — shared helpers for the fault engine tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/counters.h"
#include "uffd/engine.h"

namespace uzswap::test {

inline constexpr size_t kPage = 4096;

inline bool in_ci() {
  const char* ci = getenv("CI");
  return ci != nullptr && strcmp(ci, "true") == 0;
}

inline double stress_seconds() {
  const char* s = getenv("UZSWAP_STRESS_SECONDS");
  double v = s ? atof(s) : 10.0;
  return v > 0 ? v : 10.0;
}

// Starts an engine or skips the test where userfaultfd is unavailable (fails under CI).
#define UZ_START_ENGINE(var, cfg)                                                     \
  ::uzswap::EngineStartResult var##_result;                                          \
  ::uzswap::Engine* var = ::uzswap::Engine::start((cfg), &var##_result);             \
  if (var == nullptr) {                                                              \
    if (::uzswap::test::in_ci() ||                                                   \
        (var##_result.error != ::uzswap::EngineStartError::NoUserfaultfd &&           \
         var##_result.error != ::uzswap::EngineStartError::UserModeOnly)) {          \
      FAIL() << "engine did not start: " << var##_result.message;                    \
    }                                                                                \
    GTEST_SKIP() << "userfaultfd unavailable: " << var##_result.message;             \
  }                                                                                  \
  struct var##_Destroy {                                                             \
    ::uzswap::Engine* e;                                                             \
    ~var##_Destroy() { ::uzswap::Engine::destroy(e); }                               \
  } var##_destroy{var};

inline bool wait_until(const std::function<bool()>& pred, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline void* map_anon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Fresh anonymous memory managed by `engine`, filled with `fill`; nullptr on failure.
inline uint8_t* map_managed_filled(Engine* engine, size_t len, uint8_t fill) {
  auto* p = static_cast<uint8_t*>(map_anon(len));
  if (p == nullptr) return nullptr;
  if (!engine->manage(p, len)) {
    munmap(p, len);
    return nullptr;
  }
  memset(p, fill, len);
  return p;
}

// A page's content: compressible text-like bytes derived from (page index, sequence),
// with the pair stored at the start so a wrong page is identified.
inline void fill_page(uint8_t* p, uint64_t index, uint64_t seq) {
  memcpy(p, &index, 8);
  memcpy(p + 8, &seq, 8);
  uint64_t x = index * 0x9E3779B97F4A7C15ull + seq;
  for (size_t i = 16; i < kPage; ++i) {
    if (i % 64 == 16) x = x * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = static_cast<uint8_t>('a' + ((x >> ((i % 8) * 8)) % 7));
  }
}

inline bool check_page(const uint8_t* p, uint64_t index, uint64_t seq) {
  uint8_t want[kPage];
  fill_page(want, index, seq);
  return memcmp(p, want, kPage) == 0;
}

inline uint64_t count(Counter c) { return counter_read(c); }

// Prints the non-zero fault engine counters (diagnosis aid in test logs).
inline void print_engine_counters() {
  bool on = false;
  for (size_t i = 0; i < kNumCounters; ++i) {
    const CounterInfo& info = counter_info(static_cast<Counter>(i));
    if (strcmp(info.name, "fault_zero_run") == 0) on = true;
    uint64_t v = counter_read(static_cast<Counter>(i));
    if (on && v) fprintf(stderr, "  %-24s %llu\n", info.name, static_cast<unsigned long long>(v));
  }
}

// Engine settings that evict everything quickly.
inline EngineConfig aggressive_config() {
  EngineConfig c;
  c.limit_bytes = 1;       // everything is over the limit
  c.stage_seconds = 0;     // compress as soon as staged
  c.handler_threads = 0;
  c.reclaim_threads = 1;
  return c;
}

inline uint64_t evicted_pages(Engine* e) {
  EngineStats s = e->stats();
  return s.stored_pages + s.same_filled_pages + s.staged_pages;
}

}  // namespace uzswap::test
