// uffd/engine.h — the fault engine's public face: what the preload library drives.
//
// An Engine owns one userfaultfd, the fault handler threads, the page-entry tables of the
// managed ranges, the staging area, the pool (pool/) and the reclaim policy (policy/).
// Managed memory behaves exactly like ordinary anonymous memory to the program: cold pages
// are moved out (staged), then compressed into the pool; a touch brings them back.
//
// Thread safety: every method may be called from any thread, except the fork_* ones
// (see below). start() and stop() are called once each.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pool/compressor.h"
#include "pool/pool.h"

namespace uzswap {

struct EngineConfig {
  size_t limit_bytes = 0;          // target footprint (resident managed + pool + staging + metadata); 0 = none
  double cold_age_seconds = 0;     // pages idle longer are compressed even under the limit; 0 = off
  size_t pool_limit_bytes = 0;     // pool hard limit: past it eviction stops; 0 = none
  pool::CompressorKind compressor = pool::CompressorKind::Lz4;
  int handler_threads = 0;         // fault handler threads; 0 = one per CPU
  int reclaim_threads = 1;         // background reclaim threads
  bool force_copy_evict = false;   // evict by write-protect + copy + zap even if UFFDIO_MOVE exists
  uint32_t reject_threshold = 3584; // compressed sizes above this (bytes) are not stored compressed
  double stage_seconds = 0.5;      // how long a page ages in staging before it is compressed
  // The same, while over the limit by more than the throttle margin. 0 (compress at once)
  // made programs whose working set exceeds the limit thrash (sqlite3 e2e: 495 s against
  // 142 s), so it equals stage_seconds by default.
  double pressure_stage_seconds = 0.5;
  bool throttle = true;            // past limit + margin: park first touches, make refaults compress (policy/throttle.h)
  uint64_t throttle_max_delay_ns = 4'000'000;  // longest a first touch is parked
  // Fault injection for race tests; never set by the preload. Called on the reclaim thread
  // between a copy-fallback eviction's claim of its zap and the madvise that zaps: the
  // window a layout change must not fall into (uffd/evict.cpp, "Zap window").
  void (*before_fallback_zap)(uintptr_t page) = nullptr;
};

// Why the engine could not start; the preload library prints one line from it and runs
// the program untouched.
enum class EngineStartError : uint8_t {
  None,
  NoUserfaultfd,        // userfaultfd(2) and /dev/userfaultfd both refused
  UserModeOnly,         // only UFFD_USER_MODE_ONLY is allowed: syscalls on evicted pages would fail
  ApiHandshakeFailed,   // UFFDIO_API refused
  MissingFeatures,      // a feature we cannot do without (named in the message)
  NoMemory,             // the pool or the tables could not reserve their memory
};

struct EngineStartResult {
  EngineStartError error = EngineStartError::None;
  char message[256] = {};  // one human line: what failed and what an administrator can grant
};

// Live figures for the at-exit summary and the stats export (all bytes unless named).
struct EngineStats {
  uint64_t managed_bytes;        // bytes of address space registered with the engine
  uint64_t resident_bytes;       // managed pages currently resident in the program
  uint64_t staged_pages;         // pages in the staging area
  uint64_t stored_pages;         // pages held compressed in the pool
  uint64_t same_filled_pages;    // pages held as a fill value (zero or repeated word)
  uint64_t compressed_bytes;     // sum of compressed sizes of stored pages
  uint64_t pool_bytes;           // pool footprint (backing pages + pool metadata)
  uint64_t staging_bytes;        // resident staging memory
  uint64_t metadata_bytes;       // page-entry tables and other engine metadata
  uint64_t footprint_bytes;      // resident + pool + staging + metadata
  uint64_t limit_bytes;          // the configured limit, 0 = none
  bool over_limit_unreachable;   // the compressed data alone exceeds the limit
};

class Engine {
 public:
  // nullptr when the engine cannot run here; *result says why (never throws, never aborts).
  static Engine* start(const EngineConfig& config, EngineStartResult* result);

  // Takes over [addr, addr+len): page-aligned, anonymous, private, writable. Returns false
  // (and leaves the range untouched) if it cannot be managed.
  virtual bool manage(void* addr, size_t len) = 0;
  // Forgets [addr, addr+len) before the program unmaps or changes it by a path that sends
  // no userfaultfd event; evicted pages there are brought back first unless `discard`.
  virtual void unmanage(void* addr, size_t len, bool discard) = 0;
  // True if addr lies in a managed range.
  virtual bool is_managed(const void* addr) = 0;

  virtual EngineStats stats() = 0;
  // The engine's pool, for per-class statistics (never nullptr while started).
  virtual pool::Pool* pool() = 0;
  // Brings every evicted page back and unregisters everything (used before exit and exec).
  // Joins the engine's threads. Idempotent; after it, stats() reads zeros.
  virtual void stop() = 0;
  // fork() (preload/fork.cpp drives these from its pthread_atfork handlers, on the
  // forking thread; see uffd/engine_fork.cpp). fork_prepare quiesces the engine so that
  // a child can take it over; false: it cannot here (the caller brings the evicted pages
  // back instead) and nothing changed. After a true prepare exactly one of fork_parent
  // (in the parent, also when fork failed) or fork_child (in the child) follows.
  virtual bool fork_prepare() = 0;
  virtual void fork_parent() = 0;
  // In the child, single-threaded, before anything may touch managed memory. True: the
  // engine runs in the child (its own userfaultfd, threads and copies of the tables).
  // False: the child could not restart it; every evicted page was written back in place
  // and the engine must not be used again (the child runs without uzswap).
  virtual bool fork_child() = 0;
  // Optional, in the child before fork_child and before any other code of the child may
  // touch managed memory (the first atfork child handler): registers the managed ranges
  // with a transitional userfaultfd whose faults raise SIGBUS in the faulting thread, so
  // that code running before fork_child (other libraries' atfork child handlers) gets
  // evicted pages through fork_child_fault instead of reading zeros. False: the child could
  // not do it; every evicted page was written back in place and fork_child will return
  // false. fork_child ends the transitional phase.
  virtual bool fork_child_early() = 0;
  // From the SIGBUS handler during the transitional phase: brings the page at `addr` in.
  // False if `addr` is not a page of ours to bring in (the signal is the program's).
  virtual bool fork_child_fault(const void* addr) = 0;
  // stop() if needed, then releases the engine and its pool. `engine` is invalid after.
  static void destroy(Engine* engine);

 protected:
  virtual ~Engine() = default;
};

}  // namespace uzswap
