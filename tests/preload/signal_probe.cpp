// tests/preload/signal_probe.cpp — a program with its own fatal-signal handling, run by
// signal_behaviour.sh plainly and under LD_PRELOAD=libuzswap.so: its output must not
// change, and a fatal signal in one of uzswap's threads must give uzswap's crash report.
//   recover         SIGSEGV, SIGFPE and SIGABRT handlers that recover with siglongjmp
//                   from a real fault, a division by zero and abort(); prints what each
//                   handler saw (code, address, blocked signals)
//   resethand       an SA_RESETHAND | SA_NODEFER handler: recovers once, then the action is SIG_DFL
//   view            sets and reads back actions through sigaction, signal, bsd_signal,
//                   sysv_signal; prints every old action returned
//   segv, abort     a fault / abort() with no handler: the process must die of it
//   unwinder        prints which library defines the C++ exception ABI, throws and catches
//   crash-own NAME SIG  sends SIG to this process's thread named NAME (uzswap's), waits
//                   to be killed; with PROBE_HANDLER=1 the program has handlers of its own
//                   for the fatal signals, which print a line and exit: they must not run
//   kernel-action   prints where the kernel's SIGSEGV action points (read with the raw
//                   system call, around any interposed sigaction)
// PROBE_EARLY=1 installs the handlers of recover/crash-own from .preinit_array, before
// any library's constructor (libuzswap.so's included); otherwise main installs them.
#include <dirent.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

extern "C" sighandler_t bsd_signal(int, sighandler_t);  // not declared by <signal.h> in C++20

namespace {

sigjmp_buf g_jump;
volatile sig_atomic_t g_calls = 0;
char g_seen[256];  // what the last handler saw, printed after recovering

bool blocked(int sig) {
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

void recovering_handler(int sig, siginfo_t* info, void*) {
  g_calls = g_calls + 1;
  snprintf(g_seen, sizeof g_seen, "signal %d code %d, %s blocked, SIGUSR1 %s", sig, info->si_code,
           blocked(sig) ? "itself" : "not itself", blocked(SIGUSR1) ? "blocked" : "not blocked");
  siglongjmp(g_jump, 1);
}

void install(int sig, int flags) {
  struct sigaction sa{};
  sa.sa_sigaction = recovering_handler;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR1);
  if (sigaction(sig, &sa, nullptr) != 0) perror("sigaction");
}

void install_recovery_handlers() {
  for (int sig : {SIGSEGV, SIGFPE, SIGABRT}) install(sig, 0);
}

void announce_and_exit(int sig) {
  static const char line[] = "program handler called\n";
  (void)!write(STDOUT_FILENO, line, sizeof line - 1);
  _exit(40 + sig);
}

void install_announcing_handlers() {
  for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) signal(s, announce_and_exit);
}

bool env_is(char** envp, const char* assignment) {
  for (char** e = envp; *e != nullptr; ++e)
    if (strcmp(*e, assignment) == 0) return true;
  return false;
}

// Installed from .preinit_array with PROBE_EARLY=1: before every constructor (the C
// library's too, so environ is not set yet: the environment comes as an argument).
void early(int, char**, char** envp) {
  if (!env_is(envp, "PROBE_EARLY=1")) return;
  if (env_is(envp, "PROBE_HANDLER=1")) {
    install_announcing_handlers();
  } else {
    install_recovery_handlers();
  }
}
__attribute__((section(".preinit_array"), used)) void (*const g_early)(int, char**, char**) = early;

bool early_mode() {
  const char* e = getenv("PROBE_EARLY");
  return e != nullptr && strcmp(e, "1") == 0;
}

template <typename Fn>
void try_recover(const char* what, Fn fn) {
  if (sigsetjmp(g_jump, 1) == 0) {
    fn();
    printf("%s: no signal\n", what);
  } else {
    printf("%s: recovered (%s)\n", what, g_seen);
  }
  fflush(stdout);
}

int mode_recover() {
  if (!early_mode()) install_recovery_handlers();
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int round = 0; round < 3; ++round) {
    try_recover("fault", [&] { *static_cast<volatile int*>(page) = round; });
    try_recover("divide", [&] {
      volatile int zero = 0;
      volatile int r = round / zero;
      (void)r;
    });
    try_recover("abort", [] { abort(); });
  }
  printf("handler calls: %d\n", static_cast<int>(g_calls));
  return 0;
}

int mode_resethand() {
  install(SIGSEGV, SA_RESETHAND | SA_NODEFER);
  try_recover("fault", [] { *static_cast<volatile int*>(nullptr) = 1; });
  struct sigaction now;
  sigaction(SIGSEGV, nullptr, &now);
  printf("after SA_RESETHAND: %s, flags %#x\n", now.sa_handler == SIG_DFL ? "SIG_DFL" : "not SIG_DFL", now.sa_flags);
  return 0;
}

void handler_a(int) {}
void handler_b(int) {}

const char* handler_name(void* h) {
  if (h == reinterpret_cast<void*>(SIG_DFL)) return "SIG_DFL";
  if (h == reinterpret_cast<void*>(SIG_IGN)) return "SIG_IGN";
  if (h == reinterpret_cast<void*>(handler_a)) return "handler_a";
  if (h == reinterpret_cast<void*>(handler_b)) return "handler_b";
  if (h == reinterpret_cast<void*>(recovering_handler)) return "recovering_handler";
  return "another handler";
}

const char* restorer_name(void (*r)()) {
  if (r == nullptr) return "none";
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(r), &info) != 0 && info.dli_fname != nullptr && strstr(info.dli_fname, "libc.so"))
    return "the C library's";
  return "another";
}

