// uffd/core.h — the engine's shared state and the mechanics every uffd/ file implements.
//
// Data layout:
//   uffd       the userfaultfd (uffd_file.h)
//   ranges     managed ranges and their page entries (range_table.h, page_entry.h)
//   staging    staging slots (staging.h)
//   pool       compressed pages (pool/pool.h); comp the compressor
//   map_lock   orders our ioctls against mm events (map_lock.h); read_mutex serialises
//              reading the userfaultfd
//   handlers   fault handler threads (fault_handler.cpp), reclaim the policy's threads
//   parked_    first-touch faults held back by the throttle (parked_faults.h, throttle.cpp);
//              estimate_ the cheap footprint estimate it reads (policy/throttle.h)
//   fork_gate  keeps handlers out of mid-resolution states at a fork (fork_gate.h); with
//              held_/fork_parked_ (events read and faults parked while it is closed),
//              deferred_ (pool frees and slot releases put off while it is closed) and
//              resolving_page_ (the one resolution a fork may catch), all used under
//              read_mutex only, and spare_fd_ (engine_fork.cpp)
//
// Lock order (outermost first):
//   read_mutex -> map_lock (announced / exclusive) -> staging lock -> MetaHeap lock
//   map_lock shared -> pool's internal locks -> staging lock
//   map_lock shared -> parked_'s lock (leaf)
//   measure_lock -> map_lock shared; stop(): measure_lock -> unmanage_lock -> map_lock
// Rules:
//   - Every ioctl that changes a program page (ZEROPAGE, COPY, MOVE, WRITEPROTECT,
//     POISON) is issued under map_lock (shared or exclusive), after looking the page up
//     under that same hold.
//   - A thread holding map_lock shared never waits for a userfaultfd read: no madvise on
//     registered memory, no touching of registered memory.
//   - Handler threads never malloc and never touch registered memory; their buffers are
//     mmap'd.
//   - Transient entry states are owned by exactly one thread (page_entry.h). A thread
//     that finds one either waits for its owner (only where the owner provably does not
//     wait for handlers) or makes the faulting thread retry (UFFDIO_WAKE, refault).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "policy/mechanics.h"
#include "policy/reclaimer.h"
#include "policy/throttle.h"
#include "pool/compressor.h"
#include "pool/pool.h"
#include "uffd/engine.h"
#include "uffd/fork_gate.h"
#include "uffd/map_lock.h"
#include "uffd/pagemap.h"
#include "uffd/parked_faults.h"
#include "uffd/range_table.h"
#include "uffd/staging.h"
#include "uffd/uffd_file.h"

struct uffd_msg;

namespace uzswap::uffd {

inline constexpr size_t kStagingSlots = 32768;   // 128 MiB of address space
inline constexpr size_t kZeroRunPages = 512;     // one UFFDIO_ZEROPAGE covers up to 2 MiB
inline constexpr int kMaxHandlers = 64;

uint64_t now_ns();

// Threads on stacks of our own (fault_handler.cpp): handler threads, and the fork
// prepare handler's warm-up thread (engine_fork.cpp).
inline constexpr size_t kThreadStackBytes = size_t{2} << 20;
void* map_thread_stack();  // nullptr if refused
bool start_on_stack(pthread_t* t, void* stack, void* (*fn)(void*), void* arg);

// Per-thread scratch for resolving faults and compressing (mmap'd, never malloc).
struct Scratch {
  uint8_t* page = nullptr;   // a 4 KiB bounce page
  uint8_t* buf = nullptr;    // compression output, 2 pages
  int kind = -1;             // histogram of the last resolution (common/histogram.def), -1 none
  // The fault being resolved (fault_handler.cpp / throttle.cpp set them per fault):
  bool may_park = false;     // a first touch may be parked by the throttle
  bool write = false;        // a write fault: new pages will be written (footprint grows)
  size_t max_run = kZeroRunPages;  // longest zero run to resolve
  bool refaulted = false;    // set by resolve_and_wake: an evicted page became resident again
  bool init();
  void destroy();
};

// What became of one resolution attempt.
enum class Resolve : uint8_t {
  Done,     // the page is back (or was already there)
  Retry,    // the entry changed under us: look again
  Deferred, // could not finish now (mm changing, owner busy): the faulting thread refaults
  Parked,   // held back by the throttle: parked_ owns the fault (it is not woken now)
};

class EngineCore final : public Engine, public policy::Mechanics {
 public:
  // ---- Engine ----
  bool manage(void* addr, size_t len) override;
  void unmanage(void* addr, size_t len, bool discard) override;
  bool is_managed(const void* addr) override;
  EngineStats stats() override;
  pool::Pool* pool() override { return pool_.get(); }
  void stop() override;
  bool fork_prepare() override;
  void fork_parent() override;
  bool fork_child() override;
  bool fork_child_early() override;
  bool fork_child_fault(const void* addr) override;

