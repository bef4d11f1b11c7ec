// uffd/uffd_file.h — one userfaultfd: opening, the API handshake, and the ioctls.
//
// The only code in uzswap that issues userfaultfd system calls. Everything here is a
// thin, allocation-free wrapper returning 0 or an errno value, so callers can tell
// EEXIST (page already present), EAGAIN (the mm is changing: an event is pending) and
// ENOENT (source page missing) apart. No shared state beyond the fd and the feature set
// fixed at open() (replaced only by reopen_in_child(), while the child is single-threaded).
//
// Deferred wakes (fork, see fork_gate.h): a thread may ask that its resolution ioctls
// leave the faulting thread asleep (DONTWAKE, and wake() does nothing) until it wakes it
// itself with wake_now(). The setting is per thread (thread_local).
#pragma once

#include <cstddef>
#include <cstdint>

#include "uffd/engine.h"

namespace uzswap::uffd {

// Features the handshake negotiated (a subset of what the kernel offers).
struct UffdFeatures {
  uint64_t kernel = 0;       // everything the kernel offered (UFFDIO_API with features 0)
  bool move = false;         // UFFDIO_MOVE
  bool wp = false;           // write-protect mode (UFFDIO_REGISTER_MODE_WP)
  bool poison = false;       // UFFDIO_POISON
  bool thread_id = false;    // fault messages carry the faulting thread id
  bool exact_address = false;
  bool zeropage = false;     // UFFDIO_ZEROPAGE on anonymous ranges (from UFFDIO_REGISTER)
};

class UffdFile {
 public:
  // Opens a userfaultfd (userfaultfd(2), else /dev/userfaultfd) and negotiates features.
  // `want_wp`: also ask for write-protect (the fallback eviction path). On failure
  // returns false and fills *result.
  bool open(bool want_wp, EngineStartResult* result);
  void close();
  // A fork child: forgets the inherited descriptor (it names the parent's context and
  // must never be read) and opens a new one negotiating the same features. False if
  // userfaultfd is refused now; the descriptor is then closed.
  // `transitional`: the early phase of a fork child (engine_fork.cpp): no events (nothing
  // reads them yet) and faults raise SIGBUS in the faulting thread instead of waiting.
  bool reopen_in_child(bool transitional);
  // True if the kernel offers what reopen_in_child(true) asks for.
  bool transitional_supported() const;
  // A userfaultfd of the calling process, unused: proof that one can be opened now and a
  // descriptor number kept free for the child's (fork_prepare). -1 if refused.
  int open_spare();

  int fd() const { return fd_; }
  const UffdFeatures& features() const { return features_; }

  // Registration. `wp` adds UFFDIO_REGISTER_MODE_WP to MISSING.
  int register_range(uintptr_t start, size_t len, bool wp);
  int unregister_range(uintptr_t start, size_t len);

  // Resolution ioctls. *done receives the bytes completed (also on partial failure).
  int zeropage(uintptr_t dst, size_t len, bool wake, size_t* done);
  int copy(uintptr_t dst, const void* src, size_t len, bool wake);
  int move(uintptr_t dst, uintptr_t src, size_t len, bool wake, size_t* done);
  int writeprotect(uintptr_t start, size_t len, bool protect, bool wake);
  int wake(uintptr_t start, size_t len);
  // Wakes even while wakes are deferred for the calling thread.
  int wake_now(uintptr_t start, size_t len);
  // Deferred wakes for the calling thread on (true) or off.
  static void defer_wakes(bool on);
  int poison(uintptr_t start, size_t len);

 private:
  int fd_ = -1;
  UffdFeatures features_;
  uint64_t requested_ = 0;   // the feature bits asked for at open()
};

}  // namespace uzswap::uffd
