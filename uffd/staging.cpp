// uffd/staging.cpp — see staging.h for layout, slot states and locking.
#include "uffd/staging.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "common/counters.h"
#include "uffd/uffd_file.h"

namespace uzswap::uffd {
namespace {

template <typename T>
T* map_array(size_t n) {
  void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<T*>(p);
}

template <typename T>
void unmap_array(T* p, size_t n) {
  if (p) munmap(p, n * sizeof(T));
}

}  // namespace

bool Staging::init(size_t slots, UffdFile* uffd, bool register_with_uffd) {
  slots_ = slots;
  uffd_ = uffd;
  void* area = mmap(nullptr, slots * kPageSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (area == MAP_FAILED) return false;
  base_ = reinterpret_cast<uintptr_t>(area);
  madvise(area, slots * kPageSize, MADV_NOHUGEPAGE);
  state_ = map_array<std::atomic<uint8_t>>(slots);
  owner_ = map_array<std::atomic<Owner>>(slots);
  stage_ns_ = map_array<std::atomic<uint64_t>>(slots);
  free_ = map_array<uint32_t>(slots);
  dirty_ = map_array<uint32_t>(slots);
  scratch_ = map_array<uint32_t>(slots);
  if (!state_ || !owner_ || !stage_ns_ || !free_ || !dirty_ || !scratch_) return false;
  // Lowest slots on top of the stack: staging stays compact.
  for (size_t i = 0; i < slots; ++i) free_[i] = static_cast<uint32_t>(slots - 1 - i);
  free_top_ = slots;
  want_registered_ = register_with_uffd;
  if (register_with_uffd) {
    if (uffd->register_range(base_, slots * kPageSize, false) != 0) return false;
    registered_ = true;
  }
  return true;
}

void Staging::destroy() {
  if (base_) {
    if (registered_) uffd_->unregister_range(base_, slots_ * kPageSize);
    munmap(reinterpret_cast<void*>(base_), slots_ * kPageSize);
  }
  unmap_array(state_, slots_);
  unmap_array(owner_, slots_);
  unmap_array(stage_ns_, slots_);
  unmap_array(free_, slots_);
  unmap_array(dirty_, slots_);
  unmap_array(scratch_, slots_);
  base_ = 0;
}

bool Staging::alloc(Owner owner, uint32_t* slot) {
  {
    LockGuard<SpinLock> g(lock_);
    if (free_top_ == 0) return false;
    *slot = free_[--free_top_];
  }
  owner_[*slot].store(owner, std::memory_order_relaxed);
  state_[*slot].store(static_cast<uint8_t>(SlotState::InUse), std::memory_order_release);
  in_use_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Staging::release_clean(uint32_t slot) {
  owner_[slot].store(kNoOwner, std::memory_order_relaxed);
  state_[slot].store(static_cast<uint8_t>(SlotState::Free), std::memory_order_release);
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  LockGuard<SpinLock> g(lock_);
  free_[free_top_++] = slot;
}

void Staging::release_dirty(uint32_t slot) {
  owner_[slot].store(kNoOwner, std::memory_order_relaxed);
  state_[slot].store(static_cast<uint8_t>(SlotState::Dirty), std::memory_order_release);
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  dirty_count_.fetch_add(1, std::memory_order_relaxed);
  LockGuard<SpinLock> g(lock_);
  dirty_[dirty_top_++] = slot;
}

size_t Staging::zap_dirty() {
  LockGuard<SpinLock> zg(zap_lock_);
  size_t n;
  {
    LockGuard<SpinLock> g(lock_);
    n = dirty_top_;
    for (size_t i = 0; i < n; ++i) scratch_[i] = dirty_[i];
    dirty_top_ = 0;
  }
  if (n == 0) return 0;
  std::sort(scratch_, scratch_ + n);
  // Unregistered while zapping: no REMOVE events (see the header).
  const bool was_registered = registered_;
  if (was_registered) {
    move_lock_.lock_exclusive();
    if (uffd_->unregister_range(base_, slots_ * kPageSize) == 0) registered_ = false;
  }
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && scratch_[j] == scratch_[j - 1] + 1) ++j;
    madvise(reinterpret_cast<void*>(addr(scratch_[i])), (j - i) * kPageSize, MADV_DONTNEED);
    UZ_COUNT(staging_zap_calls);
    i = j;
  }
  if (was_registered) {
    if (!registered_) registered_ = uffd_->register_range(base_, slots_ * kPageSize, false) == 0;
    if (!registered_) UZ_COUNT(error_ioctl);  // evictions will fail (EINVAL) and be skipped
    move_lock_.unlock_exclusive();
  }
  for (size_t k = 0; k < n; ++k)
    state_[scratch_[k]].store(static_cast<uint8_t>(SlotState::Free), std::memory_order_release);
  dirty_count_.fetch_sub(n, std::memory_order_relaxed);
  LockGuard<SpinLock> g(lock_);
  for (size_t k = n; k > 0; --k) free_[free_top_++] = scratch_[k - 1];
  return n;
}

bool Staging::reset_after_fork() {
  new (&lock_) SpinLock();
  new (&zap_lock_) SpinLock();
  new (&move_lock_) MapLock();
  registered_ = false;
  if (!want_registered_) return true;
  registered_ = uffd_->register_range(base_, slots_ * kPageSize, false) == 0;
  return registered_;
}

size_t Staging::metadata_bytes() const {
  return slots_ * (sizeof(uint8_t) + sizeof(Owner) + sizeof(uint64_t) + 3 * sizeof(uint32_t));
}

}  // namespace uzswap::uffd
