// preload/stats_export.h — publishes this process's uzswap statistics for zsstat.
//
// The region (format: preload/stats_layout.h) holds the event counters and latency
// histograms themselves (relocated into it, so hot paths write shared memory directly,
// without a lock) and gauges that a publisher thread copies in a few times a second from
// a GaugeSource (normally the engine) under a seqlock.
//
// Order of use, by the preload library:
//   stats_export_start()        in the constructor, BEFORE any uzswap thread exists
//                               (counters and histograms move into the region)
//   stats_export_set_engine(e)  once the engine runs; nullptr before it stops
//   stats_export_set_options()  the effective options, "name=value" lines
//   stats_export_fork_prepare() before fork() (holds the lock: the publisher is not
//                               inside the engine or the pool at the fork);
//   stats_export_fork_parent()  after it in the parent (releases it);
//   stats_export_fork_child()   in the child after fork(), while it is single-threaded
//                               (or stats_export_detach_child() if the child runs
//                               without uzswap)
//   stats_export_stop()         in the destructor and before exec (removes the file);
//                               stats_export_start() again if the exec fails (the
//                               source is kept; counters carry over into a new region)
// set_engine(nullptr) before the engine goes away, even after stop.
// Every function fails open: a failure logs one line, disables the export and returns;
// nothing throws or aborts, and nothing prints to stdout.
#pragma once

#include <cstdint>

namespace uzswap {
class Engine;
namespace stats {
struct GaugeFrame;
}

struct StatsExportOptions {
  const char* dir = nullptr;  // nullptr: $UZSWAP_STATS_DIR, else /dev/shm
  uint32_t publish_hz = 4;    // gauge publishes a second (1..1000)
};

// Fills a frame; called on the publisher thread (or in stats_export_publish_now's
// caller) with the export's lock held, so it must not call back into stats_export_*.
using StatsGaugeSource = void (*)(void* ctx, stats::GaugeFrame* frame);

// Creates the region and starts the publisher. False (one line logged) if the export
// cannot run; uzswap runs on without it.
bool stats_export_start(const StatsExportOptions& options);
// Takes gauges from `engine` (nullptr: none). Returns once the publisher no longer uses
// the previous source.
void stats_export_set_engine(Engine* engine);
// Takes gauges from `fn(ctx, frame)` instead (nullptr: none). Same guarantee.
void stats_export_set_source(StatsGaugeSource fn, void* ctx);
// Publishes the effective options (text of "name=value" lines; truncated at 8 KiB).
void stats_export_set_options(const char* lines);
// Publishes the gauges now rather than at the next tick (at-exit summaries, tests).
void stats_export_publish_now();
// Around fork() in the parent: see the order of use above.
void stats_export_fork_prepare();
void stats_export_fork_parent();
// In the child after fork(): the child gets its own region and zeroed counters, and
// stops writing into its parent's. The source is cleared; set it again.
void stats_export_fork_child();
// In the child after fork(), for a child that runs without uzswap: it stops writing into
// its parent's region and makes none of its own (no file, no thread).
void stats_export_detach_child();
// Stops the publisher, marks the region stopped and removes its file. The source stays
// set (for a restart) but is not called while stopped.
void stats_export_stop();
// Removes the region's file now, without locks or stopping anything: for _exit
// (preload/quick_exit.cpp), which may run in a signal handler.
void stats_export_unlink_now();
// The region's path while the export runs, else nullptr.
const char* stats_export_path();

}  // namespace uzswap
