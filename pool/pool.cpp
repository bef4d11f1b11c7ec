// pool/pool.cpp — the zsmalloc-style pool: creation, alloc/free, zspage lifecycle.
//
// Data layout
//   ClassTable classes_      immutable size classes (size_class.h)
//   ClassState class_state_  per class: lock, zspage lists by FullnessGroup, accounting
//   ZspageTable zspages_     type-stable zspage descriptors (zspage.h)
//   HandleTable handles_     handle -> Live slot {zspage, object, size} (handle_table.h)
//   PageProvider provider_   backing pages, owner tag per page -> zspage (page_provider.h)
//   Objects live in zspage space; an allocated slot's first word is its handle (so
//   compaction can find the handle), the object's size is in its handle slot.
//
// States: handle slots Free/Reserved/Live (handle_table.h); zspages Free/Building/Live
// and their FullnessGroup (zspage.h); backing pages Normal/Isolated (zspage.h); chunks
// Reserved/Committed (page_provider.cpp).
//
// Locking (in nested order):
//   class lock (ClassState::lock, a mutex)   alloc, free, compaction, migration,
//                                            per-class stats, walks
//   zspage lock (ZspageLock)                 shared: map() until unmap();
//                                            exclusive: compaction moves, migration copy
//   leaf locks                               HandleTable and ZspageTable free lists,
//                                            the provider's mutex
// map() takes only the zspage lock, shared, never the class lock. Writers take zspage
// locks only with try_write_lock() while holding the class lock and skip busy zspages,
// so a mapper that holds one mapping and maps a second object can never deadlock with
// a mover. Compaction holds two zspage locks (source and destination) at once; both are
// of the locked class and taken by try, so no order among zspage locks is needed.
//
// Reaching an object without its class lock (map): load the handle slot, lock the
// descriptor it names shared, then reload the slot. Objects move only under the
// exclusive zspage lock, so an unchanged slot means the object is there and stays there
// until unmap. A stale slot may name a descriptor that was freed and recycled meanwhile:
// descriptors are type-stable (never unmapped, their lock word never reinitialised), so
// locking it is harmless, and the reload fails. This is the SLAB_TYPESAFE_BY_RCU pattern;
// it replaces RCU-deferred freeing of descriptors (shared/seeds/001).
//
// Reaching an object with its class lock (free): the class is a function of the object
// size, which is in the slot and fixed for the object's life, so free() locks the class
// first and then re-reads the slot; every slot rewrite happens under that class lock.
//
// Nothing here calls malloc after Pool::create(): descriptors, slots and pages come from
// mmap'd memory, straddle buffers from a per-process mmap'd region (map.cpp).
#include <algorithm>
#include <new>

#include "common/counters.h"
#include "common/log.h"
#include "pool/pool_impl.h"

