// preload/fork.cpp — what happens to managed memory across fork().
//
// A fork child inherits the engine's memory (page-entry tables, pool, staging area: all
// copy-on-write) but none of its threads, and its copies of managed ranges lost their
// userfaultfd registration. Two paths, chosen by the prepare handler:
//
// Takeover (the usual one; uffd/engine_fork.cpp has the engine's side):
//   prepare (parent, before fork): take fork_lock (no manage/unmanage until the fork is
//            over); hold the stats export's lock (its publisher is then not inside the
//            pool or the engine at the fork); Engine::fork_prepare quiesces the engine:
//            reclaim paused, fault handlers out of mid-resolution states, only the
//            forking thread's faults served until the fork. Evicted pages stay evicted.
//   parent   (after fork, or after a failed fork): Engine::fork_parent resumes; release
//            the stats lock and fork_lock.
//   child    (after fork, single-threaded), in two handlers:
//            fork_child_first, registered before anyone's (atfork_first.cpp), so first of
//            all child handlers: detach from the parent's stats region, then
//            Engine::fork_child_early (a transitional userfaultfd in SIGBUS mode, every
//            range registered) and the signal chain's SIGBUS hook, so that other
//            libraries' child handlers find evicted pages brought in; then it releases
//            fork_lock and the range sets (they may mmap, munmap, mlock, start threads);
//            fork_child, registered by our constructor, after those: the hook removed,
//            Engine::fork_child (its own userfaultfd, new handler and reclaim threads), a
//            stats region of its own (zsstat lists it under its pid), the coverage scan
//            thread again if it runs. The child runs under uzswap with its own limit. If
//            the engine cannot restart there, it has written every evicted page back in
//            place and the child runs without uzswap.
// Takeover needs UZSWAP_FORK_TAKEOVER=1, our first child handler registered and the
// signal chain owning SIGBUS; otherwise every fork takes the restore path.
// Restore (the default; also when fork_prepare refuses: the kernel gives no faulting
// thread id, or a userfaultfd cannot be opened now):
//   prepare: list the managed VMAs from /proc/self/maps and unmanage each without
//            discarding: every evicted page is brought back, so the kernel copies
//            complete memory into the child; parent: manage the same ranges again;
//   child:   runs without uzswap (engine pointer cleared by our first child handler, so
//            other libraries' child handlers pass straight through; its inherited state
//            is never touched), with no stats file.
// What the takeover path leaves open (pages touched in the child before our child handler
// runs, mm changes racing the fork syscall) is listed in uffd/engine_fork.cpp and
// docs/engine.md. vfork and posix_spawn do not run these handlers and need nothing: the
// child shares the parent's memory, and the parent's handler threads serve its faults
// until it execs or exits.
//
// Data layout: fork_lock (a pthread mutex), g_path (the path of the fork in progress),
// and a snapshot array of ranges in memory of our own (mmap'd once by fork_install, never
// managed). All are written by the prepare handler and read by the parent/child handler,
// under fork_lock.
// Lock order: fork_lock, then the stats export's lock, then the engine's locks.
#include "preload/fork_guard.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd_guard.h"
#include "common/log.h"
#include "preload/coverage.h"
#include "preload/interpose.h"
#include "preload/lifecycle.h"
#include "preload/locked.h"
#include "preload/own_memory.h"
#include "preload/signal_chain.h"
#include "preload/real_calls.h"
#include "preload/runtime.h"
#include "preload/stats_export.h"
#include "preload/threads.h"

// glibc's list of open FILEs (exported; not declared by its public headers).
extern "C" void* _IO_list_all;
extern "C" void _IO_list_lock();
extern "C" void _IO_list_unlock();

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

enum class ForkPath : uint8_t {
  None,      // no engine: nothing to do
  Takeover,  // the engine is quiesced; the child takes it over
  Restore,   // evicted pages were brought back and the ranges unmanaged (g_snapshot)
};
ForkPath g_path = ForkPath::None;

void restore_for_fork(Engine* engine) {
  snapshot_managed_ranges(engine);
  for (size_t i = 0; i < g_snapshot_count; ++i) {
    const Range& r = g_snapshot[i];
    engine->unmanage(reinterpret_cast<void*>(r.begin), r.end - r.begin, /*discard=*/false);
  }
  interpose_stats().fork_ranges_restored.fetch_add(g_snapshot_count, std::memory_order_relaxed);
}

