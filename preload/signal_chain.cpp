// preload/signal_chain.cpp — see signal_chain.h.
#include "preload/signal_chain.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "common/log.h"
#include "common/own_thread.h"
#include "preload/crash_report.h"

namespace uzswap::preload {
namespace {

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SigInfoHandler = void (*)(int, siginfo_t*, void*);

constexpr size_t kNumFatal = std::size(kFatalSignals);
constexpr uintptr_t kDefault = reinterpret_cast<uintptr_t>(SIG_DFL);
constexpr uintptr_t kIgnore = 1;  // SIG_IGN
// The flags of a new action that the kernel keeps (it clears others since Linux 5.11),
// besides the architecture's SA_RESTORER (see g_library_flags); 0x800 is
// SA_EXPOSE_TAGBITS, which Debian 12's headers do not name.
constexpr int kKernelFlags = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | 0x800 | SA_ONSTACK | SA_RESTART | SA_NODEFER |
                             static_cast<int>(SA_RESETHAND);
// The flags of the program's action that our own action copies (see signal_chain.h).
constexpr int kMirroredFlags = SA_ONSTACK | SA_RESTART | SA_NODEFER;
constexpr size_t kKernelMaskBytes = 8;  // the kernel's sigset_t, all that sigaction passes

// The part of an action that the kernel keeps and sigaction returns.
struct Action {
  uintptr_t handler = kDefault;  // SIG_DFL, SIG_IGN, or the sa_handler / sa_sigaction address
  int flags = 0;
  uint64_t mask = 0;
  uintptr_t restorer = 0;
};

// One program's view, under a seqlock (writers hold g_lock).
struct ViewSlot {
  std::atomic<uint32_t> seq{0};
  std::atomic<uintptr_t> handler{kDefault};
  std::atomic<int> flags{0};
  std::atomic<uint64_t> mask{0};
  std::atomic<uintptr_t> restorer{0};
};

std::atomic<SigactionFn> g_next_sigaction{nullptr};
ViewSlot g_views[kNumFatal];
std::atomic<bool> g_lock{false};
std::atomic<bool> g_on{false};
// What the C library's sigaction adds to every action (SA_RESTORER and its restorer on
// x86-64), learnt from our own action read back (written under g_lock at install).
int g_library_flags = 0;
uintptr_t g_restorer = 0;
std::atomic<pid_t> g_reporter{0};  // the thread printing a crash report
thread_local bool t_reporting = false;

int index_of(int sig) {
  for (size_t i = 0; i < kNumFatal; ++i)
    if (kFatalSignals[i] == sig) return static_cast<int>(i);
  return -1;
}

// Held by every writer of the views or of the kernel's actions, with all signals blocked
// so that a handler calling sigaction on the same thread cannot spin on it forever.
class ChainLock {
 public:
  ChainLock() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
    while (g_lock.exchange(true, std::memory_order_acquire)) sched_yield();
  }
  ~ChainLock() {
    g_lock.store(false, std::memory_order_release);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ChainLock(const ChainLock&) = delete;
  ChainLock& operator=(const ChainLock&) = delete;

 private:
  sigset_t old_;
};

// A seqlock whose every access is sequentially consistent (a handful of loads per signal):
// a read that overlaps a write sees the sequence number change and retries.
Action read_view(int i) {
  ViewSlot& v = g_views[i];
  for (;;) {
    uint32_t before = v.seq.load();
    if (before & 1) {
      sched_yield();
      continue;
    }
    Action a;
    a.handler = v.handler.load();
    a.flags = v.flags.load();
    a.mask = v.mask.load();
    a.restorer = v.restorer.load();
    if (v.seq.load() == before) return a;
  }
}

void write_view(int i, const Action& a) {  // g_lock held
  ViewSlot& v = g_views[i];
  uint32_t seq = v.seq.load();
  v.seq.store(seq + 1);
  v.handler.store(a.handler);
  v.flags.store(a.flags);
  v.mask.store(a.mask);
  v.restorer.store(a.restorer);
  v.seq.store(seq + 2);
}

bool is_handler(const Action& a) { return a.handler != kDefault && a.handler != kIgnore; }

// What the kernel holds for an action read back with sigaction.
Action from_kernel(const struct sigaction& k) {
  Action a;
  a.handler = reinterpret_cast<uintptr_t>(k.sa_handler);
  a.flags = k.sa_flags;
  memcpy(&a.mask, &k.sa_mask, kKernelMaskBytes);
  a.restorer = reinterpret_cast<uintptr_t>(k.sa_restorer);
  return a;
}

// What the kernel would hold after the C library's sigaction(sig, &act): the C library
// adds its restorer, the kernel drops unknown flags and SIGKILL/SIGSTOP from the mask.
Action normalised(const struct sigaction& act) {
  Action a;
  a.handler = reinterpret_cast<uintptr_t>(act.sa_handler);
  a.flags = (act.sa_flags & kKernelFlags) | g_library_flags;
  memcpy(&a.mask, &act.sa_mask, kKernelMaskBytes);
  a.mask &= ~((uint64_t{1} << (SIGKILL - 1)) | (uint64_t{1} << (SIGSTOP - 1)));
  a.restorer = g_restorer;
  return a;
}

// Fills `old` as the C library's sigaction does (past the kernel's 64 signals, its
// sa_mask gets whatever the C library's stack held: zeros here).
void to_user(const Action& a, struct sigaction* old) {
  old->sa_handler = reinterpret_cast<sighandler_t>(a.handler);
  old->sa_flags = a.flags;
  sigemptyset(&old->sa_mask);
  memcpy(&old->sa_mask, &a.mask, kKernelMaskBytes);
  old->sa_restorer = reinterpret_cast<void (*)()>(a.restorer);
}

struct sigaction kernel_request(const Action& a) {
  struct sigaction k{};
  k.sa_handler = reinterpret_cast<sighandler_t>(a.handler);
  k.sa_flags = a.flags;
  sigemptyset(&k.sa_mask);
  memcpy(&k.sa_mask, &a.mask, kKernelMaskBytes);
  return k;
}

void on_fatal_signal(int sig, siginfo_t* info, void* ucontext);

// Makes ours the kernel's action for `sig`, fitted to the program's view (g_lock held).
int install_ours(int sig, const Action& view) {
  struct sigaction ours{};
  ours.sa_sigaction = on_fatal_signal;
  sigemptyset(&ours.sa_mask);
  if (is_handler(view)) {
    ours.sa_flags = SA_SIGINFO | (view.flags & kMirroredFlags);
    memcpy(&ours.sa_mask, &view.mask, kKernelMaskBytes);
  } else {
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
  }
  return real_sigaction(sig, &ours, nullptr);
}

// If something replaced our action without going through the interposed calls (a raw
// rt_sigaction, sigset(), the C library's own calls), what it installed is the
// program's action now (g_lock held).
void adopt_if_replaced(int i) {
  struct sigaction cur;
  if (real_sigaction(kFatalSignals[i], nullptr, &cur) != 0) return;
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fatal_signal) return;
  write_view(i, from_kernel(cur));
}

// A fault (the kernel's si_code > 0) or a signal sent to this very thread (abort, raise,
// pthread_kill, tgkill); not one sent to the whole process that happened to land here.
bool aimed_at_this_thread(const siginfo_t* info) { return info->si_code > 0 || info->si_code == SI_TKILL; }

// The default action, whose end for every fatal signal is the process's: SIG_DFL
// installed, the signal sent again to this thread with the same siginfo. It stays
// pending while this handler runs and ends the process as the handler returns (a fault
// would also fault again).
void die_by_default(int sig, const siginfo_t* info) {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  real_sigaction(sig, &dfl, nullptr);
  siginfo_t again = *info;
  pid_t pid = getpid(), tid = gettid();
  if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &again) != 0) syscall(SYS_tgkill, pid, tid, sig);
}