  // ---- policy::Mechanics ----
  size_t stage_cold(size_t max_pages) override;
  size_t compress_staged(uint64_t min_age_ns, size_t max_pages) override;
  size_t compress_aged(Scratch& s, uint64_t min_age_ns, size_t max_pages, size_t max_scan);  // evict.cpp
  size_t release_staging() override;
  size_t staging_dirty_pages() override { return staging_.dirty(); }
  policy::Footprint measure() override;
  size_t staged_pages() override { return staging_.in_use(); }
  size_t managed_pages() override;
  bool pool_full() override { return pool_full_.load(std::memory_order_relaxed); }

  bool init(const EngineConfig& config, EngineStartResult* result);
  ~EngineCore() override;

 private:
  friend class FaultHandler;

  // fault_resolve.cpp — all called with map_lock held (shared or exclusive).
  Resolve resolve_missing(uintptr_t page, Scratch& s);
  Resolve resolve_wp(uintptr_t page, Scratch& s);
  Resolve resolve_evicted(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s);
  Resolve resolve_zero_run(Range* r, uintptr_t page, Scratch& s);
  Resolve resolve_staged(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s);
  Resolve resolve_from_slot(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s);
  Resolve resolve_stored(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s);
  Resolve resolve_same_filled(AtomicEntry& e, Entry v, uintptr_t page, Scratch& s);
  Resolve resolve_unmanaged(uintptr_t page, Scratch& s);
  void restore_range(uintptr_t start, uintptr_t end);
  // Brings one page back for stop()/unmanage(); true when its entry is Absent/Zapping.
  bool restore_page(Range* r, size_t index, Scratch& s);
  bool poison_page(uintptr_t page);  // false: no UFFDIO_POISON here
  void note_stale(uintptr_t page);   // counts an EEXIST answer and wakes the page
  bool wait_for_owner(AtomicEntry& e, Entry v);  // false: the owner took too long (defer)

  // events.cpp — called by the reader with map_lock exclusive.
  void apply_event(const uffd_msg& msg);
  void drop_entry(Entry v, Owner owner);
  void apply_remove(uintptr_t start, uintptr_t end);
  void apply_remap(uintptr_t from, uintptr_t to, size_t len);
  void retarget_slot(Entry v, Owner new_owner);
  void expect_unmap(uintptr_t start, uintptr_t end);
  bool consume_expected_unmap(uintptr_t start, uintptr_t end);
  // Sources of applied REMAPs whose UNMAP event is still to come (map_lock exclusive).
  struct ExpectedUnmap {
    uintptr_t start = 0, end = 0;
    uint64_t expires_ns = 0;
  };
  static constexpr size_t kExpectSlots = 16;
  static constexpr uint64_t kExpectMs = 1000;
  ExpectedUnmap expected_[kExpectSlots];
  // Evictions between their registration check and their UFFDIO_MOVE (evict.cpp, "Evict
  // window"); a reader that announced itself waits for zero before read(2).
  std::atomic<int> evict_moves_{0};
  // Copy-fallback zaps between their EvictingZap claim (made under map_lock shared) and
  // the return of their madvise (evict.cpp, "Zap window"); unmanage() waits for zero.
  std::atomic<int> zaps_in_flight_{0};
  void wait_for_zaps_in_flight();  // engine.cpp
  uint64_t mm_epoch_ = 0;  // bumped by every applied UNMAP/REMOVE/REMAP (map_lock exclusive)
  // now_ns() of the last applied UNMAP or REMAP (map_lock exclusive; read under shared).
  // The copy fallback starts no zap within kLayoutQuietNs of one (evict.cpp).
  uint64_t last_layout_event_ns_ = 0;
  bool layout_quiet() const;

