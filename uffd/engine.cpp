// uffd/engine.cpp — Engine::start, the managed-range API, stats and stop.
//
// The EngineCore object itself lives in memory we mmap (placement new): the engine may
// start inside a program whose malloc we must not depend on. Pool::create is the one
// exception (it runs once at start, not on a fault path).
#include <errno.h>
#include <linux/userfaultfd.h>
#include <new>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/fd_guard.h"
#include "common/log.h"
#include "uffd/core.h"

namespace uzswap {

Engine* Engine::start(const EngineConfig& config, EngineStartResult* result) {
  EngineStartResult local;
  if (result == nullptr) result = &local;
  *result = EngineStartResult{};
  void* mem = mmap(nullptr, sizeof(uffd::EngineCore), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    result->error = EngineStartError::NoMemory;
    snprintf(result->message, sizeof(result->message), "no memory for the engine");
    return nullptr;
  }
  auto* core = new (mem) uffd::EngineCore();
  if (!core->init(config, result)) {
    core->~EngineCore();
    munmap(mem, sizeof(uffd::EngineCore));
    return nullptr;
  }
  return core;
}

void Engine::destroy(Engine* engine) {
  if (engine == nullptr) return;
  auto* core = static_cast<uffd::EngineCore*>(engine);
  core->stop();
  core->~EngineCore();
  munmap(core, sizeof(uffd::EngineCore));
}

namespace uffd {

// held_, fork_parked_ and deferred_, in one mapping (engine_fork.cpp).
size_t EngineCore::fork_mem_bytes() {
  return kHeldEvents * sizeof(uffd_msg) + kParkedFaults * sizeof(uintptr_t) + kDeferredReleases * sizeof(uint64_t);
}

// A handler's first call into the compression library would go through a lazily bound
// PLT slot of that library: the dynamic loader then reads its link maps, which live in the
// program's heap, which may be managed and evicted. A handler faulting on managed memory
// waits for a handler: with every handler there, the process hangs. So run the paths the
// handlers take once here, on compressible and incompressible pages, before any handler.
void EngineCore::warm_up_compressor() {
  static uint8_t page[kPageSize], packed[2 * kPageSize], back[kPageSize];
  for (int round = 0; round < 3; ++round) {
    uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(round + 1);
    for (size_t i = 0; i < kPageSize; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      page[i] = round == 0 ? 0 : round == 1 ? static_cast<uint8_t>('a' + (i / 64) % 7) : static_cast<uint8_t>(x >> 56);
    }
    size_t n = comp_->compress(page, kPageSize, packed, sizeof packed);
    if (n > 0) comp_->decompress(packed, n, back, kPageSize);
  }
}

bool EngineCore::init(const EngineConfig& config, EngineStartResult* result) {
  cfg_ = config;
  if (!uffd_.open(config.force_copy_evict, result)) return false;
  move_mode_ = uffd_.features().move && !config.force_copy_evict;
  if (!move_mode_ && !uffd_.features().wp) {
    result->error = EngineStartError::MissingFeatures;
    snprintf(result->message, sizeof(result->message),
             "userfaultfd write-protect is unavailable: cannot evict without UFFDIO_MOVE");
    return false;
  }
  auto fail_nomem = [&](const char* what) {
    result->error = EngineStartError::NoMemory;
    snprintf(result->message, sizeof(result->message), "no memory for the %s", what);
    return false;
  };
  if (!ranges_.init()) return fail_nomem("range table");
  // In MOVE mode the staging area must be registered: the kernel only moves pages into
  // registered ranges. The fallback copies, so its staging area stays unregistered.
  if (!staging_.init(kStagingSlots, &uffd_, move_mode_)) return fail_nomem("staging area");
  pagemap_.open();
  range_buf_ = static_cast<uintptr_t*>(mmap(nullptr, kMaxRanges * 2 * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  reclaim_scratch_ = static_cast<Scratch*>(mmap(nullptr, sizeof(Scratch) * policy::Reclaimer::kMaxThreads,
                                                PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  void* fork_mem = mmap(nullptr, fork_mem_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (fork_mem != MAP_FAILED) {
    held_ = static_cast<uffd_msg*>(fork_mem);
    fork_parked_ = reinterpret_cast<uintptr_t*>(held_ + kHeldEvents);
    deferred_ = reinterpret_cast<uint64_t*>(fork_parked_ + kParkedFaults);
  }
  if (range_buf_ == MAP_FAILED || reclaim_scratch_ == MAP_FAILED || !stop_scratch_.init()) {
    range_buf_ = nullptr;
    reclaim_scratch_ = nullptr;
    return fail_nomem("engine buffers");
  }
  pool::PoolConfig pc;
  pc.limit_bytes = config.pool_limit_bytes;
  pool_ = pool::Pool::create(pc);
  if (!pool_) return fail_nomem("pool");
  comp_ = pool::compressor_get(config.compressor);
  warm_up_compressor();
  // Read by the handlers from their start on (throttle.cpp).
  throttle_cfg_.enabled = config.throttle && config.limit_bytes > 0;
  throttle_cfg_.limit_bytes = config.limit_bytes;
  throttle_cfg_.margin_bytes = policy::throttle_margin(config.limit_bytes);
  throttle_cfg_.max_delay_ns = config.throttle_max_delay_ns;
  stop_efd_ = fd_adopt(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (stop_efd_ < 0 || !start_handlers(config.handler_threads)) {
    result->error = EngineStartError::NoMemory;
    snprintf(result->message, sizeof(result->message), "could not start the fault handler threads");
    return false;
  }
  policy::PolicyConfig pcfg;
  pcfg.limit_bytes = config.limit_bytes;
  pcfg.cold_age_seconds = config.cold_age_seconds;
  pcfg.stage_seconds = config.stage_seconds;
  pcfg.pressure_stage_seconds = config.pressure_stage_seconds;
  pcfg.margin_bytes = throttle_cfg_.margin_bytes;
  pcfg.staging_slots = kStagingSlots;
  if ((config.limit_bytes > 0 || config.cold_age_seconds > 0) &&
      !reclaimer_.start(pcfg, config.reclaim_threads, this, policy::system_clock())) {
    result->error = EngineStartError::NoMemory;
    snprintf(result->message, sizeof(result->message), "could not start the reclaim threads");
    return false;
  }
  UZ_INFO("engine started: %s eviction, %d fault handlers, pagemap %s",
          move_mode_ ? "UFFDIO_MOVE" : "write-protect+copy", nhandlers_,
          pagemap_.has_scan() ? "PAGEMAP_SCAN" : "read");
  return true;
}

EngineCore::~EngineCore() {
  reclaimer_.stop();
  stop_handlers();
  staging_.destroy();
  ranges_.destroy();
  pagemap_.close();
  uffd_.close();
  fd_release(stop_efd_);
  if (stop_efd_ >= 0) close(stop_efd_);
  stop_scratch_.destroy();
  if (reclaim_scratch_) {
    for (int i = 0; i < policy::Reclaimer::kMaxThreads; ++i) reclaim_scratch_[i].destroy();
    munmap(reclaim_scratch_, sizeof(Scratch) * policy::Reclaimer::kMaxThreads);
  }
  if (range_buf_) munmap(range_buf_, kMaxRanges * 2 * sizeof(uintptr_t));
  if (held_) munmap(held_, fork_mem_bytes());
}

// msync(MS_ASYNC) on private anonymous memory does nothing but walk the VMAs of the
// range, failing with ENOMEM at a hole: a cheap "is all of it mapped?".
// The raw system call: glibc's msync is a cancellation point, and manage() runs inside the
// program's mmap, which is not.
bool EngineCore::has_hole(uintptr_t start, size_t len) {
  return syscall(SYS_msync, start, len, MS_ASYNC) != 0 && errno == ENOMEM;
}

bool EngineCore::manage(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  if (stopped_.load(std::memory_order_acquire) || len == 0 || (start | len) & (kPageSize - 1))
    return false;
  // UFFDIO_REGISTER registers the VMAs it finds and skips holes silently, but our table
  // would cover the hole: memory mapped there later without an interposer seeing it (a
  // brk regrowth) would be in the table yet unregistered. Refuse a range with a hole; a
  // caller working from a stale picture of the address space (the coverage scan) tries
  // again later. Checked before registering: unregistering afterwards could undo a
  // registration that is not ours to undo (a VMA an mremap just carried there).
  if (has_hole(start, len)) {
    UZ_COUNT(manage_refused_hole);
    return false;
  }
  LockGuard<SpinLock> rm(read_mutex_);
  map_lock_.lock_exclusive();
  // The program just got [start, start+len) from mmap: whatever we still hold there is
  // the remains of a mapping whose munmap event we have not read yet.
  ranges_.cut(start, start + len, [this](Entry v, Owner o) { drop_entry(v, o); },
              [this](Entry v, Owner o) { retarget_slot(v, o); });
  bool ok = ranges_.add(start, len / kPageSize) != nullptr;
  if (ok && uffd_.register_range(start, len, !move_mode_) != 0) {
    ranges_.cut(start, start + len, [](Entry, Owner) {}, [](Entry, Owner) {});
    ok = false;
  } else if (ok && has_hole(start, len)) {
    // A hole opened while we registered: forget the table range but leave the kernel's
    // registrations alone (registered memory we do not know is zero-filled on a fault,
    // resolve_unmanaged). A hole that opened and was refilled meanwhile is not seen here:
    // the evictor's registered_with_us() check covers that.
    ranges_.cut(start, start + len, [](Entry, Owner) {}, [](Entry, Owner) {});
    UZ_COUNT(manage_refused_hole);
    ok = false;
  }
  map_lock_.unlock_exclusive();
  return ok;
}

void EngineCore::unmanage(void* addr, size_t len, bool discard) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = start + ((len + kPageSize - 1) & ~(kPageSize - 1));
  LockGuard<SpinLock> ul(unmanage_lock_);
  // 1. No new evictions in the range.
  {
    LockGuard<SpinLock> rm(read_mutex_);
    map_lock_.lock_exclusive();
    for (Range* r = ranges_.lower_bound(start); r != nullptr && r->start < end; r = ranges_.lower_bound(r->end()))
      r->leaving = true;
    map_lock_.unlock_exclusive();
  }
  // 2. Bring evicted pages back, page by page (handlers keep serving faults meanwhile).
  if (!discard) restore_range(start, end);
  // 3. Unregister and forget.
  {
    LockGuard<SpinLock> rm(read_mutex_);
    map_lock_.lock_exclusive();
    for (Range* r = ranges_.lower_bound(start); r != nullptr && r->start < end; r = ranges_.lower_bound(r->end())) {
      uintptr_t lo = r->start > start ? r->start : start;
      uintptr_t hi = r->end() < end ? r->end() : end;
      uffd_.unregister_range(lo, hi - lo);
    }
    ranges_.cut(start, end, [this](Entry v, Owner o) { drop_entry(v, o); },
                [this](Entry v, Owner o) { retarget_slot(v, o); });
    for (Range* r = ranges_.lower_bound(start > kPageSize ? start - kPageSize : 0);
         r != nullptr && r->start <= end; r = ranges_.lower_bound(r->end()))
      r->leaving = false;  // pieces outside [start, end) stay managed
    map_lock_.unlock_exclusive();
  }
  // 4. The caller is about to unmap or move the range: a fallback zap still in flight
  // would land on whatever it maps there next (evict.cpp, "Zap window").
  wait_for_zaps_in_flight();
}

// Called without read_mutex and map_lock: a zap's madvise waits for a handler to read its
// REMOVE event, which needs both. The count is engine-wide, and a zap takes tens of
// microseconds; a reclaim thread claims its next only after finishing this one.
void EngineCore::wait_for_zaps_in_flight() {
  Backoff b;
  while (zaps_in_flight_.load(std::memory_order_acquire) != 0) b.pause();
}

bool EngineCore::is_managed(const void* addr) {
  SharedGuard g(map_lock_);
  return ranges_.find(reinterpret_cast<uintptr_t>(addr)) != nullptr;
}

size_t EngineCore::managed_pages() {
  SharedGuard g(map_lock_);
  return ranges_.managed_pages();
}

// Caller holds measure_lock_ (or is the fork child, alone) and map_lock (shared or
// exclusive). Fills range_buf_ with [start, end) pairs; returns how many.
size_t EngineCore::snapshot_ranges() {
  size_t n = 0;
  ranges_.for_each([&](Range* r) {
    range_buf_[2 * n] = r->start;
    range_buf_[2 * n + 1] = r->end();
    ++n;
  });
  return n;
}

policy::Footprint EngineCore::measure() {
  policy::Footprint f;
  LockGuard<SpinLock> ml(measure_lock_);
  const int64_t mark = estimate_.mark();  // changes from here on stay in the estimate
  size_t n = 0;
  {
    SharedGuard g(map_lock_);
    n = snapshot_ranges();
    f.metadata = ranges_.metadata_bytes() + staging_.metadata_bytes();
  }
  // Scanned without map_lock: a range unmapped meanwhile simply counts nothing.
  for (size_t i = 0; i < n; ++i)
    f.resident += pagemap_.count_present(range_buf_[2 * i], range_buf_[2 * i + 1]) * kPageSize;
  f.pool = pool_->footprint_bytes();
  f.staging = staging_.resident_pages() * kPageSize;
  estimate_.rebase(f.total(), mark);
  return f;
}

EngineStats EngineCore::stats() {
  EngineStats s = {};
  if (stopped_.load(std::memory_order_acquire)) return s;
  policy::Footprint f = measure();
  s.managed_bytes = managed_pages() * kPageSize;
  s.resident_bytes = f.resident;
  s.staged_pages = staging_.in_use();
  s.stored_pages = stored_pages_.load(std::memory_order_relaxed);
  s.same_filled_pages = same_filled_pages_.load(std::memory_order_relaxed);
  s.compressed_bytes = compressed_bytes_.load(std::memory_order_relaxed);
  s.pool_bytes = f.pool;
  s.staging_bytes = f.staging;
  s.metadata_bytes = f.metadata;
  s.footprint_bytes = f.total();
  s.limit_bytes = cfg_.limit_bytes;
  s.over_limit_unreachable = reclaimer_.over_limit_unreachable();
  return s;
}

void EngineCore::stop() {
  if (stopped_.exchange(true, std::memory_order_acq_rel)) return;
  reclaimer_.stop();
  // Bring every evicted page back while the handlers still serve faults and events. The
  // snapshot is range_buf_, which a stats() call that began before stopped_ was set may
  // still be filling in measure(): hence measure_lock_ (no later stats() measures).
  {
    LockGuard<SpinLock> ml(measure_lock_);
    size_t n = 0;
    {
      SharedGuard g(map_lock_);
      n = snapshot_ranges();
    }
    LockGuard<SpinLock> ul(unmanage_lock_);
    for (size_t i = 0; i < n; ++i) restore_range(range_buf_[2 * i], range_buf_[2 * i + 1]);
  }
  {
    LockGuard<SpinLock> rm(read_mutex_);
    map_lock_.lock_exclusive();
    ranges_.for_each([&](Range* r) { uffd_.unregister_range(r->start, r->end() - r->start); });
    while (ranges_.count() > 0) {
      Range* r = ranges_.lower_bound(0);
      ranges_.cut(r->start, r->end(), [this](Entry v, Owner o) { drop_entry(v, o); },
                  [this](Entry v, Owner o) { retarget_slot(v, o); });
    }
    map_lock_.unlock_exclusive();
  }
  staging_.zap_dirty();
  stop_handlers();
}

}  // namespace uffd
}  // namespace uzswap
