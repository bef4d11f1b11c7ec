// preload/coverage.cpp — see coverage.h.
//
// Data layout: g_scan_lock serialises scans (the thread, the constructor, mlockall); a
// MapsSnapshot (its buffer mmap'd, in own_ranges()) used only under g_scan_lock; relaxed
// atomic figures.
// Lock order: g_scan_lock, then fork_lock (ForkGuard), then the engine's locks.
//
// Race reasoning. A scan decides from a snapshot of /proc/self/maps, which can be stale by
// the time it acts. Each piece is handed to Engine::manage under fork_lock, which every
// interposed mmap/munmap/mremap that manages or forgets also holds; under it the scan
// checks is_managed on the piece's first and last page, so a range the interposed mmap
// managed meanwhile is never managed twice (manage() would drop its evicted pages). A
// change made behind every interposer (a raw munmap then mmap by libc itself between the
// read and the manage) can still make the scan manage a range that is no longer what it
// read: Engine::manage then registers whatever is there; a file-backed or shared mapping
// is refused by the kernel's userfaultfd registration, anonymous private memory is simply
// managed (correct either way).
#include "preload/coverage.h"

#include <atomic>
#include <csignal>
#include <ctime>
#include <pthread.h>

#include "common/log.h"
#include "common/own_thread.h"
#include "preload/coverage_rules.h"
#include "preload/fork_guard.h"
#include "preload/locked.h"
#include "preload/maps_reader.h"
#include "preload/own_memory.h"
#include "preload/runtime.h"
#include "preload/stats_gauges.h"
#include "preload/threads.h"

namespace uzswap::preload {
namespace {

constexpr size_t kMaxPieces = 64;

pthread_mutex_t g_scan_lock = PTHREAD_MUTEX_INITIALIZER;
MapsSnapshot g_snapshot;  // under g_scan_lock

struct Figures {
  std::atomic<uint64_t> scans{0};           // +1 per completed scan
  std::atomic<uint64_t> ranges_managed{0};  // +1 per piece Engine::manage accepted
  std::atomic<uint64_t> bytes_managed{0};   // + that piece's length
  std::atomic<uint64_t> manage_refused{0};  // +1 per piece Engine::manage refused
  std::atomic<uint64_t> anon_rss{0};        // RssAnon at the last coverage_measure
  std::atomic<uint64_t> ratio{0};           // permille at the last coverage_measure
};
Figures g_figures;

void manage_piece(uintptr_t begin, uintptr_t end) {
  ForkGuard guard;
  Engine* e = active_engine();
  if (e == nullptr || all_locked()) return;
  // A thread stack or an mlock recorded since the scan subtracted them (both are recorded
  // before their range is unmanaged, and unmanaged under the guard we hold).
  if (thread_stacks().overlaps(begin, end) || locked_ranges().overlaps(begin, end)) return;
  auto* b = reinterpret_cast<void*>(begin);
  if (e->is_managed(b) || e->is_managed(reinterpret_cast<void*>(end - 1))) return;
  if (e->manage(b, end - begin)) {
    g_figures.ranges_managed.fetch_add(1, std::memory_order_relaxed);
    g_figures.bytes_managed.fetch_add(end - begin, std::memory_order_relaxed);
  } else {
    g_figures.manage_refused.fetch_add(1, std::memory_order_relaxed);
  }
}

// Manages the parts of [begin, end) that none of sets[0..nsets) covers.
void manage_uncovered(uintptr_t begin, uintptr_t end, RangeSet* const* sets, size_t nsets, size_t min_mapping) {
  if (end - begin < min_mapping) return;
  if (nsets == 0) {
    manage_piece(begin, end);
    return;
  }
  AddrRange pieces[kMaxPieces];
  size_t n = sets[0]->subtract(begin, end, pieces, kMaxPieces);
  for (size_t i = 0; i < n; ++i) manage_uncovered(pieces[i].begin, pieces[i].end, sets + 1, nsets - 1, min_mapping);
}

void consider_line(Engine* e, const MapsLine& line, const MapsLine* below, size_t min_mapping) {
  if (classify_maps_line(line, below, min_mapping) != CoverageVerdict::Manage) return;
  if (e->is_managed(reinterpret_cast<void*>(line.begin))) return;  // the common case: nothing to do
  // Never managed: uzswap's own memory, mlock'ed ranges, the program's thread stacks.
  RangeSet* const excluded[] = {&own_ranges(), &locked_ranges(), &thread_stacks()};
  manage_uncovered(line.begin, line.end, excluded, 3, min_mapping);
}

void* coverage_thread(void* arg) {
  own_thread_begin();
  pthread_setname_np(pthread_self(), "uzswap-coverage");  // as ps -L and crash reports show it
  auto* engine = static_cast<Engine*>(arg);
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* stack = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &stack, &size) == 0) own_memory_note_mmap(stack, size);
    pthread_attr_destroy(&attr);
  }
  double interval = runtime().options.coverage_interval;
  if (interval < 0.01) interval = 0.01;
  timespec ts{static_cast<time_t>(interval), static_cast<long>((interval - static_cast<double>(static_cast<time_t>(interval))) * 1e9)};
  for (;;) {
    while (nanosleep(&ts, &ts) != 0) {
    }
    ts = timespec{static_cast<time_t>(interval), static_cast<long>((interval - static_cast<double>(static_cast<time_t>(interval))) * 1e9)};
    if (active_engine() != engine) return nullptr;  // the engine went away (a fork child without it)
    coverage_scan(engine);
    coverage_measure(engine);
  }
}

}  // namespace