  static bool has_hole(uintptr_t start, size_t len);  // engine.cpp
  size_t snapshot_ranges();                            // engine.cpp: into range_buf_
  void warm_up_compressor();                           // engine.cpp

  // evict.cpp
  enum class StageResult : uint8_t { Staged, Skipped, NoSlot, Busy, Claimed };
  StageResult stage_one(uintptr_t page);
  StageResult claim_for_eviction(uintptr_t page, AtomicEntry** entry, uint32_t* slot);
  bool registered_with_us(uintptr_t page);  // see evict.cpp
  StageResult stage_one_move(uintptr_t page);
  bool make_exclusive_again(uintptr_t page);
  StageResult stage_one_copy(uintptr_t page);
  bool compress_one(uint32_t slot, Scratch& s);
  void finish_compress(uint32_t slot, Entry result, pool::Handle handle, size_t size);
  void put_back(uint32_t slot);
  void wait_while_loading(AtomicEntry& e, uint32_t slot);
  // Write access back to a page, as the owner of its entry (see evict.cpp): false if the
  // entry was not `owned`; *rc the ioctl's answer.
  bool unprotect_as_owner(AtomicEntry& e, Entry owned, uintptr_t page, Entry after, int* rc = nullptr);

  // fault_handler.cpp
  static void* handler_main(void* arg);
  bool handler_turn(uffd_msg& msg, Scratch& s, bool readable);
  void serve_messages(Scratch& s, uint64_t quiet_ns);
  void helper_sleep_and_serve(Scratch& s, uint32_t seen);
  void call_helpers();  // faults overlap, or a handler is about to wait: wake a sleeping helper
  bool start_handlers(int n);
  void stop_handlers();
  void handle_message(const uffd_msg& msg, Scratch& s);
  // Resolves a fault on `page` and makes sure its thread is woken, unless it was parked.
  Resolve resolve_and_wake(uintptr_t page, bool wp, Scratch& s, uint64_t t0);

  // throttle.cpp (policy/throttle.h): parking first touches while over limit + margin.
  policy::ThrottleInputs throttle_inputs();
  bool park(uintptr_t page, const Scratch& s);   // under map_lock shared; true: parked_ owns it
  void assist_reclaim(Scratch& s);               // throttle.cpp; no lock held
  void serve_parked(Scratch& s);                 // handlers: resolve the faults that are due
  uint64_t parked_wait_ns();                     // handlers: longest poll() sleep allowed now
  void wake_all_parked();                        // after the handlers are joined
  // One message through the usual protocol (gate open); false if none was taken.
  bool take_message(uffd_msg& msg, Scratch& s);
  // One message through the closed-gate protocol (fork_gate.h); false if none was taken.
  bool take_message_gate_closed(uffd_msg& msg, Scratch& s);