namespace uzswap::pool {
namespace {

constexpr size_t kMaxHandles = size_t{1} << 26;   // 64 Mi live objects, 512 MiB of address space
constexpr size_t kMaxZspages = size_t{1} << 21;   // 2 Mi zspages, >= 8 GiB of backing pages
constexpr uint64_t kAutoCompactEvery = 256;       // frees between two threshold checks
constexpr uint64_t kAutoCompactMinPages = 64;     // pools smaller than this never auto-compact

void account_almost(ClassState& cs, uint32_t inuse, uint32_t max, int64_t delta) {
  if (inuse == 0 || inuse >= max) return;
  if (inuse * 4 > max * 3)
    cs.almost_full += delta;
  else
    cs.almost_empty += delta;
}

}  // namespace

std::unique_ptr<Pool> Pool::create(const PoolConfig& config) {
  std::unique_ptr<PoolImpl> pool(new (std::nothrow) PoolImpl());
  if (!pool || !pool->init(config)) {
    UZ_WARN("pool: cannot reserve the pool's memory");
    return nullptr;
  }
  return pool;
}

bool PoolImpl::init(const PoolConfig& config) {
  config_ = config;
  provider_ = config.provider;
  if (!provider_) {
    owned_provider_ = make_mmap_provider();
    provider_ = owned_provider_.get();
  }
  if (!provider_ || !handles_.init(kMaxHandles) || !zspages_.init(kMaxZspages)) return false;
  set_limit(config.limit_bytes);
  return true;
}

PoolImpl::~PoolImpl() {
  // Give every backing page back, so that an injected provider is left empty. An owned
  // provider unmaps its whole reservation when it goes, one call instead of one a page.
  if (!provider_ || owned_provider_) return;
  for (uint32_t zi = 1; zi < zspages_.high_water(); ++zi) {
    Zspage& zs = zspages_.at(zi);
    if (zs.state() != ZspageState::Live) continue;
    for (int i = 0; i < zs.npages; ++i) provider_->free_page(zs.pages[i]);
  }
}

void PoolImpl::set_limit(size_t limit_bytes) {
  uint64_t pages = limit_bytes / kPageSize;
  if (limit_bytes > 0 && pages == 0) pages = 1;
  limit_pages_.store(pages, std::memory_order_relaxed);
}

void PoolImpl::reset_locks_after_fork() {
  for (ClassState& cs : class_state_) new (&cs.lock) std::mutex();
  zspages_.reset_locks_after_fork();
  handles_.reset_locks_after_fork();
  provider_->reset_locks_after_fork();
}

Handle PoolImpl::alloc(size_t size, AllocError* error) {
  if (size == 0 || size > kPageSize) {
    if (error) *error = AllocError::TooLarge;
    UZ_COUNT(pool_alloc_fail_size);
    return kNoHandle;
  }
  uint16_t ci = classes_.class_for(size);
  const SizeClass& sc = classes_.at(ci);
  ClassState& cs = class_state_[ci];
  Handle h = handles_.alloc_slot();
  if (h == kNoHandle) {
    if (error) *error = AllocError::NoMemory;
    UZ_COUNT(pool_alloc_fail_nomem);
    return kNoHandle;
  }
  {
    std::unique_lock lk(cs.lock);
    uint32_t zi = alloc_target(cs);
    if (zi == 0) {
      // Build outside the class lock (provider calls may mmap). Another thread may build
      // one too meanwhile; both zspages go on the lists, nothing is lost.
      lk.unlock();
      zi = build_zspage(ci, error);
      if (zi == 0) {
        handles_.free_slot(h);
        return kNoHandle;
      }
      lk.lock();
      zspages_.at(zi).ident.store(Zspage::make_ident(ZspageState::Live, ci), std::memory_order_release);
      ++cs.zspages;
      live_zspages_.fetch_add(1, std::memory_order_relaxed);
      list_insert(cs, zi);
    }
    place_object(cs, sc, zi, h, size);
  }
  objects_.fetch_add(1, std::memory_order_relaxed);
  object_bytes_.fetch_add(size, std::memory_order_relaxed);
  UZ_COUNT(pool_alloc);
  if (error) *error = AllocError::None;
  return h;
}

void PoolImpl::free(Handle h) {
  if (!handles_.in_range(h)) {
    UZ_COUNT(pool_handle_invalid);
    return;
  }
  std::atomic<uint64_t>& slot = handles_.slot(h);
  uint64_t v = slot.load(std::memory_order_acquire);
  if (!SlotValue::live(v)) {
    UZ_COUNT(pool_handle_invalid);
    UZ_WARN("pool: free of handle %lu that names no live object", static_cast<unsigned long>(h));
    return;
  }
  uint16_t ci = classes_.class_for(SlotValue::size(v));
  const SizeClass& sc = classes_.at(ci);
  ClassState& cs = class_state_[ci];
  char* pages[kMaxPagesPerZspage];
  size_t npages = 0;
  uint32_t retired = 0;
  {
    std::lock_guard lk(cs.lock);
    v = slot.load(std::memory_order_relaxed);
    // A concurrent free of the same handle (a caller bug) may have won; refuse quietly.
    if (!SlotValue::live(v) || classes_.class_for(SlotValue::size(v)) != ci) {
      UZ_COUNT(pool_handle_invalid);
      return;
    }
    uint32_t zi = SlotValue::zspage(v);
    release_object(cs, sc, zi, SlotValue::obj(v));
    slot.store(SlotValue::kReservedBit, std::memory_order_release);
    --cs.obj_used;
    // Keep one empty zspage per class (set_inuse just put it at the head of the Empty
    // list; alloc_target takes it when no partly used zspage is left): a class at an
    // exact zspage boundary would otherwise build and free a zspage on every alloc/free
    // pair. A second empty one is freed at once; compact() frees the kept one.
    if (zspages_.at(zi).inuse == 0 && zspages_.at(zi).next != 0) {
      retire_zspage(cs, sc, zi, pages, &npages);
      retired = zi;
    }
  }
  if (retired) finish_free_zspage(retired, pages, npages);
  handles_.free_slot(h);
  objects_.fetch_sub(1, std::memory_order_relaxed);
  object_bytes_.fetch_sub(SlotValue::size(v), std::memory_order_relaxed);
  UZ_COUNT(pool_free);
  maybe_auto_compact();
}

bool PoolImpl::reserve_backing(size_t pages, AllocError* error) {
  uint64_t cur = backing_pages_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t limit = limit_pages_.load(std::memory_order_relaxed);
    if (limit != 0 && cur + pages > limit) {
      if (error) *error = AllocError::Limit;
      UZ_COUNT(pool_alloc_fail_limit);
      return false;
    }
    if (backing_pages_.compare_exchange_weak(cur, cur + pages, std::memory_order_relaxed)) return true;
  }
}

