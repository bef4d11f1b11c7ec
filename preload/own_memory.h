// preload/own_memory.h — uzswap's own memory, which must never be managed (DESIGN.md
// problem 2: a fault handler that touches managed memory can wait on itself forever).
//
// What is in the set:
//   - libuzswap.so's loaded image, its .bss included (runtime_locate_self's span);
//   - every mmap made from libuzswap.so's code (the engine's tables, staging, the pool's
//     backing memory, the stats region), noted by the interposed mmap (interpose.cpp);
//   - the arena behind uzswap's own operator new (own_alloc.cpp): uzswap's C++ objects
//     (the pool, its page provider) never live in glibc's heap, which may be managed;
//   - the stacks (with their static TLS and thread descriptor) of uzswap's own threads:
//     glibc maps them with MAP_STACK and a guard page, which the interposed mmap and the
//     coverage scan both refuse (threads.h); the scan thread also notes its own.
// Removed: an mmap range of ours that our own munmap unmaps wholly. A range partly
// unmapped stays in the set (excluding too much only costs coverage).
#pragma once

#include <cstddef>
#include <cstdint>

#include "preload/range_set.h"

namespace uzswap::preload {

RangeSet& own_ranges();

// From the constructor, after runtime_locate_self(): reserves the set and adds the image.
bool own_memory_init();
// An mmap/munmap made by uzswap's own code.
void own_memory_note_mmap(const void* addr, size_t len);
void own_memory_note_munmap(const void* addr, size_t len);

}  // namespace uzswap::preload
