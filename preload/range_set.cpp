// preload/range_set.cpp — see range_set.h. Linear scans: the sets hold tens to a few
// hundred ranges, and are read by the coverage scan only (never on a fault path).
#include "preload/range_set.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uzswap::preload {

bool RangeSet::init() {
  if (slots_ != nullptr) return true;
  // Raw system call: not seen by the interposed mmap, and usable before it is resolved.
  long p = syscall(SYS_mmap, nullptr, kCapacity * sizeof(AddrRange), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == -1) return false;
  lock();
  slots_ = reinterpret_cast<AddrRange*>(p);
  unlock();
  return true;
}

void RangeSet::lock() {
  while (lock_.test_and_set(std::memory_order_acquire)) {
  }
}

bool RangeSet::add(uintptr_t begin, uintptr_t end) {
  if (begin >= end) return true;
  lock();
  bool ok = slots_ != nullptr;
  for (size_t i = 0; ok && i < count_; ++i)
    if (slots_[i].begin <= begin && end <= slots_[i].end) {
      unlock();
      return true;
    }
  ok = ok && count_ < kCapacity;
  if (ok) slots_[count_++] = AddrRange{begin, end};
  unlock();
  if (!ok) dropped_.fetch_add(1, std::memory_order_relaxed);
  return ok;
}

void RangeSet::remove_within(uintptr_t begin, uintptr_t end) {
  lock();
  for (size_t i = 0; i < count_;) {
    if (begin <= slots_[i].begin && slots_[i].end <= end) slots_[i] = slots_[--count_];
    else ++i;
  }
  unlock();
}

void RangeSet::clear() {
  lock();
  count_ = 0;
  unlock();
}

bool RangeSet::overlaps(uintptr_t begin, uintptr_t end) {
  lock();
  bool hit = false;
  for (size_t i = 0; i < count_ && !hit; ++i) hit = slots_[i].begin < end && begin < slots_[i].end;
  unlock();
  return hit;
}

size_t RangeSet::subtract(uintptr_t begin, uintptr_t end, AddrRange* out, size_t max_out) {
  // Sweep: repeatedly find the lowest entry overlapping [cursor, end).
  size_t n = 0;
  uintptr_t cursor = begin;
  lock();
  while (cursor < end) {
    const AddrRange* next = nullptr;
    for (size_t i = 0; i < count_; ++i) {
      const AddrRange& r = slots_[i];
      if (r.end <= cursor || r.begin >= end) continue;
      if (next == nullptr || r.begin < next->begin) next = &r;
    }
    uintptr_t gap_end = next == nullptr ? end : (next->begin > cursor ? next->begin : cursor);
    if (gap_end > cursor) {
      if (n == max_out) break;
      out[n++] = AddrRange{cursor, gap_end};
    }
    if (next == nullptr) break;
    cursor = next->end;
  }
  unlock();
  return n;
}

AddrRange RangeSet::storage() const {
  uintptr_t b = reinterpret_cast<uintptr_t>(slots_);
  return b == 0 ? AddrRange{0, 0} : AddrRange{b, b + kCapacity * sizeof(AddrRange)};
}

size_t RangeSet::size() {
  lock();
  size_t n = count_;
  unlock();
  return n;
}

}  // namespace uzswap::preload
