// preload/init.cpp — libuzswap.so's constructor and destructor: the life of uzswap in a
// process (states in runtime.h).
//
// Constructor, in order: resolve the wrapped calls; read the options (once, from
// environ); if UZSWAP_DISABLE, stop here (pass-through, silent); locate our own image
// (its mmap calls are never managed, and its memory is listed in own_memory.h); install
// the fork handlers; chain our fatal-signal handler in front of the program's
// (signal_chain.h; before any uzswap thread exists, and removed again if the engine does
// not start: uzswap then has no thread to report on); start the stats export
// (before any uzswap thread exists: the counters move into its region); start the engine.
// If the engine cannot start, print exactly one line saying why and what an administrator
// can grant, and let the program run untouched. Once it runs, the coverage scan
// (coverage.h) manages the anonymous memory that no interposed mmap showed us. Nothing here throws, aborts or writes to
// stdout.
//
// Destructor (exit): the at-exit summary if asked, then the stats file is removed. The
// engine is deliberately left running: evicted pages are not brought back just to be
// freed (that would raise the footprint to the whole dataset at the moment the process
// ends), and the handler threads keep serving any page that later exit code (atexit
// handlers, other libraries' destructors, stdio flushing) still touches. exit_group ends
// the threads; the kernel frees the memory and closes the descriptors. Exec: see exec.cpp
// and lifecycle_before_exec().
#include <cstdio>
#include <unistd.h>

#include "common/log.h"
#include "preload/coverage.h"
#include "preload/exit_stats.h"
#include "preload/fork_guard.h"
#include "preload/lifecycle.h"
#include "preload/locked.h"
#include "preload/options.h"
#include "preload/own_memory.h"
#include "preload/real_calls.h"
#include "preload/runtime.h"
#include "preload/signal_chain.h"
#include "preload/stats_export.h"
#include "preload/threads.h"
#include "uffd/engine.h"

