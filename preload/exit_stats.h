// preload/exit_stats.h — the at-exit summary (UZSWAP_SHOW_STATS=1), on stderr.
#pragma once

#include "uffd/engine.h"

namespace uzswap::preload {

// Keeps a close-on-exec duplicate of stderr for the summary: many programs close their
// stderr in their own exit handlers (gnulib's close_stdout in coreutils, xz), which run
// before uzswap's destructor. Called by the constructor when UZSWAP_SHOW_STATS is set.
void exit_stats_keep_stderr();

// Writes the engine's figures, the interposition figures, fault latencies and every
// non-zero counter, a few lines prefixed "uzswap[pid]: ", straight to that stderr (not
// through the rate-capped log: the user asked for all of it).
void print_exit_stats(Engine* engine);
// One more line of the summary, same prefix and destination (the coverage line, init.cpp).
void exit_stats_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace uzswap::preload
