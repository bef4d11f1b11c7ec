// pool/page_provider.h — where the pool's backing pages come from.
//
// A PageProvider hands out 4 KiB backing pages from memory the pool reserves for itself
// (never registered with userfaultfd) and takes them back. The default provider reserves
// one large PROT_NONE range and commits it in 2 MiB chunks; a freed page is discarded
// (MADV_DONTNEED, so RSS falls at once) and a chunk whose last page is freed is returned
// to the OS. Every page carries an owner tag (the pool stores the zspage descriptor index
// there) so that a page address leads back to its zspage for migration.
//
// The interface exists so that tests can inject failures (an OS that refuses memory);
// implementations must be thread-safe and must not call malloc after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace uzswap::pool {

struct ProviderStats {
  uint64_t pages_used;       // pages handed out and not yet freed
  uint64_t chunks_mapped;    // 2 MiB chunks committed (readable/writable) right now
  uint64_t chunks_released;  // chunks returned to the OS since creation
  uint64_t metadata_bytes;   // the provider's own bookkeeping, touched part
};

class PageProvider {
 public:
  static constexpr size_t kChunkSize = size_t{2} << 20;
  static constexpr size_t kPagesPerChunk = kChunkSize / 4096;

  virtual ~PageProvider() = default;
  // A page (contents unspecified), preferring the fullest chunk that has room; nullptr
  // when the OS refuses memory or the reservation is exhausted.
  virtual void* alloc_page() = 0;
  // A page in a chunk strictly denser than the chunk of `page` (more pages used, or as
  // many and a lower index); nullptr if there is none. Used to pack pages into fewer chunks.
  virtual void* alloc_page_denser_than(const void* page) = 0;
  // Discards the page's contents and takes it back; its owner tag becomes 0.
  virtual void free_page(void* page) = 0;

  virtual void set_owner(void* page, uint32_t owner) = 0;
  // The tag set by set_owner(); 0 if unset or `page` is not a page of this provider.
  virtual uint32_t owner(const void* page) const = 0;

  // Chunks are numbered 0..chunk_limit()-1 (higher ones have never been committed).
  virtual size_t chunk_limit() const = 0;
  virtual size_t chunk_used(size_t chunk) const = 0;  // pages in use in the chunk
  // Writes the addresses of the pages in use in `chunk` to out (room for kPagesPerChunk);
  // returns how many.
  virtual size_t chunk_pages(size_t chunk, void** out) const = 0;

  virtual ProviderStats stats() const = 0;
  // In a fork child, single-threaded: the provider's locks become free (Pool's own).
  virtual void reset_locks_after_fork() = 0;
};

// The default provider over a reservation of `reserve_bytes` of address space (rounded
// to chunks). nullptr if the reservation fails.
std::unique_ptr<PageProvider> make_mmap_provider(size_t reserve_bytes = size_t{64} << 30);

}  // namespace uzswap::pool
