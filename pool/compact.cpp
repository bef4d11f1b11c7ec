// pool/compact.cpp — compaction: move objects out of sparse zspages into fuller ones of
// the same class, free the emptied zspages.
//
// Per class, repeatedly: under the class lock pick a source (the sparsest zspage whose
// lock is free) and a destination (the fullest other non-full zspage whose lock is
// free), take both zspage locks exclusive by try (a mapped object keeps its zspage
// out of compaction; see the lock order in pool.cpp), move objects until the source is
// empty or the destination full, rewrite each moved object's handle slot, and free the
// source if it emptied. Every round empties a source or fills a destination, so the
// number of non-full zspages falls and the loop ends. The class lock is dropped between
// rounds (alloc and free of the class may run; nothing is carried across the drop: the
// next round re-reads the lists). The emptied zspage's pages go back to the provider
// after the class lock is dropped (madvise is a syscall). Last, the empty zspage that
// free() keeps per class (see PoolImpl::free) is freed too.
#include "common/counters.h"
#include "pool/pool_impl.h"

namespace uzswap::pool {
namespace {

constexpr int kMaxLockTries = 16;  // busy zspages skipped per round before giving up the class

}  // namespace

size_t PoolImpl::compact() {
  UZ_COUNT(pool_compact_runs);
  size_t freed = 0;
  for (size_t ci = 0; ci < classes_.count(); ++ci) freed += compact_class(static_cast<uint16_t>(ci));
  return freed;
}

size_t PoolImpl::compact_class(uint16_t ci) {
  const SizeClass& sc = classes_.at(ci);
  // Huge classes hold one object a zspage: nothing to merge, only empties to free.
  size_t freed = sc.huge ? 0 : merge_zspages(ci);
  return freed + free_empty_zspages(ci);
}

size_t PoolImpl::free_empty_zspages(uint16_t ci) {
  const SizeClass& sc = classes_.at(ci);
  ClassState& cs = class_state_[ci];
  size_t freed = 0;
  for (;;) {
    char* pages[kMaxPagesPerZspage];
    size_t npages = 0;
    uint32_t zi;
    {
      std::lock_guard lk(cs.lock);
      zi = cs.list[static_cast<size_t>(FullnessGroup::Empty)];
      if (zi == 0) break;
      // No object, so no mapper can hold its lock but a transient one that will fail
      // its revalidation (see pool.cpp): retiring needs no zspage lock, as in free().
      retire_zspage(cs, sc, zi, pages, &npages);
    }
    finish_free_zspage(zi, pages, npages);
    freed += npages;
    UZ_COUNT_N(pool_compact_pages_freed, npages);
  }
  return freed;
}

size_t PoolImpl::merge_zspages(uint16_t ci) {
  const SizeClass& sc = classes_.at(ci);
  ClassState& cs = class_state_[ci];
  size_t freed = 0;
  for (;;) {
    char* pages[kMaxPagesPerZspage];
    size_t npages = 0;
    uint32_t retired = 0;
    bool progress;
    {
      std::lock_guard lk(cs.lock);
      uint32_t s, d;
      if (!pick_compaction_pair(cs, &s, &d)) break;
      Zspage& src = zspages_.at(s);
      Zspage& dst = zspages_.at(d);
      move_objects(cs, sc, s, d);
      progress = src.inuse == 0 || dst.inuse == sc.objs_per_zspage;
      dst.lock.write_unlock();
      if (src.inuse == 0) {
        retire_zspage(cs, sc, s, pages, &npages);
        retired = s;
      }
      src.lock.write_unlock();
    }
    if (retired) {
      finish_free_zspage(retired, pages, npages);
      freed += npages;
      UZ_COUNT_N(pool_compact_pages_freed, npages);
    }
    if (!progress) break;  // cannot happen with consistent lists; never spin on it
  }
  return freed;
}

bool PoolImpl::pick_compaction_pair(ClassState& cs, uint32_t* src, uint32_t* dst) {
  constexpr size_t kLow = static_cast<size_t>(FullnessGroup::Under10);
  constexpr size_t kHigh = static_cast<size_t>(FullnessGroup::Under100);
  int tries = 0;
  for (size_t gs = kLow; gs <= kHigh; ++gs) {
    for (uint32_t s = cs.list[gs]; s; s = zspages_.at(s).next) {
      if (!zspages_.at(s).lock.try_write_lock()) {
        UZ_COUNT(pool_compact_busy);
        if (++tries >= kMaxLockTries) return false;
        continue;
      }
      // Destination: fullest first, never sparser than the source's group.
      for (size_t gd = kHigh; gd >= gs; --gd) {
        for (uint32_t d = cs.list[gd]; d; d = zspages_.at(d).next) {
          if (d == s) continue;
          if (zspages_.at(d).lock.try_write_lock()) {
            *src = s;
            *dst = d;
            return true;
          }
          UZ_COUNT(pool_compact_busy);
          if (++tries >= kMaxLockTries) break;
        }
        if (tries >= kMaxLockTries) break;
      }
      // No other non-full zspage at least as full as the sparsest free source: done.
      zspages_.at(s).lock.write_unlock();
      return false;
    }
  }
  return false;
}

void PoolImpl::move_objects(ClassState& cs, const SizeClass& sc, uint32_t s, uint32_t d) {
  Zspage& src = zspages_.at(s);
  Zspage& dst = zspages_.at(d);
  uint64_t moved = 0, bytes = 0;
  for (uint32_t obj = 0; obj < sc.objs_per_zspage && src.inuse > 0 && dst.inuse < sc.objs_per_zspage; ++obj) {
    size_t src_off = size_t{obj} * sc.size;
    uint64_t header = *src.word_at(src_off);
    if (!(header & 1)) continue;  // a free slot's link word
    Handle h = header >> 1;
    std::atomic<uint64_t>& slot = handles_.slot(h);
    uint32_t size = SlotValue::size(slot.load(std::memory_order_relaxed));
    uint32_t dobj = dst.free_head;
    size_t dst_off = size_t{dobj} * sc.size;
    dst.free_head = static_cast<uint16_t>(*dst.word_at(dst_off) >> 1);
    zspage_copy(dst, dst_off, src, src_off, kObjHeaderSize + size);  // header moves along
    slot.store(SlotValue::encode(d, dobj, size), std::memory_order_release);
    *src.word_at(src_off) = uint64_t{src.free_head} << 1;
    src.free_head = static_cast<uint16_t>(obj);
    set_inuse(cs, sc, d, dst.inuse + 1u);
    set_inuse(cs, sc, s, src.inuse - 1u);
    ++moved;
    bytes += kObjHeaderSize + size;
  }
  UZ_COUNT_N(pool_compact_objects_moved, moved);
  UZ_COUNT_N(pool_compact_bytes_moved, bytes);
}

}  // namespace uzswap::pool
