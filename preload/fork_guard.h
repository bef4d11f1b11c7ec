// preload/fork_guard.h — fork handling of the preload library (see fork.cpp for the
// why) and the lock that keeps manage/unmanage calls out of a fork in progress.
#pragma once

namespace uzswap::preload {

// Registers the pthread_atfork handlers and reserves the range snapshot; from the
// constructor, once the engine runs. false if the snapshot memory could not be had.
bool fork_install();

// The child's first atfork handler (registered before anyone's by atfork_first.cpp): the
// transitional phase of a takeover. fork_child_first_registered: it is registered.
void fork_child_first();
bool fork_child_first_registered();

// Held around every manage/unmanage made by an interposed call, so that no range becomes
// managed between the fork prepare handler's snapshot and the fork itself.
class ForkGuard {
 public:
  ForkGuard();
  ~ForkGuard();
  ForkGuard(const ForkGuard&) = delete;
  ForkGuard& operator=(const ForkGuard&) = delete;
};

}  // namespace uzswap::preload
