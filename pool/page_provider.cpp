// pool/page_provider.cpp — the default mmap-backed PageProvider.
//
// Data layout: base_ .. base_ + nchunks_ * kChunkSize is one PROT_NONE reservation made at
// construction; chunk i covers [base_ + i * kChunkSize, +kChunkSize). meta_ (a separate
// NORESERVE mapping, touched lazily) holds one ChunkMeta per chunk: its state, a bitmap of
// pages in use, the count, and the owner tag of each page.
//
// States of a chunk (ChunkState): Reserved --commit on alloc--> Committed --last page
// freed--> Reserved (decommitted: PROT_NONE again, memory back to the OS).
//
// Locking: mu_ guards states, bitmaps, counts and hint_. It is a leaf lock: nothing else
// is taken under it. Owner tags are atomics, written by the pool under its own locks and
// read without mu_. free_page discards the page (MADV_DONTNEED) *before* taking mu_ and
// clearing its bit: until the bit clears nobody else can be handed the page, so the
// discard never wipes a page that has a new owner.
#include "pool/page_provider.h"

#include <atomic>
#include <mutex>
#include <new>

#include "common/counters.h"
#include "pool/os_memory.h"
#include "pool/pool.h"

namespace uzswap::pool {
namespace {

enum class ChunkState : uint8_t { Reserved, Committed };

struct ChunkMeta {
  ChunkState state;
  uint32_t used;
  uint64_t bitmap[PageProvider::kPagesPerChunk / 64];
  std::atomic<uint32_t> owner[PageProvider::kPagesPerChunk];
};

class MmapProvider final : public PageProvider {
 public:
  ~MmapProvider() override {
    os_unmap(reservation_, reservation_len_);
    os_unmap(meta_, meta_len_);
  }

  bool init(size_t reserve_bytes) {
    nchunks_ = reserve_bytes / kChunkSize;
    if (nchunks_ == 0) nchunks_ = 1;
    reservation_len_ = (nchunks_ + 1) * kChunkSize;  // one extra chunk to align the base
    reservation_ = os_map(reservation_len_, false);
    if (!reservation_) return false;
    uintptr_t raw = reinterpret_cast<uintptr_t>(reservation_);
    base_ = reinterpret_cast<char*>((raw + kChunkSize - 1) & ~(kChunkSize - 1));
    meta_len_ = (nchunks_ * sizeof(ChunkMeta) + kPageSize - 1) & ~(kPageSize - 1);
    meta_ = static_cast<ChunkMeta*>(os_map(meta_len_, true));
    return meta_ != nullptr;  // zero-filled: every chunk Reserved, empty, unowned
  }

  void* alloc_page() override {
    std::lock_guard lk(mu_);
    long c = fullest_open_chunk(-1);
    if (c < 0) c = commit_new_chunk();
    if (c < 0) return nullptr;
    hint_ = c;
    return take_page(static_cast<size_t>(c));
  }

  void* alloc_page_denser_than(const void* page) override {
    long src = chunk_of(page);
    if (src < 0) return nullptr;
    std::lock_guard lk(mu_);
    long c = fullest_open_chunk(src);
    if (c < 0) return nullptr;
    return take_page(static_cast<size_t>(c));
  }

  void free_page(void* page) override {
    long c = chunk_of(page);
    if (c < 0) return;
    size_t i = page_index(page);
    meta_[c].owner[i].store(0, std::memory_order_release);
    os_discard(page, kPageSize);
    std::lock_guard lk(mu_);
    ChunkMeta& m = meta_[c];
    m.bitmap[i / 64] &= ~(uint64_t{1} << (i % 64));
    --m.used;
    pages_used_.fetch_sub(1, std::memory_order_relaxed);
    if (m.used == 0) release_chunk(static_cast<size_t>(c));
  }

  void set_owner(void* page, uint32_t owner) override {
    long c = chunk_of(page);
    if (c >= 0) meta_[c].owner[page_index(page)].store(owner, std::memory_order_release);
  }

  uint32_t owner(const void* page) const override {
    long c = chunk_of(page);
    if (c < 0) return 0;
    return meta_[c].owner[page_index(page)].load(std::memory_order_acquire);
  }

  size_t chunk_limit() const override { return limit_.load(std::memory_order_acquire); }

  size_t chunk_used(size_t chunk) const override {
    if (chunk >= nchunks_) return 0;
    std::lock_guard lk(mu_);
    return meta_[chunk].used;
  }

  size_t chunk_pages(size_t chunk, void** out) const override {
    if (chunk >= nchunks_) return 0;
    std::lock_guard lk(mu_);
    const ChunkMeta& m = meta_[chunk];
    size_t n = 0;
    for (size_t i = 0; i < kPagesPerChunk; ++i)
      if (m.bitmap[i / 64] & (uint64_t{1} << (i % 64))) out[n++] = page_address(chunk, i);
    return n;
  }