void manage_again_after_fork(Engine* engine) {
  for (size_t i = 0; i < g_snapshot_count; ++i) {
    const Range& r = g_snapshot[i];
    if (!engine->manage(reinterpret_cast<void*>(r.begin), r.end - r.begin))
      interpose_stats().manage_refused.fetch_add(1, std::memory_order_relaxed);
  }
  g_snapshot_count = 0;
}

// The range sets program threads change (mlock, thread start and exit) are held across
// the fork, last: a thread inside one at the fork would leave the child's copy locked.
// uzswap's own set is changed only by uzswap's threads and the scan (held by then); the
// child unlocks its copy whatever it holds.
void lock_program_range_sets() {
  locked_ranges().lock_for_fork();
  thread_stacks().lock_for_fork();
}

void unlock_program_range_sets() {
  thread_stacks().unlock_after_fork();
  locked_ranges().unlock_after_fork();
}

// glibc's fork resets the lock of every FILE on its list in the child, before any atfork
// child handler (fresetlockfiles): an fopen'd FILE lives in the malloc heap, and where its
// page was evicted the child would read zeros there (a null lock pointer: a crash). So the
// prepare step reads each FILE's flags and lock after reclaim was paused: present at the
// fork. FILEs opened later are new memory, present too.
void touch_stdio_files() {
  _IO_list_lock();
  for (FILE* f = reinterpret_cast<FILE*>(_IO_list_all); f != nullptr; f = f->_chain) {
    const int flags = *static_cast<volatile int*>(&f->_flags);
    if (!(flags & _IO_USER_LOCK) && f->_lock != nullptr) (void)*static_cast<volatile char*>(f->_lock);
  }
  _IO_list_unlock();
}