uint32_t PoolImpl::build_zspage(uint16_t ci, AllocError* error) {
  const SizeClass& sc = classes_.at(ci);
  size_t n = sc.pages_per_zspage;
  if (!reserve_backing(n, error)) return 0;
  char* pages[kMaxPagesPerZspage];
  size_t got = 0;
  for (; got < n; ++got) {
    pages[got] = static_cast<char*>(provider_->alloc_page());
    if (!pages[got]) break;
  }
  uint32_t zi = got == n ? zspages_.alloc(ci) : 0;
  if (zi == 0) {
    for (size_t i = 0; i < got; ++i) provider_->free_page(pages[i]);
    backing_pages_.fetch_sub(n, std::memory_order_relaxed);
    if (error) *error = AllocError::NoMemory;
    UZ_COUNT(pool_alloc_fail_nomem);
    return 0;
  }
  // State Building: unreachable from handles and rejected by isolate_page(), so no lock.
  Zspage& zs = zspages_.at(zi);
  zs.fullness = FullnessGroup::Empty;
  zs.npages = static_cast<uint8_t>(n);
  zs.inuse = 0;
  zs.free_head = 0;
  zs.isolated = 0;
  zs.prev = zs.next = 0;
  zs.huge_handle = kNoHandle;
  for (size_t i = 0; i < kMaxPagesPerZspage; ++i) {
    zs.page_state[i] = BackingPageState::Normal;
    zs.pages[i] = i < n ? pages[i] : nullptr;
  }
  if (!sc.huge) {
    for (uint32_t obj = 0; obj < sc.objs_per_zspage; ++obj) {
      uint32_t next = obj + 1 < sc.objs_per_zspage ? obj + 1 : kNoObj;
      *zs.word_at(size_t{obj} * sc.size) = uint64_t{next} << 1;
    }
  }
  for (size_t i = 0; i < n; ++i) provider_->set_owner(pages[i], zi);
  UZ_COUNT(pool_zspage_created);
  return zi;
}

uint32_t PoolImpl::alloc_target(ClassState& cs) {
  // The fullest non-full zspage: keeps sparse zspages sparse so they empty out.
  for (size_t g = static_cast<size_t>(FullnessGroup::Under100);; --g) {
    if (cs.list[g]) return cs.list[g];
    if (g == static_cast<size_t>(FullnessGroup::Empty)) return 0;
  }
}

void PoolImpl::place_object(ClassState& cs, const SizeClass& sc, uint32_t zi, Handle h, size_t size) {
  Zspage& zs = zspages_.at(zi);
  uint32_t obj = zs.free_head;
  if (sc.huge) {
    zs.free_head = kNoObj;
    zs.huge_handle = h;
  } else {
    uint64_t* word = zs.word_at(size_t{obj} * sc.size);
    zs.free_head = static_cast<uint16_t>(*word >> 1);
    *word = h << 1 | 1;
  }
  set_inuse(cs, sc, zi, zs.inuse + 1u);
  ++cs.obj_used;
  handles_.slot(h).store(SlotValue::encode(zi, obj, static_cast<uint32_t>(size)), std::memory_order_release);
}