  // engine_fork.cpp (held_/fork_parked_/deferred_ under read_mutex_)
  void resolve_forking_thread_fault(const uffd_msg& msg, Scratch& s);
  void resolve_fault_gate_closed(const uffd_msg& msg, Scratch& s);
  bool may_resolve_gate_closed(uintptr_t page) const;
  bool held_event_covers(uintptr_t page) const;
  void begin_closed_resolution(uintptr_t page);
  void end_closed_resolution();
  // A pool object or staging slot a resolution or an event leaves behind: released now,
  // or, while a fork may happen (defer_releases_), noted and released after it, in the
  // parent and in the child's copy: a pool free or slot release the fork caught half
  // done would leave the child's pool or staging lists corrupt.
  void release_handle(pool::Handle h);
  void release_slot(uint32_t slot, bool clean);
  bool defer_release(uint64_t record);
  void run_deferred_releases();
  bool release_is_deferred(uint64_t record) const;
  void release_entry_resources(Entry before);
  void hold_event(const uffd_msg& msg);
  void apply_held_events();            // map_lock exclusive
  void park_for_fork(uintptr_t page);
  void wake_fork_parked();
  void reset_locks_after_fork();
  bool reregister_in_child(bool wp);
  void forget_parent_in_child();
  void register_or_cut(uintptr_t lo, uintptr_t hi, bool wp);
  bool give_up_in_child();
  bool in_transition_ = false;      // between fork_child_early and fork_child (child only)
  uintptr_t transition_page_ = 0;   // the last page fork_child_fault brought in, and how
  int transition_repeats_ = 0;      // often in a row (a page that keeps faulting is not ours)
  int transition_deferred_ = 0;     // resolutions that failed in the phase
  static constexpr int kTransitionRetries = 8;
  void repair_interrupted_resolution();
  size_t write_back_in_place();
  static constexpr size_t kHeldEvents = 1024;
  static constexpr size_t kParkedFaults = 4096;
  ForkGate fork_gate_;
  uffd_msg* held_ = nullptr;   // kHeldEvents, mmap'd
  size_t nheld_ = 0;
  uintptr_t* fork_parked_ = nullptr;  // kParkedFaults, mmap'd
  size_t nfork_parked_ = 0;
  int spare_fd_ = -1;
  // The fault being resolved while the gate is closed (0: none), and its entry before:
  // what a child repairs if the fork caught that resolution (engine_fork.cpp).
  uintptr_t resolving_page_ = 0;
  Entry resolving_before_ = 0;
  static constexpr size_t kDeferredReleases = 4096;
  uint64_t* deferred_ = nullptr;  // kDeferredReleases records (engine_fork.cpp), mmap'd
  size_t ndeferred_ = 0;
  std::atomic<bool> defer_releases_{false};
  static size_t fork_mem_bytes();

  EngineConfig cfg_;
  UffdFile uffd_;
  bool move_mode_ = false;  // evict with UFFDIO_MOVE; else write-protect + copy + zap
  RangeTable ranges_;
  Staging staging_;
  Pagemap pagemap_;
  MapLock map_lock_;
  SpinLock read_mutex_;
  std::unique_ptr<pool::Pool> pool_;
  pool::Compressor* comp_ = nullptr;
  policy::Reclaimer reclaimer_;
  std::atomic<bool> pool_full_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  int stop_efd_ = -1;
  pthread_t handlers_[kMaxHandlers] = {};
  void* handler_stacks_[kMaxHandlers] = {};  // their stacks (map_thread_stack)
  int nhandlers_ = 0;
  std::atomic<uint32_t> help_seq_{0};    // futex word: bumped to call helpers (fault_handler.cpp)
  std::atomic<int> helpers_awake_{0};    // helpers called and not yet back asleep
  std::atomic<int> nhelpers_{0};         // helpers started (nhandlers_ - 1 once all run)
  // Clock hand of stage_cold: the next address to look at (reclaim threads, hand_lock_).
  SpinLock hand_lock_;
  uintptr_t hand_ = 0;
  std::atomic<uint32_t> compress_hand_{0};
  Scratch* reclaim_scratch_ = nullptr;  // one per reclaim thread, mmap'd
  std::atomic<int> reclaim_scratch_next_{0};
  Scratch& my_reclaim_scratch();
  Scratch stop_scratch_;     // stop()/unmanage() callers, under unmanage_lock_
  SpinLock unmanage_lock_;
  SpinLock measure_lock_;    // guards range_buf_
  uintptr_t* range_buf_ = nullptr;  // snapshot_ranges(): [start, end) pairs, kMaxRanges of them
  std::atomic<uint64_t> compressed_bytes_{0};
  std::atomic<uint64_t> stored_pages_{0};
  std::atomic<uint64_t> same_filled_pages_{0};
  policy::ThrottleConfig throttle_cfg_;  // set by init, then read-only
  policy::FootprintEstimate estimate_;
  ParkedFaults parked_;
};

}  // namespace uzswap::uffd
