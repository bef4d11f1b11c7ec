// common/log.cpp — see log.h. State: the level (atomic), a per-thread recursion flag,
// and a rate-cap window (atomics; a lost race only lets one extra line through).
#include "common/log.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace uzswap {
namespace {

constexpr int kMaxLinesPerSecond = 20;

std::atomic<int> g_level{static_cast<int>(LogLevel::Warn)};
std::atomic<long> g_window_start{0};   // CLOCK_MONOTONIC second of the current window
std::atomic<int> g_window_lines{0};    // lines printed in that window
std::atomic<long> g_suppressed{0};     // lines dropped by the cap, not yet reported
thread_local bool t_in_log = false;

long monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

bool admit_line() {
  long now = monotonic_seconds();
  long start = g_window_start.load(std::memory_order_relaxed);
  if (now != start && g_window_start.compare_exchange_strong(start, now, std::memory_order_relaxed))
    g_window_lines.store(0, std::memory_order_relaxed);
  if (g_window_lines.fetch_add(1, std::memory_order_relaxed) < kMaxLinesPerSecond) return true;
  g_suppressed.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void write_all(const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(STDERR_FILENO, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

void log_set_level(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void log_vline(LogLevel level, const char* fmt, va_list ap) {
  if (t_in_log) return;
  t_in_log = true;
  int saved_errno = errno;
  if (admit_line()) {
    char buf[512];
    size_t len = 0;
    long dropped = g_suppressed.exchange(0, std::memory_order_relaxed);
    if (dropped > 0) {
      int n = snprintf(buf, sizeof buf, "uzswap: (%ld log lines suppressed)\n", dropped);
      if (n > 0) write_all(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
    }
    int n = snprintf(buf, sizeof buf, "uzswap[%d]: ", static_cast<int>(getpid()));
    len = n > 0 ? static_cast<size_t>(n) : 0;
    n = vsnprintf(buf + len, sizeof buf - len - 1, fmt, ap);
    if (n > 0) len += static_cast<size_t>(n) < sizeof buf - len - 1 ? static_cast<size_t>(n) : sizeof buf - len - 2;
    buf[len++] = '\n';
    write_all(buf, len);
  }
  (void)level;
  errno = saved_errno;
  t_in_log = false;
}

void log_line(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vline(level, fmt, ap);
  va_end(ap);
}

}  // namespace uzswap
