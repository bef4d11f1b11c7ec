// preload/stats_export.cpp — see stats_export.h; region format in stats_layout.h.
//
// State: one process-wide Exporter `g` (static storage, no heap):
//   phase          Off -> Running (stats_export_start) -> Stopped (stats_export_stop)
//                  -> Running again (stats_export_start after a failed exec: a new
//                  region; counters carry over); Running -> Running in a fork child
//                  (stats_export_fork_child), or -> Off there if the child cannot get a
//                  region of its own or does not want one (stats_export_detach_child).
//   region         the mapping; counters and histograms point into it while Running
//   source/ctx     where gauges come from (the engine adapter or a caller's function)
//   frame          the publisher's scratch GaugeFrame (~37 KiB, too big for a stack)
//   options        the effective options text, republished with every frame
//   thread         the publisher, waking publish_hz times a second or when told to stop
//
// Lock: one mutex, g.lock, guards every field above and every write of the gauges
// section; the publisher holds it while it calls the source and writes the frame, so
// when set_source returns the old source is no longer in use. The seqlock in the region
// only orders the single writer against readers in other processes; it is no lock.
//
// The mapping is never unmapped in the process that relocated its counters into it:
// another uzswap thread may have loaded the block pointer just before a relocation
// and still add to it. Stopping unlinks the file (zsstat no longer finds it); the pages
// go with the process. Only a fork child, single-threaded, unmaps its parent's region.
#include "preload/stats_export.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/counters.h"
#include "common/histogram.h"
#include "common/log.h"
#include "common/own_thread.h"
#include "preload/stats_gauges.h"
#include "preload/stats_region.h"