void PoolImpl::release_object(ClassState& cs, const SizeClass& sc, uint32_t zi, uint32_t obj) {
  Zspage& zs = zspages_.at(zi);
  if (sc.huge) {
    zs.free_head = 0;
    zs.huge_handle = kNoHandle;
  } else {
    *zs.word_at(size_t{obj} * sc.size) = uint64_t{zs.free_head} << 1;
    zs.free_head = static_cast<uint16_t>(obj);
  }
  set_inuse(cs, sc, zi, zs.inuse - 1u);
}

void PoolImpl::set_inuse(ClassState& cs, const SizeClass& sc, uint32_t zi, uint32_t inuse) {
  Zspage& zs = zspages_.at(zi);
  account_almost(cs, zs.inuse, sc.objs_per_zspage, -1);
  account_almost(cs, inuse, sc.objs_per_zspage, +1);
  zs.inuse = static_cast<uint16_t>(inuse);
  FullnessGroup g = fullness_for(inuse, sc.objs_per_zspage);
  if (g == zs.fullness) return;
  list_remove(cs, zi);
  zs.fullness = g;
  list_insert(cs, zi);
}

void PoolImpl::list_insert(ClassState& cs, uint32_t zi) {
  Zspage& zs = zspages_.at(zi);
  uint32_t& head = cs.list[static_cast<size_t>(zs.fullness)];
  zs.prev = 0;
  zs.next = head;
  if (head) zspages_.at(head).prev = zi;
  head = zi;
}

void PoolImpl::list_remove(ClassState& cs, uint32_t zi) {
  Zspage& zs = zspages_.at(zi);
  if (zs.prev)
    zspages_.at(zs.prev).next = zs.next;
  else
    cs.list[static_cast<size_t>(zs.fullness)] = zs.next;
  if (zs.next) zspages_.at(zs.next).prev = zs.prev;
  zs.prev = zs.next = 0;
}

void PoolImpl::retire_zspage(ClassState& cs, const SizeClass& sc, uint32_t zi, char** pages, size_t* npages) {
  Zspage& zs = zspages_.at(zi);
  list_remove(cs, zi);
  --cs.zspages;
  live_zspages_.fetch_sub(1, std::memory_order_relaxed);
  // Isolated pages of a dying zspage are dropped: migrate/putback will find them ownerless.
  if (zs.isolated) isolated_pages_.fetch_sub(zs.isolated, std::memory_order_relaxed);
  zs.isolated = 0;
  *npages = zs.npages;
  for (int i = 0; i < zs.npages; ++i) {
    pages[i] = zs.pages[i];
    zs.page_state[i] = BackingPageState::Normal;
  }
  zs.ident.store(Zspage::make_ident(ZspageState::Free, sc.index), std::memory_order_release);
}

void PoolImpl::finish_free_zspage(uint32_t zi, char** pages, size_t npages) {
  for (size_t i = 0; i < npages; ++i) provider_->free_page(pages[i]);
  zspages_.free(zi);
  backing_pages_.fetch_sub(npages, std::memory_order_relaxed);
  UZ_COUNT(pool_zspage_freed);
}

void PoolImpl::maybe_auto_compact() {
  double ratio = config_.auto_compact_ratio;
  if (ratio <= 0) return;
  if (frees_since_auto_.fetch_add(1, std::memory_order_relaxed) + 1 < kAutoCompactEvery) return;
  uint64_t backing = backing_pages_.load(std::memory_order_relaxed);
  if (backing < kAutoCompactMinPages) return;
  double live = static_cast<double>(object_bytes_.load(std::memory_order_relaxed));
  if (live >= ratio * static_cast<double>(backing * kPageSize)) return;
  if (auto_compacting_.exchange(true, std::memory_order_acquire)) return;
  frees_since_auto_.store(0, std::memory_order_relaxed);
  UZ_COUNT(pool_compact_auto);
  compact();
  auto_compacting_.store(false, std::memory_order_release);
}

}  // namespace uzswap::pool