namespace uzswap::preload {

void resolve_exec_calls();  // exec.cpp

namespace {

bool g_stats_running = false;       // the stats export runs in this process
char g_options_text[4096];          // "UZSWAP_X=value" lines, for the stats export

void report_start_failure(const EngineStartResult& r) {
  const char* detail = r.message[0] != '\0' ? r.message : "no detail";
  const char* why = nullptr;
  switch (r.error) {
    case EngineStartError::UserModeOnly:
      why = "only its user-mode form is allowed, with which system calls on evicted pages would fail";
      break;
    case EngineStartError::NoUserfaultfd:
      why = "both userfaultfd(2) and /dev/userfaultfd were refused";
      break;
    default:
      UZ_WARN("cannot start (%s); running without uzswap", detail);
      return;
  }
  // One line of our own wording (the engine's detail only at debug level): what failed
  // and what an administrator can grant.
  UZ_WARN("userfaultfd is not available to this process (%s); running without uzswap. An administrator "
          "can grant it: read-write access to /dev/userfaultfd (e.g. through a group, or chmod 0666) or "
          "sysctl vm.unprivileged_userfaultfd=1",
          why);
  UZ_DEBUG("engine: %s", detail);
}

// Effective options as "UZSWAP_X=value (default)" lines into g_options_text.
void format_effective_options(const Options& o) {
  size_t len = 0;
  for (size_t i = 0; i < kNumOptions; ++i) {
    OptionId id = static_cast<OptionId>(i);
    char value[96];
    int n = snprintf(g_options_text + len, sizeof g_options_text - len, "%s=%s%s\n", option_spec(id).env_name,
                     option_value_text(o, id, value, sizeof value),
                     o.source[i] == OptionSource::Default ? " (default)" : "");
    if (n < 0 || static_cast<size_t>(n) >= sizeof g_options_text - len) break;
    len += static_cast<size_t>(n);
  }
}

void log_effective_options() {
  const char* line = g_options_text;
  for (const char* p = g_options_text; *p != '\0'; ++p) {
    if (*p != '\n') continue;
    UZ_INFO("option %.*s", static_cast<int>(p - line), line);
    line = p + 1;
  }
}

void start_stats_export(const Options& o) {
  if (!o.stats) return;
  StatsExportOptions so;
  so.dir = o.stats_dir;
  g_stats_running = stats_export_start(so);
  if (g_stats_running) stats_export_set_options(g_options_text);
}

// The coverage line of the at-exit summary (on the same stderr duplicate).
void print_coverage(Engine* engine) {
  if (!runtime().options.coverage) return;
  CoverageFigures running = coverage_figures();  // the scan thread's last measurement
  uint64_t at_exit = coverage_measure(engine);
  exit_stats_line("coverage %llu.%llu%% of the program's anonymous RSS while running (RssAnon %llu KiB), "
                  "%llu.%llu%% at exit; scans %llu, ranges %llu (%llu KiB) managed by the scan, %llu refused",
                  static_cast<unsigned long long>(running.ratio_permille / 10),
                  static_cast<unsigned long long>(running.ratio_permille % 10),
                  static_cast<unsigned long long>(running.anon_rss_bytes >> 10),
                  static_cast<unsigned long long>(at_exit / 10), static_cast<unsigned long long>(at_exit % 10),
                  static_cast<unsigned long long>(running.scans), static_cast<unsigned long long>(running.ranges_managed),
                  static_cast<unsigned long long>(running.bytes_managed >> 10),
                  static_cast<unsigned long long>(running.manage_refused));
}

void stop_stats_export() {
  if (!g_stats_running) return;
  stats_export_set_engine(nullptr);
  stats_export_stop();
  g_stats_running = false;
}

void start() {
  Runtime& rt = runtime();
  resolve_real_calls();
  resolve_exec_calls();
  options_load(&rt.options);
  if (rt.options.disable) return;
  rt.owner_pid = static_cast<int>(getpid());
  runtime_locate_self();
  if (!own_memory_init() || !locked_init() || !threads_init()) {
    UZ_WARN("cannot reserve memory for uzswap's range lists; running without uzswap");
    return;
  }
  for (RangeSet* set : {&own_ranges(), &locked_ranges(), &thread_stacks()})
    own_ranges().add(set->storage().begin, set->storage().end);
  format_effective_options(rt.options);
  if (log_level() >= LogLevel::Info) log_effective_options();
  if (!fork_install()) {
    UZ_WARN("cannot install fork handlers; running without uzswap");
    return;
  }
  if (rt.options.backtrace && !signal_chain_install()) UZ_INFO("cannot install the crash report's signal handler");
  start_stats_export(rt.options);
  EngineStartResult result;
  Engine* engine = Engine::start(options_engine_config(rt.options), &result);
  if (engine == nullptr) {
    report_start_failure(result);
    stop_stats_export();
    signal_chain_uninstall();
    return;
  }
  if (rt.options.show_stats) exit_stats_keep_stderr();
  if (g_stats_running) stats_export_set_engine(engine);
  rt.engine.store(engine, std::memory_order_release);
  coverage_start(engine);
  UZ_INFO("started: managing anonymous private mappings of at least %llu bytes",
          static_cast<unsigned long long>(rt.options.min_mapping));
}

void finish() {
  Engine* engine = active_engine();
  if (engine == nullptr || runtime().owner_pid != static_cast<int>(getpid())) return;
  if (runtime().options.show_stats) {
    print_exit_stats(engine);
    print_coverage(engine);
  }
  stop_stats_export();
}

}  // namespace

void lifecycle_before_exec() {
  stop_stats_export();
  signal_chain_before_exec();
}

void lifecycle_after_failed_exec() {
  signal_chain_after_failed_exec();
  Engine* engine = active_engine();
  if (engine == nullptr) return;
  start_stats_export(runtime().options);
  if (g_stats_running) stats_export_set_engine(engine);
}

void lifecycle_fork_child_detach() {
  runtime().owner_pid = static_cast<int>(getpid());
  stats_export_detach_child();
  g_stats_running = false;
}

void lifecycle_fork_child(Engine* engine) {
  signal_chain_fork_child(/*keep_installed=*/engine != nullptr);
  if (engine == nullptr) return;  // the child runs without uzswap: no stats file either
  // The child took the engine over: a stats region of its own (zsstat lists it under its
  // pid; the counters it counted since the fork carry over), the coverage scan thread.
  start_stats_export(runtime().options);
  if (g_stats_running) stats_export_set_engine(engine);
  coverage_fork_child(engine);
}

}  // namespace uzswap::preload

__attribute__((constructor)) static void uzswap_preload_constructor() { uzswap::preload::start(); }
__attribute__((destructor)) static void uzswap_preload_destructor() { uzswap::preload::finish(); }