void prepare_engine() {
  g_path = ForkPath::None;
  Engine* engine = active_engine();
  if (engine == nullptr || g_snapshot == nullptr) return;
  stats_export_fork_prepare();
  // The takeover needs the child's transitional phase: our child handler first, and the
  // signal chain to hand it the SIGBUS of an evicted page.
  const bool takeover_possible =
      runtime().options.fork_takeover && fork_child_first_registered() && signal_chain_owns(SIGBUS);
  if (takeover_possible && engine->fork_prepare()) {
    touch_stdio_files();
    g_path = ForkPath::Takeover;
    interpose_stats().forks_taken_over.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_path = ForkPath::Restore;
  restore_for_fork(engine);
}

// Our prepare's locks (fork_lock, the program's range sets) are held until the child's
// first handler of ours releases them: the other libraries' child handlers, which run
// between our two, may mmap, munmap, mlock or start threads, which take them. g_child_*
// are the child's (single-threaded) record of its first handler.
bool g_locks_held = false;           // from our prepare to the parent's or child's release
bool g_child_first_ran = false;      // fork_child_first ran in this child
Engine* g_child_inherited = nullptr;  // the engine as the child inherited it (set by it)

void release_locks_in_child() {
  if (!g_locks_held) return;
  g_locks_held = false;
  unlock_program_range_sets();
  own_ranges().unlock_after_fork();
  pthread_mutex_unlock(&g_fork_lock);  // the child's only thread is the one that locked it
}

void fork_prepare() {
  coverage_fork_prepare();  // no scan in flight at the fork (its lock comes before fork_lock)
  pthread_mutex_lock(&g_fork_lock);
  prepare_engine();
  lock_program_range_sets();
  g_locks_held = true;
}

void fork_parent() {
  g_locks_held = false;
  unlock_program_range_sets();
  Engine* engine = active_engine();
  if (g_path == ForkPath::Takeover) engine->fork_parent();
  if (g_path == ForkPath::Restore) manage_again_after_fork(engine);
  if (g_path != ForkPath::None) stats_export_fork_parent();
  g_path = ForkPath::None;
  pthread_mutex_unlock(&g_fork_lock);
  coverage_fork_parent();
}

// --- The child's transitional phase (uffd/engine_fork.cpp) ----------------------------

bool transitional_fault(const void* addr) {
  Engine* e = active_engine();
  return e != nullptr && e->fork_child_fault(addr);
}

// The forking thread's signal state before the phase, restored at its end.
struct TransitionSignals {
  bool active = false;
  sigset_t mask;       // the mask before
  stack_t altstack;    // the alternate stack before (ss_flags SS_DISABLE: none)
};
TransitionSignals g_transition;

// For the phase: every signal blocked but the synchronous ones (a SIGBUS raised by a
// fault while blocked kills the process instead of reaching us; an asynchronous handler
// could touch evicted memory inside our hook, which is not re-entrant, or between the
// two userfaultfds in fork_child), and no alternate stack (it may be managed memory
// evicted at the fork, where the kernel could not write the signal frame).
void begin_transition() {
  sigset_t phase;
  sigfillset(&phase);
  for (int sig : {SIGBUS, SIGSEGV, SIGILL, SIGFPE, SIGTRAP}) sigdelset(&phase, sig);
  g_transition.active = pthread_sigmask(SIG_SETMASK, &phase, &g_transition.mask) == 0;
  if (sigaltstack(nullptr, &g_transition.altstack) != 0) g_transition.altstack.ss_flags = SS_DISABLE;
  if (!(g_transition.altstack.ss_flags & SS_DISABLE)) {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
  signal_chain_set_fault_hook(transitional_fault);
}

void end_transition() {
  signal_chain_set_fault_hook(nullptr);
  if (!g_transition.active) return;
  g_transition.active = false;
  if (!(g_transition.altstack.ss_flags & SS_DISABLE)) sigaltstack(&g_transition.altstack, nullptr);
  pthread_sigmask(SIG_SETMASK, &g_transition.mask, nullptr);  // pending signals arrive now
}

// A child without uzswap keeps none of its descriptors: they are the parent's engine's.
void close_own_descriptors() {
  int fds[kFdGuardSlots];
  size_t n = fd_ours(fds, kFdGuardSlots);
  fd_forget_all();
  for (size_t i = 0; i < n; ++i) syscall(SYS_close, fds[i]);
}

void fork_child() {
  signal_chain_set_fault_hook(nullptr);  // the phase's signal state is restored at the end
  // The child counts its own forks.
  interpose_stats().forks_taken_over.store(0, std::memory_order_relaxed);
  interpose_stats().fork_ranges_restored.store(0, std::memory_order_relaxed);
  Engine* engine = g_child_first_ran ? g_child_inherited : active_engine();
  g_child_first_ran = false;
  release_locks_in_child();  // unless the first handler did
  lifecycle_fork_child_detach();  // touches no managed memory; the engine counts from now on
  // Then at once: until the engine has registered the child's ranges (without the first
  // handler's transitional phase), evicted pages read as zeros.
  bool managing = g_path == ForkPath::Takeover && engine != nullptr && engine->fork_child();
  if (!managing) {
    runtime().engine.store(nullptr, std::memory_order_release);
    if (engine != nullptr) close_own_descriptors();
    coverage_fork_parent();  // releases the scan lock held since prepare (no scan thread here)
  }
  if (managing) threads_fork_child();
  g_snapshot_count = 0;
  ForkPath path = g_path;
  g_path = ForkPath::None;
  lifecycle_fork_child(managing ? engine : nullptr);
  end_transition();
  if (path == ForkPath::Restore) UZ_INFO("fork child: running without uzswap (its memory is complete and unmanaged)");
}

}  // namespace

void fork_child_first() {
  g_child_first_ran = true;
  Engine* engine = g_child_inherited = active_engine();
  // The restore path's child runs without uzswap: from now on every interposed call
  // passes straight through (the inherited engine's descriptor names the parent's).
  if (g_path == ForkPath::Restore) runtime().engine.store(nullptr, std::memory_order_release);
  if (g_path == ForkPath::Takeover && engine != nullptr) {
    signal_chain_fork_child_reset();  // the hook below runs in the chain's handler
    // Before any count: until then the counters are the parent's shared stats region.
    lifecycle_fork_child_detach();
    // False: the engine wrote every evicted page back and fork_child will say so.
    if (engine->fork_child_early()) begin_transition();
  }
  release_locks_in_child();
  coverage_fork_parent();  // the scan lock too: a child handler may mlockall (the forking thread took it)
}

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
