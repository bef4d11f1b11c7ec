// uffd/meta_heap.cpp — see meta_heap.h.
#include "uffd/meta_heap.h"

#include <string.h>
#include <sys/mman.h>

namespace uzswap::uffd {

size_t MetaHeap::class_of(size_t bytes) {
  size_t c = 0;
  while ((size_t{1} << (c + kMinShift)) < bytes) ++c;
  return c;
}

void* MetaHeap::alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > (size_t{1} << kMaxShift)) {
    size_t len = (bytes + 4095) & ~size_t{4095};
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    footprint_.fetch_add(len, std::memory_order_relaxed);
    return p;
  }
  size_t c = class_of(bytes);
  size_t size = size_t{1} << (c + kMinShift);
  LockGuard<SpinLock> g(lock_);
  if (void* p = free_[c]) {
    free_[c] = *static_cast<void**>(p);
    memset(p, 0, size);
    return p;
  }
  if (carve_ == nullptr || carve_ + size > carve_end_) {
    void* chunk = mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (chunk == MAP_FAILED) return nullptr;
    footprint_.fetch_add(kChunk, std::memory_order_relaxed);
    // The tail of the previous chunk is abandoned: at most 2 KiB per 256 KiB.
    carve_ = static_cast<char*>(chunk);
    carve_end_ = carve_ + kChunk;
  }
  void* p = carve_;
  carve_ += size;
  return p;  // fresh mmap memory is zero
}

void MetaHeap::free(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes == 0) bytes = 1;
  if (bytes > (size_t{1} << kMaxShift)) {
    size_t len = (bytes + 4095) & ~size_t{4095};
    munmap(p, len);
    footprint_.fetch_sub(len, std::memory_order_relaxed);
    return;
  }
  size_t c = class_of(bytes);
  LockGuard<SpinLock> g(lock_);
  *static_cast<void**>(p) = free_[c];
  free_[c] = p;
}

}  // namespace uzswap::uffd
