// preload/own_memory.cpp — see own_memory.h. State: one RangeSet (its own comment).
#include "preload/own_memory.h"

#include "preload/eligibility.h"
#include "preload/runtime.h"

namespace uzswap::preload {

RangeSet& own_ranges() {
  static RangeSet s;  // constant-initialised
  return s;
}

bool own_memory_init() {
  if (!own_ranges().init()) return false;
  const Runtime& rt = runtime();
  own_ranges().add(rt.self_begin & ~uintptr_t{4095}, page_round_up(rt.self_end));
  return true;
}

void own_memory_note_mmap(const void* addr, size_t len) {
  uintptr_t b = reinterpret_cast<uintptr_t>(addr);
  own_ranges().add(b, b + page_round_up(len));
}

void own_memory_note_munmap(const void* addr, size_t len) {
  uintptr_t b = reinterpret_cast<uintptr_t>(addr);
  own_ranges().remove_within(b, b + page_round_up(len));
}

}  // namespace uzswap::preload
