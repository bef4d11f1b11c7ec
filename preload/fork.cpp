// preload/fork.cpp — what happens to managed memory across fork().
//
// Without the engine's cooperation a fork child would see holes where the parent's pages
// are evicted (they live in the pool, not in the page tables the kernel copies), and the
// child has none of the engine's threads to serve faults. So, for now:
//   prepare (parent, before fork): take fork_lock, list the managed VMAs from
//            /proc/self/maps, and unmanage each without discarding: every evicted page is
//            brought back, so the kernel copies complete memory into the child;
//   parent  (after fork): manage the same ranges again; release fork_lock;
//   child   (after fork): run without uzswap (engine pointer cleared; the inherited engine
//            state is never touched: its threads and lock owners did not survive).
// The cost is that fork brings the parent's evicted pages back for a moment. vfork and
// posix_spawn do not run these handlers and need nothing: the child shares the parent's
// memory, and the parent's handler threads serve its faults until it execs or exits.
//
// Data layout: fork_lock (a pthread mutex), and a snapshot array of ranges in memory of
// our own (mmap'd once by fork_install, never managed). The snapshot is written by the
// prepare handler and read by the parent handler, both under fork_lock.
// Lock order: fork_lock, then the engine's locks (through manage/unmanage).
#include "preload/fork_guard.h"

#include <cerrno>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "preload/interpose.h"
#include "preload/lifecycle.h"
#include "preload/own_memory.h"
#include "preload/real_calls.h"
#include "preload/runtime.h"

namespace uzswap::preload {
namespace {

struct Range {
  uintptr_t begin;
  uintptr_t end;
};

constexpr size_t kSnapshotCapacity = 16384;  // 256 KiB of ranges

pthread_mutex_t g_fork_lock = PTHREAD_MUTEX_INITIALIZER;
Range* g_snapshot = nullptr;   // kSnapshotCapacity entries
size_t g_snapshot_count = 0;

uintptr_t parse_hex(const char** p) {
  uintptr_t v = 0;
  for (;; ++*p) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + static_cast<uintptr_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + static_cast<uintptr_t>(c - 'a' + 10);
    else return v;
  }
}

// One line of /proc/self/maps: "begin-end rwxp offset dev inode [path]". Records the VMA if
// it is private, writable, anonymous-looking (inode 0) and managed by the engine.
void consider_maps_line(const char* line, Engine* engine) {
  const char* p = line;
  uintptr_t begin = parse_hex(&p);
  if (*p++ != '-') return;
  uintptr_t end = parse_hex(&p);
  if (*p++ != ' ') return;
  if (p[1] != 'w' || p[3] != 'p') return;
  // Skip perms, offset, dev to the inode field.
  for (int field = 0; field < 3; ++field) {
    while (*p != ' ' && *p != '\0') ++p;
    while (*p == ' ') ++p;
  }
  if (p[0] != '0' || (p[1] != ' ' && p[1] != '\0')) return;
  if (!engine->is_managed(reinterpret_cast<const void*>(begin))) return;
  if (g_snapshot_count == kSnapshotCapacity) {
    UZ_WARN("fork: more than %zu managed ranges; the rest stay unmanaged in the parent", kSnapshotCapacity);
    return;
  }
  g_snapshot[g_snapshot_count++] = Range{begin, end};
}

// Fills the snapshot with the managed VMAs. Reads the whole file before anything changes
// (unmanaging may merge VMAs, which would shift the lines still to be read).
void snapshot_managed_ranges(Engine* engine) {
  g_snapshot_count = 0;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    UZ_WARN("fork: cannot read /proc/self/maps (errno %d); managed memory stays managed", errno);
    return;
  }
  char buf[8192];
  size_t held = 0;        // bytes of an incomplete line kept at buf[0..held)
  bool skipping = false;  // inside a line too long for buf (a long path: not anonymous)
  for (;;) {
    ssize_t n = read(fd, buf + held, sizeof buf - held - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t len = held + static_cast<size_t>(n);
    size_t start = 0;
    for (size_t i = 0; i < len; ++i) {
      if (buf[i] != '\n') continue;
      buf[i] = '\0';
      if (!skipping) consider_maps_line(buf + start, engine);
      skipping = false;
      start = i + 1;
    }
    held = len - start;
    if (held == sizeof buf - 1) {
      held = 0;
      skipping = true;
      continue;
    }
    for (size_t i = 0; i < held; ++i) buf[i] = buf[start + i];
  }
  close(fd);
}

void fork_prepare() {
  pthread_mutex_lock(&g_fork_lock);
  Engine* engine = active_engine();
  if (engine == nullptr || g_snapshot == nullptr) return;
  snapshot_managed_ranges(engine);
  for (size_t i = 0; i < g_snapshot_count; ++i) {
    const Range& r = g_snapshot[i];
    engine->unmanage(reinterpret_cast<void*>(r.begin), r.end - r.begin, /*discard=*/false);
  }
  interpose_stats().fork_ranges_restored.fetch_add(g_snapshot_count, std::memory_order_relaxed);
}

void fork_parent() {
  Engine* engine = active_engine();
  if (engine != nullptr) {
    for (size_t i = 0; i < g_snapshot_count; ++i) {
      const Range& r = g_snapshot[i];
      if (!engine->manage(reinterpret_cast<void*>(r.begin), r.end - r.begin))
        interpose_stats().manage_refused.fetch_add(1, std::memory_order_relaxed);
    }
  }
  g_snapshot_count = 0;
  pthread_mutex_unlock(&g_fork_lock);
}

void fork_child() {
  bool was_managing = active_engine() != nullptr;
  runtime().engine.store(nullptr, std::memory_order_release);
  g_snapshot_count = 0;
  // The child's only thread is the one that locked it in prepare.
  pthread_mutex_unlock(&g_fork_lock);
  lifecycle_fork_child();
  if (was_managing) UZ_INFO("fork child: running without uzswap (its memory is complete and unmanaged)");
}

}  // namespace

bool fork_install() {
  void* mem = real_mmap(nullptr, kSnapshotCapacity * sizeof(Range), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  own_memory_note_mmap(mem, kSnapshotCapacity * sizeof(Range));  // never managed by the coverage scan
  g_snapshot = static_cast<Range*>(mem);
  return pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
}

ForkGuard::ForkGuard() { pthread_mutex_lock(&g_fork_lock); }
ForkGuard::~ForkGuard() { pthread_mutex_unlock(&g_fork_lock); }

}  // namespace uzswap::preload