namespace uzswap {
namespace {

using stats::GaugeFrame;
using stats::GaugeSectionHeader;
using stats::MappedRegion;

enum class Phase : uint8_t { Off, Running, Stopped };

struct Exporter {
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake;
  bool cond_ready = false;
  Phase phase = Phase::Off;
  MappedRegion region;
  StatsGaugeSource source = nullptr;
  void* source_ctx = nullptr;
  GaugeFrame frame;
  char options[stats::kOptionsCapacity];
  size_t options_len = 0;
  char dir[256] = {};
  uint32_t publish_hz = 4;
  bool stop_requested = false;
  bool thread_running = false;
  pthread_t thread;
};
Exporter g;

// Counters and histograms go here when no region can hold them (a fork child without
// a region of its own must not write into its parent's).
CounterBlock g_private_counters;
HistogramBlock g_private_histograms;

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Release stores: a reader that sees any word of a publish also sees the odd sequence
// number stored before it (the seqlock's writer side without a fence, which TSan cannot
// model; on x86 these are plain stores).
void store_word(uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Copies text into the section as whole 64-bit words (readers copy it word by word).
void store_text(uint8_t* dst, const char* text, size_t len, size_t capacity) {
  for (size_t off = 0; off < capacity; off += 8) {
    uint64_t w = 0;
    if (off < len) memcpy(&w, text + off, len - off < 8 ? len - off : 8);
    store_word(reinterpret_cast<uint64_t*>(dst + off), w);
  }
}

// Writes g.frame and g.options into the gauges section under the seqlock. g.lock held.
void write_frame_locked() {
  const stats::RegionHeader* h = g.region.header();
  uint8_t* sec = g.region.at(h->gauges.offset);
  auto* gh = reinterpret_cast<GaugeSectionHeader*>(sec);
  uint64_t seq = __atomic_load_n(&gh->seq, __ATOMIC_RELAXED);
  store_word(&gh->seq, seq + 1);
  auto* values = reinterpret_cast<uint64_t*>(sec + stats::kGaugeValuesOffset);
  for (size_t i = 0; i < stats::kNumGauges; ++i) store_word(&values[i], g.frame.value[i]);
  uint64_t* rows = values + stats::kNumGauges;
  if (g.frame.num_classes > stats::kMaxClasses) g.frame.num_classes = stats::kMaxClasses;
  for (size_t r = 0; r < g.frame.num_classes; ++r)
    for (size_t c = 0; c < stats::kNumClassColumns; ++c)
      store_word(&rows[r * stats::kNumClassColumns + c], g.frame.classes[r][c]);
  auto* text = reinterpret_cast<uint8_t*>(rows + stats::kMaxClasses * stats::kNumClassColumns);
  store_text(text, g.options, g.options_len, h->options_capacity);
  store_word(&gh->num_classes, g.frame.num_classes);
  store_word(&gh->options_length, g.options_len);
  store_word(&gh->publish_count, __atomic_load_n(&gh->publish_count, __ATOMIC_RELAXED) + 1);
  store_word(&gh->publish_monotonic_ns, clock_ns(CLOCK_MONOTONIC));
  store_word(&gh->publish_realtime_ns, clock_ns(CLOCK_REALTIME));
  __atomic_store_n(&gh->seq, seq + 2, __ATOMIC_RELEASE);
}

void publish_locked() {
  if (g.phase != Phase::Running) return;
  stats::gauges_clear(&g.frame);
  if (g.source) g.source(g.source_ctx, &g.frame);
  write_frame_locked();
}

void engine_source(void* ctx, GaugeFrame* frame) {
  stats::gauges_from_engine(static_cast<Engine*>(ctx), frame);
}

timespec deadline_after_ns(uint64_t ns) {
  uint64_t t = clock_ns(CLOCK_MONOTONIC) + ns;
  return timespec{static_cast<time_t>(t / 1000000000ull), static_cast<long>(t % 1000000000ull)};
}

void* publisher_main(void*) {
  own_thread_begin();
  pthread_mutex_lock(&g.lock);
  while (!g.stop_requested) {
    publish_locked();
    timespec until = deadline_after_ns(1000000000ull / g.publish_hz);
    while (!g.stop_requested && pthread_cond_timedwait(&g.wake, &g.lock, &until) != ETIMEDOUT) {
    }
  }
  pthread_mutex_unlock(&g.lock);
  return nullptr;
}

void init_sync_objects() {
  pthread_mutex_init(&g.lock, nullptr);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&g.wake, &attr);
  pthread_condattr_destroy(&attr);
  g.cond_ready = true;
}

// Starts the publisher with every signal blocked, so the program's signals never land
// on our thread. g.lock not held.
bool start_publisher() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  g.stop_requested = false;
  int rc = pthread_create(&g.thread, nullptr, publisher_main, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) return false;
  pthread_setname_np(g.thread, "uzswap-stats");
  g.thread_running = true;
  return true;
}

void stop_publisher() {
  if (!g.thread_running) return;
  pthread_mutex_lock(&g.lock);
  g.stop_requested = true;
  pthread_cond_signal(&g.wake);
  pthread_mutex_unlock(&g.lock);
  pthread_join(g.thread, nullptr);
  g.thread_running = false;
}

// Points the counters and histograms at the region (or at private blocks if none).
void relocate_blocks(const MappedRegion& region) {
  if (!region.base) {
    counters_relocate(&g_private_counters);
    histograms_relocate(&g_private_histograms);
    return;
  }
  const stats::RegionHeader* h = region.header();
  counters_relocate(reinterpret_cast<CounterBlock*>(region.at(h->counters.offset)));
  histograms_relocate(reinterpret_cast<HistogramBlock*>(region.at(h->histograms.offset)));
}

void zero_blocks() {
  CounterBlock* c = counters_block();
  for (auto& row : c->row)
    for (auto& v : row.value) v.store(0, std::memory_order_relaxed);
  HistogramBlock* hb = histograms_block();
  for (auto& row : hb->row)
    for (auto& per_hist : row.count)
      for (auto& v : per_hist) v.store(0, std::memory_order_relaxed);
}

// Creates the region and moves the blocks into it; Phase::Running on success.
bool open_region() {
  char why[PATH_MAX + 128];
  if (!stats::region_create(g.dir[0] ? g.dir : nullptr, &g.region, why, sizeof why)) {
    UZ_WARN("stats export disabled (zsstat will not see this process): %s", why);
    return false;
  }
  relocate_blocks(g.region);
  g.phase = Phase::Running;
  pthread_mutex_lock(&g.lock);
  publish_locked();
  pthread_mutex_unlock(&g.lock);
  return true;
}

}  // namespace

