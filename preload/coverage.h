// preload/coverage.h — managing the memory that the interposed mmap never sees: glibc
// malloc's brk heap and arenas, jemalloc's and other allocators' internal mappings,
// anything mapped through a raw system call (DESIGN.md problem 1).
//
// A scan reads /proc/self/maps (maps_reader.h), keeps the lines coverage_rules.h accepts,
// subtracts uzswap's own memory (own_memory.h) and mlock'ed ranges (locked.h), and hands
// each remaining piece of at least UZSWAP_MIN_MAPPING bytes that is not managed yet to
// Engine::manage. The heap grown by brk shows up as a new line (a registered VMA never
// merges with an unregistered one) and is managed by the next scan.
// Scans run: once from the constructor, then every UZSWAP_COVERAGE_INTERVAL from a
// low-rate thread of our own (all signals blocked, its stack in own_ranges()).
#pragma once

#include <cstdint>

#include "uffd/engine.h"

namespace uzswap::preload {

struct CoverageFigures {
  uint64_t scans;             // scans completed
  uint64_t ranges_managed;    // pieces handed to Engine::manage and accepted
  uint64_t bytes_managed;     // their bytes
  uint64_t manage_refused;    // pieces Engine::manage refused
  uint64_t anon_rss_bytes;    // RssAnon at the last ratio measurement
  uint64_t ratio_permille;    // covered share of the program's anonymous RSS (see coverage_measure)
};

// From the constructor once the engine runs: the first scan, then the thread.
void coverage_start(Engine* engine);
// In a fork child that took the engine over (single-threaded): the scan lock may have been
// copied held by the parent's scan thread; reset it and start the thread again (if the
// scan runs).
void coverage_fork_child(Engine* engine);
// Around fork (prepare / parent): no scan is in flight at the fork, so the child's copy of
// the scan's state (its snapshot, uzswap's own range set) is consistent. The release
// (coverage_fork_parent) is also called by the child's first handler, and does nothing
// when the lock was already released.
void coverage_fork_prepare();
void coverage_fork_parent();
// One scan now (also used by tests through the thread's cadence).
void coverage_scan(Engine* engine);
// Unmanages every managed range (mlockall(MCL_CURRENT)), bringing evicted pages back.
void coverage_unmanage_all();
// Measures the ratio: managed resident bytes / (RssAnon - uzswap's own resident memory:
// pool, staging, metadata), in permille, and records it in the figures.
uint64_t coverage_measure(Engine* engine);
CoverageFigures coverage_figures();

}  // namespace uzswap::preload
