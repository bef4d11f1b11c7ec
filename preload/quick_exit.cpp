// preload/quick_exit.cpp — _exit and _Exit: the stats file goes with the process.
//
// exit() runs our destructor (init.cpp), which removes the stats file; _exit() runs
// nothing. Fork children commonly leave by _exit (a BGSAVE child, a shell's subshell),
// and each runs uzswap with a stats file of its own (fork.cpp), so without this every
// such child would leave its file behind for zsstat to reap. Only the file is removed
// (unlink is async-signal-safe, and _exit may be called from a signal handler); the
// engine needs nothing: exit_group ends its threads and the kernel frees the rest. In a
// vfork child (sharing the parent's state, getpid() != owner pid) nothing is done.
// State: none of its own (stats_export.h, runtime.h).
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/runtime.h"
#include "preload/stats_export.h"

namespace {

[[noreturn]] void leave(int status) {
  if (uzswap::preload::runtime().owner_pid == static_cast<int>(syscall(SYS_getpid))) uzswap::stats_export_unlink_now();
  for (;;) syscall(SYS_exit_group, status);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void _exit(int status) { leave(status); }
__attribute__((visibility("default"))) void _Exit(int status) { leave(status); }

}  // extern "C"
