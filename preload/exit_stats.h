// preload/exit_stats.h — the at-exit summary (UZSWAP_SHOW_STATS=1), on stderr.
#pragma once

#include "uffd/engine.h"

namespace uzswap::preload {

// Writes the engine's figures, the interposition figures, fault latencies and every
// non-zero counter, a few lines prefixed "uzswap[pid]: ", straight to stderr (not through
// the rate-capped log: the user asked for all of it).
void print_exit_stats(Engine* engine);

}  // namespace uzswap::preload