void coverage_scan(Engine* engine) {
  if (engine == nullptr || all_locked()) return;
  pthread_mutex_lock(&g_scan_lock);
  if (g_snapshot.read()) {
    own_ranges().add(g_snapshot.buffer_begin(), g_snapshot.buffer_end());
    size_t min_mapping = runtime().options.min_mapping;
    for (size_t i = 0; i < g_snapshot.size(); ++i)
      consider_line(engine, g_snapshot[i], i > 0 ? &g_snapshot[i - 1] : nullptr, min_mapping);
    g_figures.scans.fetch_add(1, std::memory_order_relaxed);
  }
  pthread_mutex_unlock(&g_scan_lock);
}

void coverage_unmanage_all() {
  Engine* engine = active_engine();
  if (engine == nullptr) return;
  pthread_mutex_lock(&g_scan_lock);
  if (g_snapshot.read()) {
    for (size_t i = 0; i < g_snapshot.size(); ++i) {
      const MapsLine& l = g_snapshot[i];
      if (!engine->is_managed(reinterpret_cast<void*>(l.begin))) continue;
      ForkGuard guard;
      if (Engine* e = active_engine()) e->unmanage(reinterpret_cast<void*>(l.begin), l.end - l.begin, false);
    }
  }
  pthread_mutex_unlock(&g_scan_lock);
}

uint64_t coverage_measure(Engine* engine) {
  uint64_t anon = read_status_kb("RssAnon");
  EngineStats s = engine->stats();
  uint64_t own = s.pool_bytes + s.staging_bytes + s.metadata_bytes;
  uint64_t program = anon > own ? anon - own : 0;
  uint64_t permille = program == 0 ? 0 : (s.resident_bytes >= program ? 1000 : s.resident_bytes * 1000 / program);
  g_figures.anon_rss.store(anon, std::memory_order_relaxed);
  g_figures.ratio.store(permille, std::memory_order_relaxed);
  stats::gauges_set_coverage_permille(permille);
  return permille;
}

CoverageFigures coverage_figures() {
  return CoverageFigures{g_figures.scans.load(std::memory_order_relaxed),
                         g_figures.ranges_managed.load(std::memory_order_relaxed),
                         g_figures.bytes_managed.load(std::memory_order_relaxed),
                         g_figures.manage_refused.load(std::memory_order_relaxed),
                         g_figures.anon_rss.load(std::memory_order_relaxed),
                         g_figures.ratio.load(std::memory_order_relaxed)};
}

static void start_scan_thread(Engine* engine) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread inherits "all blocked"
  pthread_t t;
  if (pthread_create(&t, &attr, coverage_thread, engine) != 0) UZ_WARN("coverage: cannot start the scan thread; scanned once");
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
}

namespace {

// The brk heap as it is when uzswap starts holds what the dynamic loader allocated for the
// objects loaded at startup (link maps, their version and scope arrays). A thread's first
// call through a lazily bound PLT slot reads them; a fault handler must never fault on
// managed memory (it would wait for a handler). So that part of the heap is never managed.
void exclude_startup_heap() {
  pthread_mutex_lock(&g_scan_lock);
  if (g_snapshot.read()) {
    for (size_t i = 0; i < g_snapshot.size(); ++i)
      if (g_snapshot[i].name == MapsName::Heap) {
        own_ranges().add(g_snapshot[i].begin, g_snapshot[i].end);
        break;
      }
  }
  pthread_mutex_unlock(&g_scan_lock);
}

}  // namespace

void coverage_start(Engine* engine) {
  if (!runtime().options.coverage) return;
  exclude_startup_heap();
  coverage_scan(engine);
  start_scan_thread(engine);
}

// g_fork_holds_scan: from our prepare to the release, in the parent or in the child's
// first handler (other libraries' child handlers may mlockall, which scans).
bool g_fork_holds_scan = false;

void coverage_fork_prepare() {
  pthread_mutex_lock(&g_scan_lock);
  g_fork_holds_scan = true;
}

void coverage_fork_parent() {
  if (!g_fork_holds_scan) return;
  g_fork_holds_scan = false;
  pthread_mutex_unlock(&g_scan_lock);
}

void coverage_fork_child(Engine* engine) {
  g_fork_holds_scan = false;
  pthread_mutex_init(&g_scan_lock, nullptr);
  if (runtime().options.coverage) start_scan_thread(engine);
}

}  // namespace uzswap::preload
