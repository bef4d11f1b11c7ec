// pool/pool_stats.cpp — statistics and walks. Nothing here stops the pool: totals are
// relaxed atomics, a class row is read under that class's lock only, walks lock one
// class at a time (see the lock order in pool.cpp).
#include <mutex>

#include "pool/pool_impl.h"

namespace uzswap::pool {

PoolStats PoolImpl::stats() {
  PoolStats s{};
  s.objects = objects_.load(std::memory_order_relaxed);
  s.object_bytes = object_bytes_.load(std::memory_order_relaxed);
  s.backing_pages = backing_pages_.load(std::memory_order_relaxed);
  ProviderStats ps = provider_->stats();
  s.metadata_bytes = handles_.metadata_bytes() + zspages_.metadata_bytes() + ps.metadata_bytes + sizeof(*this);
  s.provider_bytes = ps.chunks_mapped * PageProvider::kChunkSize;
  s.limit_bytes = limit_pages_.load(std::memory_order_relaxed) * kPageSize;
  s.zspages = live_zspages_.load(std::memory_order_relaxed);
  s.isolated_pages = isolated_pages_.load(std::memory_order_relaxed);
  return s;
}

ClassStats PoolImpl::class_stats(size_t class_index) {
  ClassStats r{};
  r.index = static_cast<uint32_t>(class_index);
  if (class_index >= classes_.count()) return r;
  const SizeClass& sc = classes_.at(class_index);
  ClassState& cs = class_state_[class_index];
  std::lock_guard lk(cs.lock);
  r.size = sc.size;
  r.pages_per_zspage = sc.pages_per_zspage;
  r.almost_full = cs.almost_full;
  r.almost_empty = cs.almost_empty;
  r.obj_allocated = cs.zspages * sc.objs_per_zspage;
  r.obj_used = cs.obj_used;
  r.pages_used = cs.zspages * sc.pages_per_zspage;
  // zsmalloc's zs_can_compact(): whole zspages' worth of free slots.
  r.freeable = sc.huge ? 0 : (r.obj_allocated - r.obj_used) / sc.objs_per_zspage * sc.pages_per_zspage;
  return r;
}

size_t PoolImpl::footprint_bytes() {
  PoolStats s = stats();
  return s.backing_pages * kPageSize + s.metadata_bytes;
}

void PoolImpl::walk_objects(const std::function<void(Handle, size_t)>& fn) {
  size_t hw = handles_.high_water();
  for (Handle h = 1; h < hw; ++h) {
    uint64_t v = handles_.slot(h).load(std::memory_order_acquire);
    if (SlotValue::live(v)) fn(h, SlotValue::size(v));
  }
}

void PoolImpl::walk_backing_pages(const std::function<void(void*)>& fn) {
  size_t hw = zspages_.high_water();
  for (uint32_t zi = 1; zi < hw; ++zi) {
    Zspage& zs = zspages_.at(zi);
    uint32_t ident = zs.ident.load(std::memory_order_acquire);
    if (static_cast<ZspageState>(ident >> 16) != ZspageState::Live) continue;
    uint16_t ci = static_cast<uint16_t>(ident);
    char* pages[kMaxPagesPerZspage];
    int n = 0;
    {
      std::lock_guard lk(class_state_[ci].lock);
      if (zs.ident.load(std::memory_order_acquire) != ident) continue;
      for (; n < zs.npages; ++n) pages[n] = zs.pages[n];
    }
    for (int i = 0; i < n; ++i) fn(pages[i]);  // called unlocked: fn may call into the pool
  }
}

}  // namespace uzswap::pool
