// preload/interpose.h — figures of the interposed mmap/munmap/mremap (interpose.cpp).
//
// Data layout: one static InterposeStats of relaxed atomic counters, only ever growing.
#pragma once

#include <atomic>
#include <cstdint>

namespace uzswap::preload {

struct InterposeStats {
  std::atomic<uint64_t> mappings_managed{0};      // +1 per mmap/mremap result handed to Engine::manage and accepted
  std::atomic<uint64_t> bytes_managed{0};         // + the length of each such mapping
  std::atomic<uint64_t> manage_refused{0};        // +1 per Engine::manage that returned false
  std::atomic<uint64_t> ranges_forgotten{0};      // +1 per munmap / MAP_FIXED / MREMAP_FIXED that unmanaged (discarding)
  std::atomic<uint64_t> remaps_restored{0};       // +1 per mremap of a managed range (pages brought back, range re-managed)
  std::atomic<uint64_t> fork_ranges_restored{0};  // + managed ranges brought back before a fork (fork.cpp, restore path)
  std::atomic<uint64_t> forks_taken_over{0};      // +1 per fork prepared for the child to take the engine over (fork.cpp)
};

InterposeStats& interpose_stats();

}  // namespace uzswap::preload
