// preload/threads.cpp — see threads.h.
//
// Data layout: the RangeSet of live program thread stacks; one pthread key whose value in
// each started thread is that thread's StackNote; the real pthread_create, looked up once.
// StartRecord and StackNote come from the program's malloc: they are touched only by
// program threads, and glibc's malloc is fork-safe (uzswap's own allocator takes a spin
// lock a fork could inherit held).
// Lock order: ForkGuard, then the engine's locks (unmanage); the RangeSet's lock is a leaf.
#include "preload/threads.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/own_thread.h"
#include "preload/eligibility.h"
#include "preload/fork_guard.h"
#include "preload/runtime.h"

namespace uzswap::preload {
namespace {

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

struct StartRecord {
  void* (*start)(void*);
  void* arg;
};

struct StackNote {
  uintptr_t begin;
  uintptr_t end;
};

std::atomic<CreateFn> g_real_create{nullptr};
pthread_key_t g_stack_key;
std::atomic<bool> g_key_ready{false};

CreateFn real_create() {
  CreateFn f = g_real_create.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
    g_real_create.store(f, std::memory_order_release);
  }
  return f;
}

void forget_stack(void* raw) {
  auto* note = static_cast<StackNote*>(raw);
  thread_stacks().remove_within(note->begin, note->end);
  free(note);
}

bool may_be_managed(Engine* e, uintptr_t begin, uintptr_t end) {
  // Every managed range is at least a page; the ends and the middle before an unmanage walk.
  return e->is_managed(reinterpret_cast<void*>(begin)) || e->is_managed(reinterpret_cast<void*>(end - 1)) ||
         e->is_managed(reinterpret_cast<void*>(begin + (end - begin) / 2));
}

// The stack is already in thread_stacks(). The coverage scan checks that set and manages
// under the same guard, so taking the guard before looking closes the window in which a
// scan that checked before our add manages the stack after our look found nothing.
void unmanage_stack(uintptr_t begin, uintptr_t end) {
  if (active_engine() == nullptr) return;
  ForkGuard guard;
  Engine* e = active_engine();
  if (e != nullptr && may_be_managed(e, begin, end))
    e->unmanage(reinterpret_cast<void*>(begin), end - begin, /*discard=*/false);
}

// Runs first thing in a new program thread, on its own stack.
void note_own_stack() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* stack = nullptr;
  size_t size = 0;
  int rc = pthread_attr_getstack(&attr, &stack, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || stack == nullptr || size == 0) return;
  uintptr_t begin = reinterpret_cast<uintptr_t>(stack) & ~uintptr_t{4095};
  uintptr_t end = page_round_up(reinterpret_cast<uintptr_t>(stack) + size);
  bool recorded = thread_stacks().add(begin, end);
  unmanage_stack(begin, end);  // recorded or not (the set full): never leave it managed
  if (recorded && g_key_ready.load(std::memory_order_acquire)) {
    auto* note = static_cast<StackNote*>(malloc(sizeof(StackNote)));
    if (note != nullptr) *note = StackNote{begin, end};
    if (note != nullptr && pthread_setspecific(g_stack_key, note) != 0) free(note);
  }
}

void start_reaper();

void* start_program_thread(void* raw) {
  StartRecord rec = *static_cast<StartRecord*>(raw);
  free(raw);
  note_own_stack();
  void* result = rec.start(rec.arg);
  // Only in a fork child is a thread started here the main thread (tid == pid): the one
  // that forked, the child's only program thread. Its return ends it without pthread_exit
  // (CPython's threads return so), and glibc, counting uzswap's threads, would not end
  // the process: the reaper does, once the program's threads are gone.
  if (active_engine() != nullptr && gettid() == getpid()) start_reaper();
  return result;
}

// --- The process ends with its last thread --------------------------------------------
// POSIX ends a process when its last thread ends; glibc counts every thread, uzswap's
// included, and those never end on their own. So when the main thread ends (pthread_exit,
// or, in a fork child made by another thread, the return of that thread's start routine)
// a reaper thread of uzswap's starts and watches /proc/self/task: once every thread left
// is uzswap's (named "uzswap-...") or finished (the main thread stays a zombie), it calls
// exit(0), as glibc's last thread would.

using ExitFn = void (*)(void*);
std::atomic<bool> g_reaper_started{false};
constexpr long kReaperPollNs = 20'000'000;

// True while some thread of the process other than uzswap's is still running.
bool program_thread_alive() {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return true;  // cannot tell: never end the process on a guess
  bool alive = false;
  while (dirent* de = readdir(d)) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    char path[300], stat[512];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // gone
    ssize_t n = read(fd, stat, sizeof stat - 1);
    syscall(SYS_close, fd);
    if (n <= 0) continue;
    stat[n] = 0;
    const char* open_paren = strchr(stat, '(');
    const char* close_paren = strrchr(stat, ')');
    if (open_paren == nullptr || close_paren == nullptr || close_paren[1] == 0) {
      alive = true;
      break;
    }
    char state = close_paren[2];
    bool ours = strncmp(open_paren + 1, "uzswap-", 7) == 0;
    if (!ours && state != 'Z' && state != 'X') {
      alive = true;
      break;
    }
  }
  closedir(d);
  return alive;
}

void* reaper_main(void*) {
  own_thread_begin();
  timespec ts{0, kReaperPollNs};
  while (program_thread_alive()) nanosleep(&ts, nullptr);
  exit(0);
}

}  // namespace

// A fork child has no reaper, whatever its parent had.
void threads_fork_child() { g_reaper_started.store(false, std::memory_order_relaxed); }

namespace {

void start_reaper() {
  if (g_reaper_started.exchange(true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  CreateFn real = real_create();
  if (real != nullptr && real(&t, &attr, reaper_main, nullptr) == 0) pthread_setname_np(t, "uzswap-reaper");
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

RangeSet& thread_stacks() {
  static RangeSet s;  // constant-initialised
  return s;
}

bool threads_init() {
  real_create();
  if (!thread_stacks().init()) return false;
  if (pthread_key_create(&g_stack_key, forget_stack) == 0) g_key_ready.store(true, std::memory_order_release);
  return true;
}

}  // namespace uzswap::preload

extern "C" __attribute__((visibility("default"))) int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                                                     void* (*start)(void*), void* arg) {
  using namespace uzswap::preload;
  CreateFn real = real_create();
  if (real == nullptr) return EAGAIN;  // no pthread_create further down: nothing we can do
  // uzswap's own threads, and any thread while uzswap is not running, go straight through.
  if (active_engine() == nullptr || called_from_self(__builtin_return_address(0)))
    return real(thread, attr, start, arg);
  auto* rec = static_cast<StartRecord*>(malloc(sizeof(StartRecord)));
  if (rec == nullptr) return real(thread, attr, start, arg);  // unrecorded beats refused
  *rec = StartRecord{start, arg};
  int rc = real(thread, attr, start_program_thread, rec);
  if (rc != 0) free(rec);
  return rc;
}

extern "C" __attribute__((visibility("default"), noreturn)) void pthread_exit(void* value) {
  using namespace uzswap::preload;
  static auto real = reinterpret_cast<ExitFn>(dlsym(RTLD_NEXT, "pthread_exit"));
  if (active_engine() != nullptr && gettid() == getpid()) start_reaper();
  real(value);
  __builtin_unreachable();
}
