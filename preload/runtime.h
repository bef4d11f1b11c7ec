// preload/runtime.h — the preload library's process-wide state, shared by init.cpp,
// interpose.cpp and fork.cpp.
//
// Data layout: one static Runtime. `engine` is the only field written after start-up.
// States of the process (each transition made by exactly one function):
//   Loading  --start() in init.cpp: the engine runs--> Managing     (engine != nullptr)
//   Loading  --start(): disabled, or the engine failed--> PassThrough (engine == nullptr)
//   Managing --fork_child() in fork.cpp--> Managing in the child when it takes the engine
//            over (Engine::fork_child), else PassThrough there (evicted pages were
//            brought back first); the parent stays Managing
// The engine is never stopped or freed while the process runs (see init.cpp for exit).
// Every interposed call that sees engine == nullptr passes straight through, so calls made
// before the constructor ran (other libraries' constructors) are never managed.
// Lock order: fork_lock (fork.cpp) is taken around manage/unmanage calls; the engine's own
// locks nest inside it. Nothing of the engine ever calls back into the preload library
// with fork_lock needed (its own mmap calls are recognised by their return address).
#pragma once

#include <atomic>
#include <cstdint>

#include "preload/options.h"
#include "uffd/engine.h"

namespace uzswap::preload {

struct Runtime {
  std::atomic<Engine*> engine{nullptr};  // nullptr: pass through (see states above)
  Options options{};                      // read once by the constructor
  uintptr_t self_begin = 0;               // [self_begin, self_end): libuzswap.so's loaded image
  uintptr_t self_end = 0;
  int owner_pid = 0;                      // the process whose uzswap state this is (set at start, in fork children)
};

Runtime& runtime();

inline Engine* active_engine() { return runtime().engine.load(std::memory_order_acquire); }

// Finds libuzswap.so's own address range (for called_from_self); called by the constructor.
void runtime_locate_self();
// True if `return_address` lies in libuzswap.so: a call made by uzswap itself (the engine,
// the pool), whose memory must never be managed (DESIGN.md problem 2).
inline bool called_from_self(const void* return_address) {
  uintptr_t a = reinterpret_cast<uintptr_t>(return_address);
  const Runtime& r = runtime();
  return a >= r.self_begin && a < r.self_end;
}

}  // namespace uzswap::preload
