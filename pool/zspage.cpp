// pool/zspage.cpp — see zspage.h for layout, states and guards.
#include "pool/zspage.h"

#include <algorithm>
#include <mutex>
#include <new>

#include "pool/os_memory.h"

namespace uzswap::pool {

void Zspage::copy_out(size_t off, void* dst, size_t len) const {
  char* d = static_cast<char*>(dst);
  while (len > 0) {
    size_t in = off % kPageSize;
    size_t n = std::min(len, kPageSize - in);
    memcpy(d, pages[off / kPageSize] + in, n);
    d += n;
    off += n;
    len -= n;
  }
}

void Zspage::copy_in(size_t off, const void* src, size_t len) {
  const char* s = static_cast<const char*>(src);
  while (len > 0) {
    size_t in = off % kPageSize;
    size_t n = std::min(len, kPageSize - in);
    memcpy(pages[off / kPageSize] + in, s, n);
    s += n;
    off += n;
    len -= n;
  }
}

void zspage_copy(Zspage& dst, size_t dst_off, const Zspage& src, size_t src_off, size_t len) {
  while (len > 0) {
    size_t n = std::min({len, kPageSize - dst_off % kPageSize, kPageSize - src_off % kPageSize});
    memcpy(dst.pages[dst_off / kPageSize] + dst_off % kPageSize,
           src.pages[src_off / kPageSize] + src_off % kPageSize, n);
    dst_off += n;
    src_off += n;
    len -= n;
  }
}

ZspageTable::~ZspageTable() { os_unmap(table_, max_ * sizeof(Zspage)); }

bool ZspageTable::init(size_t max_zspages) {
  max_ = max_zspages;
  size_t bytes = (max_ * sizeof(Zspage) + kPageSize - 1) & ~(kPageSize - 1);
  max_ = bytes / sizeof(Zspage);
  // Zero-filled memory is a valid Zspage in state Free with an unlocked lock.
  table_ = static_cast<Zspage*>(os_map(bytes, true));
  return table_ != nullptr;
}

uint32_t ZspageTable::alloc(uint16_t class_index) {
  uint32_t index;
  {
    std::lock_guard lk(free_lock_);
    index = free_head_;
    if (index != 0) {
      free_head_ = table_[index].next;
    } else {
      size_t hw = high_water_.load(std::memory_order_relaxed);
      if (hw >= max_) return 0;
      index = static_cast<uint32_t>(hw);
      high_water_.store(hw + 1, std::memory_order_release);
    }
  }
  table_[index].ident.store(Zspage::make_ident(ZspageState::Building, class_index),
                            std::memory_order_release);
  return index;
}

void ZspageTable::free(uint32_t index) {
  std::lock_guard lk(free_lock_);
  table_[index].next = free_head_;
  free_head_ = index;
}

void ZspageTable::reset_locks_after_fork() {
  new (&free_lock_) SpinLock();
  for (size_t i = 1; i < high_water(); ++i) table_[i].lock.reset_after_fork();
}

size_t ZspageTable::metadata_bytes() const {
  size_t bytes = high_water() * sizeof(Zspage);
  return (bytes + kPageSize - 1) & ~(kPageSize - 1);
}

}  // namespace uzswap::pool
