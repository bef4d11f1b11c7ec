// preload/lifecycle.h — hooks of init.cpp that other preload files call at process-life
// events (exec, fork).
#pragma once

#include "uffd/engine.h"

namespace uzswap::preload {

// Before an exec by this process (not by a vfork/CLONE_VM child sharing its memory):
// removes what would outlive the image (the stats file), and gives the kernel the
// program's SIG_IGN for ignored fatal signals (signal_chain.h). The engine needs nothing:
// exec ends its threads and the memory, and its descriptors are close-on-exec.
void lifecycle_before_exec();
// The exec failed and the image goes on: publishes the stats again, chains the fatal
// signals again.
void lifecycle_after_failed_exec();
// In a fork child (single-threaded), first of all: the child stops writing into its
// parent's stats region (its counters go to private, zeroed blocks).
void lifecycle_fork_child_detach();
// Then, after the engine's own fork_child: `engine` is the engine the child took over (it
// gets a stats region of its own and the coverage scan thread), or nullptr if the child
// runs without uzswap (no stats file either); the program's own fatal-signal actions
// back (signal_chain.h) either way.
void lifecycle_fork_child(Engine* engine);

}  // namespace uzswap::preload
