// policy/mechanics.h — what the reclaim policy needs from the engine, and nothing more.
//
// policy/ decides how much to evict and when; uffd/ does it. The engine implements
// Mechanics; the policy talks to time through Clock. Both are small so the decision
// logic (policy/plan.h) is a pure function tested without userfaultfd.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::policy {

// The parts of the footprint the limit applies to, in bytes.
struct Footprint {
  uint64_t resident = 0;   // managed pages present in the program (zero-page mappings excluded)
  uint64_t pool = 0;       // pool backing pages + pool metadata
  uint64_t staging = 0;    // pages held by the staging area
  uint64_t metadata = 0;   // page-entry tables and other engine metadata
  uint64_t total() const { return resident + pool + staging + metadata; }
};

class Mechanics {
 public:
  virtual ~Mechanics() = default;
  // Moves up to max_pages resident, not recently refaulted pages to staging (the clock
  // hand advances). Returns pages staged.
  virtual size_t stage_cold(size_t max_pages) = 0;
  // Compresses up to max_pages staged pages that have been staged at least min_age_ns.
  // Returns pages that left staging (stored, same-filled or put back).
  virtual size_t compress_staged(uint64_t min_age_ns, size_t max_pages) = 0;
  // Returns staging slots that hold unneeded pages to the OS. Returns slots freed.
  virtual size_t release_staging() = 0;
  // Staging pages waiting for release_staging().
  virtual size_t staging_dirty_pages() = 0;
  virtual Footprint measure() = 0;
  virtual size_t staged_pages() = 0;
  virtual size_t managed_pages() = 0;
  // The pool refused the last allocation for its hard limit (cleared when it next succeeds).
  virtual bool pool_full() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() = 0;
  virtual void sleep_ns(uint64_t ns) = 0;
};

// CLOCK_MONOTONIC and nanosleep.
Clock* system_clock();

}  // namespace uzswap::policy
