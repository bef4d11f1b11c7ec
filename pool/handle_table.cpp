// pool/handle_table.cpp — see handle_table.h for layout, states and locking.
#include "pool/handle_table.h"

#include <mutex>

#include "pool/os_memory.h"

namespace uzswap::pool {

HandleTable::~HandleTable() { os_unmap(slots_, max_slots_ * sizeof(uint64_t)); }

bool HandleTable::init(size_t max_slots) {
  max_slots_ = max_slots;
  slots_ = static_cast<std::atomic<uint64_t>*>(os_map(max_slots * sizeof(uint64_t), true));
  return slots_ != nullptr;
}

Handle HandleTable::alloc_slot() {
  std::lock_guard lk(free_lock_);
  Handle h = free_head_;
  if (h != kNoHandle) {
    free_head_ = static_cast<uint32_t>(slots_[h].load(std::memory_order_relaxed));
  } else {
    h = high_water_.load(std::memory_order_relaxed);
    if (h >= max_slots_) return kNoHandle;
    high_water_.store(h + 1, std::memory_order_release);
  }
  slots_[h].store(SlotValue::kReservedBit, std::memory_order_relaxed);
  return h;
}

void HandleTable::free_slot(Handle h) {
  std::lock_guard lk(free_lock_);
  slots_[h].store(free_head_, std::memory_order_relaxed);
  free_head_ = static_cast<uint32_t>(h);
}

size_t HandleTable::metadata_bytes() const {
  size_t bytes = high_water() * sizeof(uint64_t);
  return (bytes + kPageSize - 1) & ~(kPageSize - 1);
}

}  // namespace uzswap::pool
