// pool/pool.h — the zsmalloc-style pool of compressed objects: public API.
//
// A Pool stores objects of 1..kPageSize bytes in size classes of 16-byte granularity,
// packed into zspages of 1..N chained 4 KiB backing pages (not assumed contiguous). A
// Handle names one object for its whole life, across compaction (object moves to another
// zspage) and backing-page migration (a backing page's contents move to another page).
//
// Thread safety: every method may be called from any thread at any time, concurrently
// with every other, including compact() and migrate_*(). The lock order and the states
// are documented at the top of pool/pool.cpp.
//
// Memory: backing pages and all metadata come from the PageProvider (memory the pool
// reserves for itself with mmap and never hands to userfaultfd). The pool never calls
// malloc after construction, so it may serve a fault handler. pool_owns_address() in
// pool/os_memory.h tells whether an address lies in memory the pool mapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace uzswap::pool {

inline constexpr size_t kPageSize = 4096;

// Opaque, never 0 for a live object.
using Handle = uint64_t;
inline constexpr Handle kNoHandle = 0;

enum class MapMode : uint8_t {
  ReadOnly,   // contents read; nothing written back
  WriteOnly,  // contents will be overwritten entirely; need not be read first
  ReadWrite,
};

enum class AllocError : uint8_t {
  None,
  TooLarge,  // size 0 or > kPageSize
  Limit,     // the pool's hard limit would be exceeded
  NoMemory,  // the OS refused a backing page
};

class PageProvider;  // pool/page_provider.h

struct PoolConfig {
  size_t limit_bytes = 0;           // hard cap on backing bytes; 0 = none
  bool migration = true;            // backing-page migration support enabled
  double auto_compact_ratio = 0.0;  // compact automatically once used/backing < this; 0 = off
  PageProvider* provider = nullptr; // nullptr: the default mmap-backed provider
};

// One row of the kernel's /sys/kernel/debug/zsmalloc/<pool>/classes.
struct ClassStats {
  uint32_t index;            // class index
  uint32_t size;             // object size of the class, bytes
  uint64_t almost_full;      // zspages with 3/4 max < inuse < max (kernel's ZS_ALMOST_FULL)
  uint64_t almost_empty;     // zspages with 0 < inuse <= 3/4 max (kernel's ZS_ALMOST_EMPTY)
  uint64_t obj_allocated;    // object slots in this class's zspages (used + free)
  uint64_t obj_used;         // live objects
  uint64_t pages_used;       // backing pages held by this class
  uint32_t pages_per_zspage; // backing pages in one zspage of this class
  uint64_t freeable;         // backing pages compaction could release now (zs_can_compact)
};

struct PoolStats {
  uint64_t objects;          // live objects
  uint64_t object_bytes;     // sum of the requested sizes of live objects
  uint64_t backing_pages;    // backing pages held by zspages
  uint64_t metadata_bytes;   // descriptors, handle table and other pool metadata, resident
  uint64_t provider_bytes;   // bytes the page provider holds from the OS (>= backing)
  uint64_t limit_bytes;      // the hard limit, 0 = none
  uint64_t zspages;          // live zspages
  uint64_t isolated_pages;   // backing pages currently isolated for migration
};

class Pool {
 public:
  virtual ~Pool() = default;
  // Never throws; nullptr with a logged reason if the pool cannot reserve its memory.
  static std::unique_ptr<Pool> create(const PoolConfig& config);

  // kNoHandle on failure, with the reason in *error when given.
  virtual Handle alloc(size_t size, AllocError* error = nullptr) = 0;
  virtual void free(Handle handle) = 0;

  // A pointer to the object's bytes, valid until unmap(handle) on the same thread. While
  // mapped the object does not move. A thread holds at most kMaxMapped mappings at once;
  // a straddling object is assembled in (and, for Write modes, written back from) a
  // per-thread buffer.
  static constexpr int kMaxMapped = 2;
  virtual void* map(Handle handle, MapMode mode) = 0;
  virtual void unmap(Handle handle) = 0;

  // The size given to alloc().
  virtual size_t object_size(Handle handle) = 0;

  // Copy helpers (map + memcpy + unmap).
  virtual void write(Handle handle, const void* src, size_t len) = 0;
  virtual void read(Handle handle, void* dst, size_t len) = 0;

  // Moves objects from sparse zspages into fuller ones of the same class and frees the
  // emptied zspages. Returns the number of backing pages released.
  virtual size_t compact() = 0;

  // Backing-page migration (the kernel's isolate / migrate / putback). `page` is the
  // address of one backing page of a live zspage (see walk_backing_pages).
  virtual bool isolate_page(void* page) = 0;     // false: not a pool page, or busy
  virtual bool migrate_page(void* page) = 0;     // isolated page -> a fresh backing page
  virtual void putback_page(void* page) = 0;     // give up on an isolated page
  // Migrates backing pages so that the pool occupies as few provider chunks as possible,
  // then returns empty chunks to the OS. Returns chunks released.
  virtual size_t pack_chunks() = 0;

  // Calls fn for every live object (handle, size). The pool is not locked as a whole;
  // objects allocated or freed during the walk may or may not be seen.
  virtual void walk_objects(const std::function<void(Handle, size_t)>& fn) = 0;
  // Calls fn for the address of every backing page held by a zspage.
  virtual void walk_backing_pages(const std::function<void(void*)>& fn) = 0;

  virtual PoolStats stats() = 0;
  virtual size_t num_classes() = 0;
  virtual ClassStats class_stats(size_t class_index) = 0;
  // Bytes the pool costs the process: backing pages + metadata (the footprint share).
  virtual size_t footprint_bytes() = 0;
  virtual void set_limit(size_t limit_bytes) = 0;

  // In a fork child, single-threaded, before any other call: every lock of the pool
  // becomes free (a lock copied while a thread of the parent held it would stay held:
  // a stats walk holds a class lock, a mapping holds its zspage's lock shared). Only
  // sound if no pool edit was in progress at the fork; the engine defers its frees while
  // a fork may happen (uffd/engine_fork.cpp) and allocates only in reclaim rounds (reclaim
  // threads, and fault handlers assisting under pressure), which a fork pauses.
  virtual void reset_locks_after_fork() = 0;
};

}  // namespace uzswap::pool