void print_action(const char* what, const struct sigaction& a) {
  unsigned long long mask = 0;
  memcpy(&mask, &a.sa_mask, sizeof mask);
  printf("%s: %s, flags %#x, mask %#llx, restorer %s\n", what, handler_name(reinterpret_cast<void*>(a.sa_handler)),
         a.sa_flags, mask, restorer_name(a.sa_restorer));
}

void show_old(int sig, const char* what, const struct sigaction* act) {
  struct sigaction old;
  memset(&old, 0xa5, sizeof old);
  int r = sigaction(sig, act, &old);
  char label[128];
  snprintf(label, sizeof label, "sig %d %s (returned %d)", sig, what, r);
  print_action(label, old);
}

int mode_view() {
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGUSR2}) {
    show_old(sig, "initial", nullptr);
    struct sigaction a{};
    a.sa_handler = handler_a;
    sigemptyset(&a.sa_mask);
    sigaddset(&a.sa_mask, SIGUSR1);
    sigaddset(&a.sa_mask, SIGKILL);
    sigaddset(&a.sa_mask, SIGSTOP);
    sigaddset(&a.sa_mask, 40);
    a.sa_flags = SA_ONSTACK | SA_NODEFER | 0x400 /* SA_UNSUPPORTED: the kernel drops it */;
    show_old(sig, "set handler_a", &a);
    show_old(sig, "after handler_a", nullptr);
    printf("signal(handler_b) returned %s\n", handler_name(reinterpret_cast<void*>(signal(sig, handler_b))));
    show_old(sig, "after signal", nullptr);
    printf("bsd_signal(SIG_IGN) returned %s\n", handler_name(reinterpret_cast<void*>(bsd_signal(sig, SIG_IGN))));
    show_old(sig, "after bsd_signal", nullptr);
    printf("sysv_signal(handler_a) returned %s\n", handler_name(reinterpret_cast<void*>(sysv_signal(sig, handler_a))));
    show_old(sig, "after sysv_signal", nullptr);
    struct sigaction info_action{};
    info_action.sa_sigaction = recovering_handler;
    info_action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_RESTART;
    sigfillset(&info_action.sa_mask);
    show_old(sig, "set recovering_handler", &info_action);
    printf("signal(SIG_DFL) returned %s\n", handler_name(reinterpret_cast<void*>(signal(sig, SIG_DFL))));
    show_old(sig, "final", nullptr);
  }
  errno = 0;
  printf("signal(SIGSEGV, SIG_ERR) returned %s, errno %d\n", signal(SIGSEGV, SIG_ERR) == SIG_ERR ? "SIG_ERR" : "?", errno);
  printf("sigaction(SIGKILL) returned %d\n", sigaction(SIGKILL, nullptr, nullptr));
  return 0;
}

int mode_unwinder() {
  Dl_info info;
  void* raise_exception = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  const char* lib = raise_exception != nullptr && dladdr(raise_exception, &info) != 0 ? info.dli_fname : "nothing";
  const char* slash = strrchr(lib, '/');
  printf("_Unwind_RaiseException from %s\n", slash != nullptr ? slash + 1 : lib);
  try {
    throw std::runtime_error("thrown");
  } catch (const std::exception& e) {
    printf("caught: %s\n", e.what());
  }
  return 0;
}

// The thread of this process named `name`, or 0.
pid_t find_thread(const char* name) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
    FILE* f = fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    char comm[32] = {};
    if (fgets(comm, sizeof comm, f) != nullptr) comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
    if (strcmp(comm, name) == 0) found = static_cast<pid_t>(atoi(e->d_name));
    if (found != 0) break;
  }
  closedir(dir);
  return found;
}

int mode_crash_own(const char* name, int sig) {
  const char* h = getenv("PROBE_HANDLER");
  if (h != nullptr && strcmp(h, "1") == 0 && !early_mode()) install_announcing_handlers();
  pid_t tid = 0;
  for (int tries = 0; tries < 200 && tid == 0; ++tries) {
    tid = find_thread(name);
    if (tid == 0) usleep(50 * 1000);
  }
  if (tid == 0) {
    printf("no thread named %s\n", name);
    return 2;
  }
  usleep(300 * 1000);  // past the thread's start, into its loop
  syscall(SYS_tgkill, getpid(), tid, sig);
  sleep(10);
  printf("still alive\n");
  return 3;
}

int mode_kernel_action() {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } k{};
  if (syscall(SYS_rt_sigaction, SIGSEGV, nullptr, &k, sizeof k.mask) != 0) return 1;
  Dl_info info;
  const char* where = "?";
  if (k.handler == reinterpret_cast<void*>(SIG_DFL)) {
    where = "SIG_DFL";
  } else if (dladdr(k.handler, &info) != 0 && info.dli_fname != nullptr) {
    where = strrchr(info.dli_fname, '/') != nullptr ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
  }
  printf("kernel SIGSEGV action: %s\n", where);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "recover") == 0) return mode_recover();
  if (strcmp(mode, "resethand") == 0) return mode_resethand();
  if (strcmp(mode, "view") == 0) return mode_view();
  if (strcmp(mode, "unwinder") == 0) return mode_unwinder();
  if (strcmp(mode, "kernel-action") == 0) return mode_kernel_action();
  if (strcmp(mode, "segv") == 0) {
    *static_cast<volatile int*>(nullptr) = 1;
    return 0;
  }
  if (strcmp(mode, "abort") == 0) abort();
  if (strcmp(mode, "crash-own") == 0 && argc > 3) return mode_crash_own(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: signal_probe recover|resethand|view|segv|abort|unwinder|crash-own NAME SIG\n");
  return 1;
}
