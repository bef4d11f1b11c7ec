// tests/pool/pool_test_util.h — helpers shared by the pool tests: object contents with
// an embedded checksum, a page provider that can be told to refuse memory, RSS.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "pool/page_provider.h"
#include "pool/pool.h"

namespace uzswap::pool::testing {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Deterministic contents of an object from (seed, size): the bytes a correct pool gives back.
inline void fill_object(void* dst, size_t size, uint64_t seed) {
  auto* p = static_cast<uint8_t*>(dst);
  uint64_t x = mix64(seed + 1);
  for (size_t i = 0; i < size; ++i) {
    if (i % 8 == 0) x = mix64(x + i);
    p[i] = static_cast<uint8_t>(x >> (8 * (i % 8)));
  }
}

// Index of the first byte that differs from fill_object(seed, size), or size if none.
inline size_t check_object(const void* src, size_t size, uint64_t seed) {
  auto* p = static_cast<const uint8_t*>(src);
  uint64_t x = mix64(seed + 1);
  for (size_t i = 0; i < size; ++i) {
    if (i % 8 == 0) x = mix64(x + i);
    if (p[i] != static_cast<uint8_t>(x >> (8 * (i % 8)))) return i;
  }
  return size;
}

inline int stress_seconds() {
  const char* s = getenv("UZSWAP_STRESS_SECONDS");
  int v = s ? atoi(s) : 10;
  return v > 0 ? v : 10;
}

// Resident set size of this process, bytes.
inline size_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident * 4096;
}

// The real mmap provider, with an injectable failure: once fail_after pages have been
// handed out, alloc_page() returns nullptr (the OS refusing memory).
class FailingProvider final : public PageProvider {
 public:
  FailingProvider() : real_(make_mmap_provider(size_t{1} << 30)) {}
  void fail_after(long pages) { budget_.store(pages); }
  void never_fail() { budget_.store(-1); }

  void* alloc_page() override { return take() ? real_->alloc_page() : nullptr; }
  void* alloc_page_denser_than(const void* page) override {
    return take() ? real_->alloc_page_denser_than(page) : nullptr;
  }
  void free_page(void* page) override { real_->free_page(page); }
  void set_owner(void* page, uint32_t owner) override { real_->set_owner(page, owner); }
  uint32_t owner(const void* page) const override { return real_->owner(page); }
  size_t chunk_limit() const override { return real_->chunk_limit(); }
  size_t chunk_used(size_t chunk) const override { return real_->chunk_used(chunk); }
  size_t chunk_pages(size_t chunk, void** out) const override { return real_->chunk_pages(chunk, out); }
  ProviderStats stats() const override { return real_->stats(); }
  void reset_locks_after_fork() override { real_->reset_locks_after_fork(); }

 private:
  bool take() {
    long b = budget_.load();
    while (b >= 0) {
      if (b == 0) return false;
      if (budget_.compare_exchange_weak(b, b - 1)) return true;
    }
    return true;
  }
  std::unique_ptr<PageProvider> real_;
  std::atomic<long> budget_{-1};
};

}  // namespace uzswap::pool::testing
