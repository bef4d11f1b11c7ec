// pool/os_memory.cpp — see os_memory.h.
//
// Data layout: g_ranges, a fixed table of kMaxRanges {base, len} pairs, each word an atomic.
// A slot is free when base == 0. os_map claims a free slot with a CAS on base (then sets
// len); os_unmap clears base. Readers (pool_owns_address) scan without a lock; a racing
// reader may miss a mapping being added or see one being removed, which is harmless: the
// caller asks about ranges that exist before and after its question.
#include "pool/os_memory.h"

#include <atomic>
#include <cstdint>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "common/log.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

namespace uzswap::pool {
namespace {

constexpr int kMaxRanges = 64;
struct Range {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> len{0};
};
Range g_ranges[kMaxRanges];

void record_range(void* addr, size_t len) {
  for (Range& r : g_ranges) {
    uintptr_t expected = 0;
    if (r.base.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(addr))) {
      r.len.store(len, std::memory_order_release);
      return;
    }
  }
  UZ_WARN("pool: more than %d pool mappings; pool_owns_address() will miss some", kMaxRanges);
}

void forget_range(void* addr) {
  for (Range& r : g_ranges)
    if (r.base.load(std::memory_order_acquire) == reinterpret_cast<uintptr_t>(addr)) {
      r.len.store(0, std::memory_order_release);
      r.base.store(0, std::memory_order_release);
      return;
    }
}

void name_range(void* addr, size_t len) {
  // Best effort: kernels without CONFIG_ANON_VMA_NAME answer EINVAL.
  prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(addr), len,
        reinterpret_cast<unsigned long>("uzswap-pool"));
}

}  // namespace

void* os_map(size_t len, bool accessible) {
  int prot = accessible ? PROT_READ | PROT_WRITE : PROT_NONE;
  void* p = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, len, MADV_NOHUGEPAGE);
  name_range(p, len);
  record_range(p, len);
  return p;
}

void os_unmap(void* addr, size_t len) {
  if (!addr) return;
  forget_range(addr);
  munmap(addr, len);
}

bool os_commit(void* addr, size_t len) {
  void* p = mmap(addr, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return false;
  madvise(p, len, MADV_NOHUGEPAGE);
  name_range(p, len);
  return true;
}

void os_decommit(void* addr, size_t len) {
  // A fresh PROT_NONE mapping over the range frees its pages and keeps the reservation.
  void* p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
  if (p == MAP_FAILED) {
    madvise(addr, len, MADV_DONTNEED);
    return;
  }
  name_range(p, len);
}

void os_discard(void* addr, size_t len) { madvise(addr, len, MADV_DONTNEED); }

bool pool_owns_address(const void* addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  for (const Range& r : g_ranges) {
    uintptr_t base = r.base.load(std::memory_order_acquire);
    if (base && a >= base && a - base < r.len.load(std::memory_order_acquire)) return true;
  }
  return false;
}

}  // namespace uzswap::pool
