// pool/migrate.cpp — backing-page migration: isolate / migrate / putback (the kernel's
// movable-page callbacks, shared/seeds/002), and pack_chunks() built on them.
//
// Any backing page of a zspage, head or tail (shared/seeds/000), moves on its own: the
// zspage's pages are not contiguous, so migrating one is copying it and swapping one
// pointer in pages[]. A page leads to its zspage through the provider's owner tag.
//
// BackingPageState: Normal --isolate_page--> Isolated --migrate_page (copied, pointer
// swapped; the new page is Normal)--> gone, or Isolated --putback_page--> Normal.
// A zspage freed while one of its pages is Isolated drops the isolation (the page is
// freed with it); migrate/putback then find it ownerless and do nothing.
//
// Locking: the class lock of the owning zspage (found by reading the descriptor's ident
// unlocked, then re-checked under the lock: a Live zspage cannot leave its class while
// that class lock is held), then the zspage lock exclusive by try for the copy itself.
// A mapped object holds the lock shared, so a page whose zspage has a mapped object is
// refused (pool_migrate_busy) and stays Isolated for a later attempt. Holding the class
// lock keeps alloc/free (which write link and header words into the pages) and
// compaction away from the page during the copy.
#include <cstring>

#include "common/counters.h"
#include "pool/pool_impl.h"

namespace uzswap::pool {
namespace {

constexpr size_t kMaxPackChunks = 32768;  // chunks pack_chunks() considers (64 GiB)

}  // namespace

bool PoolImpl::lock_page_owner(void* page, std::unique_lock<std::mutex>* lk, uint32_t* zi, int* slot) {
  uint32_t z = provider_->owner(page);
  if (!zspages_.in_range(z)) return false;
  Zspage& zs = zspages_.at(z);
  uint32_t ident = zs.ident.load(std::memory_order_acquire);
  if (static_cast<ZspageState>(ident >> 16) != ZspageState::Live) return false;
  uint16_t ci = static_cast<uint16_t>(ident);
  if (ci >= classes_.count()) return false;
  std::unique_lock l(class_state_[ci].lock);
  if (zs.ident.load(std::memory_order_acquire) != Zspage::make_ident(ZspageState::Live, ci)) return false;
  int s = zs.page_slot(page);
  if (s < 0) return false;
  *lk = std::move(l);
  *zi = z;
  *slot = s;
  return true;
}

bool PoolImpl::isolate_page(void* page) {
  if (!config_.migration) return false;
  std::unique_lock<std::mutex> lk;
  uint32_t zi;
  int slot;
  if (!lock_page_owner(page, &lk, &zi, &slot)) return false;
  Zspage& zs = zspages_.at(zi);
  if (zs.page_state[slot] == BackingPageState::Isolated) return false;  // someone else's
  zs.page_state[slot] = BackingPageState::Isolated;
  ++zs.isolated;
  isolated_pages_.fetch_add(1, std::memory_order_relaxed);
  UZ_COUNT(pool_page_isolated);
  return true;
}

bool PoolImpl::migrate_page(void* page) { return migrate_page_to(page, false); }

bool PoolImpl::migrate_page_to(void* page, bool denser_chunk_only) {
  if (!config_.migration) return false;
  std::unique_lock<std::mutex> lk;
  uint32_t zi;
  int slot;
  if (!lock_page_owner(page, &lk, &zi, &slot)) return false;
  Zspage& zs = zspages_.at(zi);
  if (zs.page_state[slot] != BackingPageState::Isolated) return false;
  if (!zs.lock.try_write_lock()) {
    UZ_COUNT(pool_migrate_busy);
    return false;
  }
  void* fresh = denser_chunk_only ? provider_->alloc_page_denser_than(page) : provider_->alloc_page();
  if (!fresh) {
    zs.lock.write_unlock();
    UZ_COUNT(pool_migrate_fail_nomem);
    return false;
  }
  memcpy(fresh, page, kPageSize);
  provider_->set_owner(fresh, zi);
  zs.pages[slot] = static_cast<char*>(fresh);
  zs.page_state[slot] = BackingPageState::Normal;
  --zs.isolated;
  isolated_pages_.fetch_sub(1, std::memory_order_relaxed);
  zs.lock.write_unlock();
  lk.unlock();
  // The old page is unreachable now: pages[] no longer names it, and its owner tag still
  // names zi only until free_page clears it (lock_page_owner then fails page_slot()).
  provider_->free_page(page);
  UZ_COUNT(pool_migrate_pages);
  return true;
}

void PoolImpl::putback_page(void* page) {
  std::unique_lock<std::mutex> lk;
  uint32_t zi;
  int slot;
  if (!lock_page_owner(page, &lk, &zi, &slot)) return;
  Zspage& zs = zspages_.at(zi);
  if (zs.page_state[slot] != BackingPageState::Isolated) return;
  zs.page_state[slot] = BackingPageState::Normal;
  --zs.isolated;
  isolated_pages_.fetch_sub(1, std::memory_order_relaxed);
  UZ_COUNT(pool_page_putback);
}

size_t PoolImpl::pack_chunks() {
  if (!config_.migration) return 0;
  // Drain chunks from the sparsest up into denser ones. Each chunk is tried once per
  // call; we stop when the other chunks have no room left to absorb the next one.
  uint64_t tried[kMaxPackChunks / 64] = {};
  void* pages[PageProvider::kPagesPerChunk];
  size_t released = 0;
  for (;;) {
    size_t limit = provider_->chunk_limit();
    if (limit > kMaxPackChunks) limit = kMaxPackChunks;
    long sparsest = -1;
    size_t sparsest_used = 0, room = 0;
    for (size_t c = 0; c < limit; ++c) {
      size_t used = provider_->chunk_used(c);
      if (used == 0) continue;
      room += PageProvider::kPagesPerChunk - used;
      if (tried[c / 64] & (uint64_t{1} << (c % 64))) continue;
      if (sparsest < 0 || used < sparsest_used) {
        sparsest = static_cast<long>(c);
        sparsest_used = used;
      }
    }
    if (sparsest < 0) break;
    size_t c = static_cast<size_t>(sparsest);
    tried[c / 64] |= uint64_t{1} << (c % 64);
    room -= PageProvider::kPagesPerChunk - sparsest_used;
    if (room < sparsest_used) break;
    size_t n = provider_->chunk_pages(c, pages);
    for (size_t i = 0; i < n; ++i) {
      if (!isolate_page(pages[i])) continue;
      if (!migrate_page_to(pages[i], true)) putback_page(pages[i]);
    }
    if (provider_->chunk_used(c) == 0) ++released;
  }
  return released;
}

}  // namespace uzswap::pool