bool stats_export_start(const StatsExportOptions& options) {
  if (g.phase == Phase::Running) return true;
  if (!g.cond_ready) init_sync_objects();
  // A stopped region's mapping stays (see the top of this file); a new one is made.
  g.region = MappedRegion{};
  if (options.dir) {
    size_t n = strlen(options.dir);
    if (n >= sizeof g.dir) {
      UZ_WARN("stats export disabled: directory name too long");
      return false;
    }
    memcpy(g.dir, options.dir, n + 1);
  }
  g.publish_hz = options.publish_hz < 1 ? 1 : options.publish_hz > 1000 ? 1000 : options.publish_hz;
  if (!open_region()) return false;
  if (!start_publisher()) {
    UZ_WARN("stats export: no publisher thread; gauges are published only on demand");
  }
  return true;
}

void stats_export_set_source(StatsGaugeSource fn, void* ctx) {
  if (!g.cond_ready) return;
  pthread_mutex_lock(&g.lock);
  g.source = fn;
  g.source_ctx = ctx;
  publish_locked();
  pthread_mutex_unlock(&g.lock);
}

void stats_export_set_engine(Engine* engine) {
  stats_export_set_source(engine ? engine_source : nullptr, engine);
}

void stats_export_set_options(const char* lines) {
  if (!g.cond_ready) return;
  size_t n = lines ? strlen(lines) : 0;
  pthread_mutex_lock(&g.lock);
  g.options_len = n < sizeof g.options ? n : sizeof g.options;
  if (g.options_len) memcpy(g.options, lines, g.options_len);
  publish_locked();
  pthread_mutex_unlock(&g.lock);
}

void stats_export_publish_now() {
  if (!g.cond_ready) return;
  pthread_mutex_lock(&g.lock);
  publish_locked();
  pthread_mutex_unlock(&g.lock);
}

void stats_export_fork_prepare() {
  if (g.cond_ready) pthread_mutex_lock(&g.lock);
}

void stats_export_fork_parent() {
  if (g.cond_ready) pthread_mutex_unlock(&g.lock);
}

void stats_export_fork_child() {
  // Single-threaded here: the parent's publisher did not come along, and the lock was
  // copied held (stats_export_fork_prepare, or by the publisher).
  if (g.cond_ready) init_sync_objects();
  if (g.phase != Phase::Running) return;
  g.thread_running = false;
  g.source = nullptr;
  g.source_ctx = nullptr;
  MappedRegion parent = g.region;
  g.region = MappedRegion{};
  g.phase = Phase::Off;
  if (!open_region()) relocate_blocks(g.region);  // private blocks: none of the parent's
  zero_blocks();
  stats::region_unmap(&parent);
  if (g.phase == Phase::Running) start_publisher();
}

void stats_export_detach_child() {
  if (g.cond_ready) init_sync_objects();  // see stats_export_fork_child
  if (g.phase != Phase::Running) return;
  g.thread_running = false;
  g.source = nullptr;
  g.source_ctx = nullptr;
  MappedRegion parent = g.region;
  g.region = MappedRegion{};
  relocate_blocks(g.region);  // private blocks
  zero_blocks();
  stats::region_unmap(&parent);
  g.phase = Phase::Off;
}

void stats_export_stop() {
  if (g.phase != Phase::Running) return;
  stop_publisher();
  pthread_mutex_lock(&g.lock);
  stats::region_retire(&g.region);
  g.phase = Phase::Stopped;
  pthread_mutex_unlock(&g.lock);
}

void stats_export_unlink_now() {
  if (g.phase == Phase::Running && g.region.base) unlink(g.region.path);
}

const char* stats_export_path() { return g.phase == Phase::Running ? g.region.path : nullptr; }

}  // namespace uzswap
