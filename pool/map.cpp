// pool/map.cpp — map/unmap, object_size and the copy helpers.
//
// Data layout: t_maps, this thread's table of at most Pool::kMaxMapped live mappings
// (pool, handle, zspage, payload offset and length, mode, straddle flag). A mapping holds
// its zspage's lock shared from map() to unmap(): the object cannot move meanwhile.
//
// Straddle buffers: an object whose payload crosses a backing-page boundary is assembled
// in a per-thread buffer (one 4 KiB buffer per mapping slot) and, for the Write modes,
// copied back at unmap() while the shared lock is still held. The buffers come from one
// process-wide mmap'd region of kMaxThreads * 8 KiB, never from malloc: a thread claims
// an index in g_buffer_bits on its first straddling map and gives it back (contents
// discarded) from a pthread key destructor when it exits.
#include <atomic>
#include <cstring>
#include <pthread.h>

#include "common/counters.h"
#include "pool/os_memory.h"
#include "pool/pool_impl.h"

namespace uzswap::pool {
namespace {

constexpr size_t kMaxThreads = 4096;
constexpr size_t kBufferBytes = kPageSize * Pool::kMaxMapped;

struct MapEntry {
  PoolImpl* pool;   // nullptr: slot unused
  Handle handle;
  Zspage* zspage;
  uint32_t offset;  // payload offset in zspage space
  uint32_t len;     // payload bytes
  MapMode mode;
  bool straddle;
};

struct ThreadMaps {
  MapEntry entry[Pool::kMaxMapped];
  int buffer_index;  // -1: none claimed yet
};
thread_local ThreadMaps t_maps = {{}, -1};

struct BufferRegion {
  char* base = nullptr;
  pthread_key_t key{};
  std::atomic<uint64_t> bits[kMaxThreads / 64] = {};
};

BufferRegion& buffer_region();

void release_buffer(void* arg) {
  // pthread destructor: arg is buffer_index + 1 (never nullptr for a claimed buffer).
  size_t index = reinterpret_cast<uintptr_t>(arg) - 1;
  BufferRegion& r = buffer_region();
  os_discard(r.base + index * kBufferBytes, kBufferBytes);
  r.bits[index / 64].fetch_and(~(uint64_t{1} << (index % 64)), std::memory_order_release);
}

BufferRegion g_region;
pthread_once_t g_region_once = PTHREAD_ONCE_INIT;

void init_region() {
  g_region.base = static_cast<char*>(os_map(kMaxThreads * kBufferBytes, true));
  pthread_key_create(&g_region.key, release_buffer);
}

BufferRegion& buffer_region() {
  pthread_once(&g_region_once, init_region);  // one-time, no malloc
  return g_region;
}

char* claim_buffer() {
  BufferRegion& r = buffer_region();
  if (!r.base) return nullptr;
  for (size_t w = 0; w < kMaxThreads / 64; ++w) {
    uint64_t bits = r.bits[w].load(std::memory_order_relaxed);
    while (bits != ~uint64_t{0}) {
      size_t bit = static_cast<size_t>(__builtin_ctzll(~bits));
      if (r.bits[w].compare_exchange_weak(bits, bits | uint64_t{1} << bit, std::memory_order_acquire)) {
        size_t index = w * 64 + bit;
        t_maps.buffer_index = static_cast<int>(index);
        pthread_setspecific(r.key, reinterpret_cast<void*>(index + 1));
        return r.base + index * kBufferBytes;
      }
    }
  }
  return nullptr;
}

char* thread_buffer(int slot) {
  char* base;
  if (t_maps.buffer_index >= 0)
    base = buffer_region().base + static_cast<size_t>(t_maps.buffer_index) * kBufferBytes;
  else
    base = claim_buffer();
  return base ? base + static_cast<size_t>(slot) * kPageSize : nullptr;
}

}  // namespace

void* PoolImpl::map(Handle h, MapMode mode) {
  if (!handles_.in_range(h)) {
    UZ_COUNT(pool_handle_invalid);
    return nullptr;
  }
  int e = 0;
  while (e < kMaxMapped && t_maps.entry[e].pool) ++e;
  if (e == kMaxMapped) {
    UZ_COUNT(pool_map_fail);
    return nullptr;
  }
  std::atomic<uint64_t>& slot = handles_.slot(h);
  uint64_t v;
  Zspage* zs;
  for (;;) {
    v = slot.load(std::memory_order_acquire);
    if (!SlotValue::live(v)) {
      UZ_COUNT(pool_handle_invalid);
      return nullptr;
    }
    zs = &zspages_.at(SlotValue::zspage(v));
    zs->lock.read_lock();
    if (slot.load(std::memory_order_acquire) == v) break;
    zs->lock.read_unlock();  // moved (or freed) between the load and the lock: retry
  }
  uint32_t size = SlotValue::size(v);
  const SizeClass& sc = classes_.at(classes_.class_for(size));
  size_t off = ClassTable::payload_offset(sc, SlotValue::obj(v));
  size_t in_page = off % kPageSize;
  void* ptr;
  bool straddle = in_page + size > kPageSize;
  if (!straddle) {
    ptr = zs->pages[off / kPageSize] + in_page;
  } else {
    char* buf = thread_buffer(e);
    if (!buf) {
      zs->lock.read_unlock();
      UZ_COUNT(pool_map_fail);
      return nullptr;
    }
    if (mode != MapMode::WriteOnly) zs->copy_out(off, buf, size);
    ptr = buf;
    UZ_COUNT(pool_map_straddle);
  }
  t_maps.entry[e] = MapEntry{this, h, zs, static_cast<uint32_t>(off), size, mode, straddle};
  return ptr;
}

void PoolImpl::unmap(Handle h) {
  for (int e = kMaxMapped - 1; e >= 0; --e) {
    MapEntry& m = t_maps.entry[e];
    if (m.pool != this || m.handle != h) continue;
    if (m.straddle && m.mode != MapMode::ReadOnly) m.zspage->copy_in(m.offset, thread_buffer(e), m.len);
    m.zspage->lock.read_unlock();
    m.pool = nullptr;
    return;
  }
  UZ_COUNT(pool_handle_invalid);
}

size_t PoolImpl::object_size(Handle h) {
  if (!handles_.in_range(h)) return 0;
  uint64_t v = handles_.slot(h).load(std::memory_order_acquire);
  return SlotValue::live(v) ? SlotValue::size(v) : 0;
}

void PoolImpl::write(Handle h, const void* src, size_t len) {
  size_t size = object_size(h);
  len = len < size ? len : size;
  void* p = map(h, len == size ? MapMode::WriteOnly : MapMode::ReadWrite);
  if (!p) return;
  memcpy(p, src, len);
  unmap(h);
}

void PoolImpl::read(Handle h, void* dst, size_t len) {
  void* p = map(h, MapMode::ReadOnly);
  if (!p) return;
  size_t size = object_size(h);
  memcpy(dst, p, len < size ? len : size);
  unmap(h);
}

}  // namespace uzswap::pool