// One report at a time; a second crashing thread waits (at most 2 s) for the first one
// to end the process.
void wait_for_turn() {
  pid_t me = gettid();
  for (int tries = 0; tries < 200; ++tries) {
    pid_t none = 0;
    if (g_reporter.compare_exchange_strong(none, me, std::memory_order_acq_rel)) return;
    timespec pause{0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

void report_and_die(int sig, siginfo_t* info, void* ucontext) {
  if (!t_reporting) {  // not a fault of the report itself
    t_reporting = true;
    wait_for_turn();
    crash_report_print(sig, info, ucontext);
  }
  die_by_default(sig, info);
}

// SA_RESETHAND: the kernel resets the action to SIG_DFL as it delivers the signal.
void reset_view_to_default(int i) {
  ChainLock lock;
  Action a = read_view(i);
  a.handler = kDefault;
  write_view(i, a);
  install_ours(kFatalSignals[i], a);
}

// What the kernel would have done with the program's action.
void forward_to_program(int sig, siginfo_t* info, void* ucontext, int saved_errno) {
  int i = index_of(sig);
  Action view = read_view(i);
  if (view.handler == kDefault || (view.handler == kIgnore && info->si_code > 0)) {
    die_by_default(sig, info);  // a fault is never ignored: the kernel kills
  } else if (is_handler(view)) {
    if (view.flags & static_cast<int>(SA_RESETHAND)) reset_view_to_default(i);
    errno = saved_errno;
    if (view.flags & SA_SIGINFO) {
      reinterpret_cast<SigInfoHandler>(view.handler)(sig, info, ucontext);
    } else {
      reinterpret_cast<sighandler_t>(view.handler)(sig);
    }
    return;
  }
  errno = saved_errno;
}

std::atomic<FaultHook> g_fault_hook{nullptr};

void on_fatal_signal(int sig, siginfo_t* info, void* ucontext) {
  int saved_errno = errno;
  if (sig == SIGBUS && info != nullptr && info->si_code == BUS_ADRERR) {
    FaultHook hook = g_fault_hook.load(std::memory_order_acquire);
    if (hook != nullptr && hook(info->si_addr)) {
      errno = saved_errno;
      return;  // the access is retried and finds the page
    }
  }
  if (is_own_thread() && aimed_at_this_thread(info)) {
    report_and_die(sig, info, ucontext);
    errno = saved_errno;
    return;
  }
  forward_to_program(sig, info, ucontext, saved_errno);
}

}  // namespace

int real_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  SigactionFn next = g_next_sigaction.load(std::memory_order_acquire);
  if (next == nullptr) {
    next = reinterpret_cast<SigactionFn>(dlsym(RTLD_NEXT, "sigaction"));
    if (next == nullptr) {
      errno = ENOSYS;
      return -1;
    }
    g_next_sigaction.store(next, std::memory_order_release);
  }
  return next(sig, act, old);
}

void signal_chain_set_fault_hook(FaultHook hook) { g_fault_hook.store(hook, std::memory_order_release); }

bool signal_chain_owns(int sig) {
  if (!g_on.load(std::memory_order_acquire)) return false;
  struct sigaction cur;
  return real_sigaction(sig, nullptr, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fatal_signal;
}

bool signal_chain_install() {
  struct sigaction probe;
  if (real_sigaction(SIGSEGV, nullptr, &probe) != 0) return false;  // resolves the next sigaction
  if (!crash_report_init()) UZ_INFO("libunwind cannot be loaded: a crash of uzswap's threads will show no backtrace");
  ChainLock lock;
  if (g_on.load(std::memory_order_relaxed)) return true;
  for (size_t i = 0; i < kNumFatal; ++i) {
    struct sigaction cur;
    if (real_sigaction(kFatalSignals[i], nullptr, &cur) != 0) return false;
    write_view(static_cast<int>(i), from_kernel(cur));
  }
  for (size_t i = 0; i < kNumFatal; ++i) {
    if (install_ours(kFatalSignals[i], read_view(static_cast<int>(i))) == 0) continue;
    for (size_t j = 0; j < i; ++j) {
      struct sigaction k = kernel_request(read_view(static_cast<int>(j)));
      real_sigaction(kFatalSignals[j], &k, nullptr);
    }
    return false;
  }
  struct sigaction ours;
  if (real_sigaction(kFatalSignals[0], nullptr, &ours) == 0) {
    g_library_flags = ours.sa_flags & ~(kKernelFlags | SA_SIGINFO);
    g_restorer = reinterpret_cast<uintptr_t>(ours.sa_restorer);
  }
  g_on.store(true, std::memory_order_release);
  own_threads_take_fatal_signals(true);
  return true;
}

void signal_chain_uninstall() {
  ChainLock lock;
  if (!g_on.load(std::memory_order_relaxed)) return;
  for (size_t i = 0; i < kNumFatal; ++i) {
    adopt_if_replaced(static_cast<int>(i));
    struct sigaction k = kernel_request(read_view(static_cast<int>(i)));
    real_sigaction(kFatalSignals[i], &k, nullptr);
  }
  g_on.store(false, std::memory_order_release);
  own_threads_take_fatal_signals(false);
}

void signal_chain_fork_child_reset() {
  // Single-threaded now: a lock held by a thread of the parent is nobody's any more, and
  // a view it was writing is taken as it stands.
  g_lock.store(false, std::memory_order_relaxed);
  for (ViewSlot& v : g_views) v.seq.store((v.seq.load(std::memory_order_relaxed) | 1) + 1, std::memory_order_relaxed);
  g_reporter.store(0, std::memory_order_relaxed);
}

void signal_chain_fork_child(bool keep_installed) {
  signal_chain_fork_child_reset();
  if (!keep_installed) signal_chain_uninstall();
}

void signal_chain_before_exec() {
  ChainLock lock;
  if (!g_on.load(std::memory_order_relaxed)) return;
  for (size_t i = 0; i < kNumFatal; ++i) {
    adopt_if_replaced(static_cast<int>(i));
    Action view = read_view(static_cast<int>(i));
    if (view.handler != kIgnore) continue;
    struct sigaction k = kernel_request(view);
    real_sigaction(kFatalSignals[i], &k, nullptr);
  }
}

void signal_chain_after_failed_exec() {
  ChainLock lock;
  if (!g_on.load(std::memory_order_relaxed)) return;
  for (size_t i = 0; i < kNumFatal; ++i) install_ours(kFatalSignals[i], read_view(static_cast<int>(i)));
}

bool signal_chain_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  int i = index_of(sig);
  if (i < 0 || !g_on.load(std::memory_order_acquire)) return false;
  struct sigaction request;
  if (act != nullptr) request = *act;  // read before locking: a bad pointer faults outside the lock
  Action previous;
  {
    ChainLock lock;
    if (!g_on.load(std::memory_order_relaxed)) return false;
    adopt_if_replaced(i);
    previous = read_view(i);
    if (act != nullptr) {
      Action next = normalised(request);
      write_view(i, next);
      install_ours(sig, next);
    }
  }
  if (old != nullptr) to_user(previous, old);
  return true;
}

}  // namespace uzswap::preload
