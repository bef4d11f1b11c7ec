// preload/own_alloc.cpp — operator new/delete for uzswap's own code, over memory of our
// own instead of glibc's heap.
//
// Why: the coverage scan (coverage.cpp) manages glibc's brk heap and its arenas. An
// object of the engine or the pool living there could be evicted, and the handler thread
// that touches it would fault on itself and wait forever (DESIGN.md problem 2). These
// definitions are local to libuzswap.so (the version script exports none of them), so
// they serve uzswap's code only; the program's own new/delete are untouched.
//
// Data layout: one arena reserved on first use (kArenaBytes of MAP_NORESERVE address
// space, registered in own_ranges()), a bump pointer, and one free list per power-of-two
// size class. Each block starts with a Header; the caller's pointer follows it (aligned as
// asked). A pointer outside the arena (an object libstdc++.so allocated itself, then
// freed by inline code of ours) goes to free().
// Lock order: g_lock is a leaf (spin lock; allocation happens at start-up and on
// management calls, never on a fault path).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/own_memory.h"

namespace uzswap::preload {
namespace {

constexpr size_t kArenaBytes = size_t{1} << 32;  // address space only (MAP_NORESERVE)
constexpr size_t kMinClassShift = 5;               // 32-byte blocks
constexpr size_t kNumClasses = 32 - kMinClassShift + 1;

struct Header {
  void* block;      // start of the block (for the free list)
  uint32_t cls;     // size class index
  uint32_t magic;   // kMagic: a header of ours
};
constexpr uint32_t kMagic = 0x757a6f61;  // "uzoa"

struct FreeBlock {
  FreeBlock* next;
};

std::atomic_flag g_lock = ATOMIC_FLAG_INIT;
char* g_arena = nullptr;      // [g_arena, g_arena + kArenaBytes)
size_t g_used = 0;            // bump offset
FreeBlock* g_free[kNumClasses] = {};

struct SpinGuard {
  SpinGuard() {
    while (g_lock.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~SpinGuard() { g_lock.clear(std::memory_order_release); }
};

bool arena_ready() {
  if (g_arena != nullptr) return true;
  long p = syscall(SYS_mmap, nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == -1) return false;
  g_arena = reinterpret_cast<char*>(p);
  if (own_ranges().init()) own_ranges().add(reinterpret_cast<uintptr_t>(g_arena),
                                            reinterpret_cast<uintptr_t>(g_arena) + kArenaBytes);
  return true;
}

bool in_arena(const void* p) {
  const char* c = static_cast<const char*>(p);
  return g_arena != nullptr && c >= g_arena && c < g_arena + kArenaBytes;
}

// Smallest class whose blocks hold `need` bytes; kNumClasses if none.
size_t class_for(size_t need) {
  for (size_t c = 0; c < kNumClasses; ++c)
    if ((size_t{1} << (c + kMinClassShift)) >= need) return c;
  return kNumClasses;
}

void* own_allocate(size_t size, size_t align) {
  if (align < alignof(std::max_align_t)) align = alignof(std::max_align_t);
  size_t need = size + sizeof(Header) + align;
  size_t c = class_for(need);
  if (c == kNumClasses) return nullptr;
  size_t block_bytes = size_t{1} << (c + kMinClassShift);
  void* block = nullptr;
  {
    SpinGuard g;
    if (!arena_ready()) return nullptr;
    if (g_free[c] != nullptr) {
      block = g_free[c];
      g_free[c] = g_free[c]->next;
    } else if (g_used + block_bytes <= kArenaBytes) {
      block = g_arena + g_used;
      g_used += block_bytes;
    }
  }
  if (block == nullptr) return nullptr;
  uintptr_t user = (reinterpret_cast<uintptr_t>(block) + sizeof(Header) + align - 1) & ~(uintptr_t{align} - 1);
  Header* h = reinterpret_cast<Header*>(user) - 1;
  h->block = block;
  h->cls = static_cast<uint32_t>(c);
  h->magic = kMagic;
  return reinterpret_cast<void*>(user);
}

void own_release(void* p) {
  if (p == nullptr) return;
  if (!in_arena(p)) {
    free(p);
    return;
  }
  Header* h = static_cast<Header*>(p) - 1;
  if (h->magic != kMagic || h->cls >= kNumClasses) return;  // not ours: leak rather than corrupt
  h->magic = 0;
  auto* fb = static_cast<FreeBlock*>(h->block);
  SpinGuard g;
  fb->next = g_free[h->cls];
  g_free[h->cls] = fb;
}

void* allocate_or_throw(size_t size, size_t align) {
  void* p = own_allocate(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace
}  // namespace uzswap::preload

using uzswap::preload::allocate_or_throw;
using uzswap::preload::own_allocate;
using uzswap::preload::own_release;

void* operator new(size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](size_t n) { return allocate_or_throw(n, 0); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return own_allocate(n, 0); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return own_allocate(n, 0); }
void* operator new(size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<size_t>(a)); }
void* operator new[](size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<size_t>(a)); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return own_allocate(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return own_allocate(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept { own_release(p); }
void operator delete[](void* p) noexcept { own_release(p); }
void operator delete(void* p, size_t) noexcept { own_release(p); }
void operator delete[](void* p, size_t) noexcept { own_release(p); }
void operator delete(void* p, std::align_val_t) noexcept { own_release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { own_release(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { own_release(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { own_release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { own_release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { own_release(p); }
