// preload/exec.cpp — the exec family, so that nothing of uzswap outlives the image.
//
// Each call runs lifecycle_before_exec() (removes the stats file), then the next
// definition; if that returns (the exec failed), lifecycle_after_failed_exec(). In a
// vfork or posix_spawn child, which shares its parent's memory and uzswap state, nothing
// is done: the state is the parent's (recognised by getpid() != the owner pid).
// The l-variants build their argument vector on the stack and use the v-variants.
// State: the next definitions, resolved by the constructor (resolve_exec_calls) before
// any child can exist; a call before that resolves lazily.
#include <alloca.h>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <dlfcn.h>
#include <unistd.h>

#include "preload/lifecycle.h"
#include "preload/runtime.h"

namespace uzswap::preload {
namespace {

using ExecveFn = int (*)(const char*, char* const[], char* const[]);
using ExecvFn = int (*)(const char*, char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);

std::atomic<ExecveFn> g_execve{nullptr};
std::atomic<ExecvFn> g_execv{nullptr};
std::atomic<ExecvFn> g_execvp{nullptr};
std::atomic<ExecveFn> g_execvpe{nullptr};
std::atomic<FexecveFn> g_fexecve{nullptr};

template <typename Fn>
Fn next(std::atomic<Fn>& slot, const char* name) {
  Fn f = slot.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    slot.store(f, std::memory_order_release);
  }
  return f;
}

// Runs `call` between the exec hooks; returns its result (only reached on failure).
template <typename Call>
int around_exec(Call call) {
  bool owner = runtime().owner_pid == getpid();
  if (owner) lifecycle_before_exec();
  int r = call();
  if (owner) {
    int saved = errno;
    lifecycle_after_failed_exec();
    errno = saved;
  }
  return r;
}

// Collects execl-style arguments after `arg0` into a NULL-terminated vector in argv
// (room for n + 1 pointers), returning the envp that follows them when `with_env`.
void collect_args(const char* arg0, va_list ap, char** argv, size_t n, bool with_env, char*** envp) {
  argv[0] = const_cast<char*>(arg0);
  for (size_t i = 1; i < n; ++i) argv[i] = va_arg(ap, char*);
  argv[n] = nullptr;
  if (with_env) {
    if (n > 0) (void)va_arg(ap, char*);  // the NULL ending the arguments (arg0 if n == 0)
    *envp = va_arg(ap, char**);
  }
}

size_t count_args(const char* arg0, va_list ap) {
  size_t n = arg0 != nullptr ? 1 : 0;
  if (arg0 != nullptr)
    while (va_arg(ap, char*) != nullptr) ++n;
  return n;
}

}  // namespace

void resolve_exec_calls() {
  next(g_execve, "execve");
  next(g_execv, "execv");
  next(g_execvp, "execvp");
  next(g_execvpe, "execvpe");
  next(g_fexecve, "fexecve");
}

}  // namespace uzswap::preload

using namespace uzswap::preload;

extern "C" {

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return around_exec([&] { return next(g_execve, "execve")(path, argv, envp); });
}

__attribute__((visibility("default"))) int execv(const char* path, char* const argv[]) noexcept {
  return around_exec([&] { return next(g_execv, "execv")(path, argv); });
}

__attribute__((visibility("default"))) int execvp(const char* file, char* const argv[]) noexcept {
  return around_exec([&] { return next(g_execvp, "execvp")(file, argv); });
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return around_exec([&] { return next(g_execvpe, "execvpe")(file, argv, envp); });
}

__attribute__((visibility("default"))) int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  return around_exec([&] { return next(g_fexecve, "fexecve")(fd, argv, envp); });
}

#define UZ_EXECL_BODY(with_env, call)                                      \
  va_list ap;                                                              \
  va_start(ap, arg);                                                       \
  size_t n = count_args(arg, ap);                                          \
  va_end(ap);                                                              \
  char** argv = static_cast<char**>(alloca((n + 1) * sizeof(char*)));      \
  char** envp = nullptr;                                                   \
  va_start(ap, arg);                                                       \
  collect_args(arg, ap, argv, n, with_env, &envp);                         \
  va_end(ap);                                                              \
  (void)envp;                                                              \
  return call;

__attribute__((visibility("default"))) int execl(const char* path, const char* arg, ...) noexcept {
  UZ_EXECL_BODY(false, execv(path, argv))
}

__attribute__((visibility("default"))) int execlp(const char* file, const char* arg, ...) noexcept {
  UZ_EXECL_BODY(false, execvp(file, argv))
}

__attribute__((visibility("default"))) int execle(const char* path, const char* arg, ...) noexcept {
  UZ_EXECL_BODY(true, execve(path, argv, envp))
}

#undef UZ_EXECL_BODY

}  // extern "C"