  void reset_locks_after_fork() override { new (&mu_) std::mutex(); }

  ProviderStats stats() const override {
    ProviderStats s{};
    s.pages_used = pages_used_.load(std::memory_order_relaxed);
    s.chunks_mapped = chunks_mapped_.load(std::memory_order_relaxed);
    s.chunks_released = chunks_released_.load(std::memory_order_relaxed);
    s.metadata_bytes = chunk_limit() * sizeof(ChunkMeta);
    return s;
  }

 private:
  long chunk_of(const void* page) const {
    const char* p = static_cast<const char*>(page);
    if (p < base_ || p >= base_ + nchunks_ * kChunkSize) return -1;
    return static_cast<long>((p - base_) / kChunkSize);
  }
  size_t page_index(const void* page) const {
    return (static_cast<const char*>(page) - base_) % kChunkSize / kPageSize;
  }
  void* page_address(size_t chunk, size_t i) const {
    return base_ + chunk * kChunkSize + i * kPageSize;
  }

  // Denser-than order: more pages used, ties broken by the lower index.
  bool denser(size_t a, size_t b) const {
    return meta_[a].used > meta_[b].used || (meta_[a].used == meta_[b].used && a < b);
  }

  // The fullest committed chunk with a free page, denser than `than` when than >= 0.
  long fullest_open_chunk(long than) const {
    if (than < 0 && hint_ >= 0 && meta_[hint_].state == ChunkState::Committed &&
        meta_[hint_].used < kPagesPerChunk && meta_[hint_].used > 0)
      return hint_;
    long best = -1;
    size_t limit = chunk_limit();
    for (size_t c = 0; c < limit; ++c) {
      const ChunkMeta& m = meta_[c];
      if (m.state != ChunkState::Committed || m.used >= kPagesPerChunk) continue;
      if (than >= 0 && (static_cast<long>(c) == than || !denser(c, static_cast<size_t>(than))))
        continue;
      if (best < 0 || denser(c, static_cast<size_t>(best))) best = static_cast<long>(c);
    }
    return best;
  }

  long commit_new_chunk() {
    for (size_t c = 0; c < nchunks_; ++c) {
      if (meta_[c].state != ChunkState::Reserved) continue;
      if (!os_commit(base_ + c * kChunkSize, kChunkSize)) return -1;
      meta_[c].state = ChunkState::Committed;
      chunks_mapped_.fetch_add(1, std::memory_order_relaxed);
      if (c + 1 > limit_.load(std::memory_order_relaxed))
        limit_.store(c + 1, std::memory_order_release);
      return static_cast<long>(c);
    }
    return -1;
  }

  void* take_page(size_t c) {
    ChunkMeta& m = meta_[c];
    for (size_t w = 0; w < kPagesPerChunk / 64; ++w) {
      if (m.bitmap[w] == ~uint64_t{0}) continue;
      size_t bit = static_cast<size_t>(__builtin_ctzll(~m.bitmap[w]));
      m.bitmap[w] |= uint64_t{1} << bit;
      ++m.used;
      pages_used_.fetch_add(1, std::memory_order_relaxed);
      return page_address(c, w * 64 + bit);
    }
    return nullptr;  // unreachable: callers pick chunks with room
  }

  void release_chunk(size_t c) {
    os_decommit(base_ + c * kChunkSize, kChunkSize);
    meta_[c].state = ChunkState::Reserved;
    chunks_mapped_.fetch_sub(1, std::memory_order_relaxed);
    chunks_released_.fetch_add(1, std::memory_order_relaxed);
    UZ_COUNT(pool_chunks_released);
    if (hint_ == static_cast<long>(c)) hint_ = -1;
  }

  void* reservation_ = nullptr;
  size_t reservation_len_ = 0;
  char* base_ = nullptr;
  size_t nchunks_ = 0;
  ChunkMeta* meta_ = nullptr;
  size_t meta_len_ = 0;
  mutable std::mutex mu_;
  long hint_ = -1;                      // chunk of the last alloc_page (mu_)
  std::atomic<size_t> limit_{0};        // 1 + highest chunk ever committed
  std::atomic<uint64_t> pages_used_{0};
  std::atomic<uint64_t> chunks_mapped_{0};
  std::atomic<uint64_t> chunks_released_{0};
};

}  // namespace

std::unique_ptr<PageProvider> make_mmap_provider(size_t reserve_bytes) {
  std::unique_ptr<MmapProvider> p(new (std::nothrow) MmapProvider());
  if (!p || !p->init(reserve_bytes)) return nullptr;
  return p;
}

}  // namespace uzswap::pool
