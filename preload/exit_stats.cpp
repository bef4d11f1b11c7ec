// preload/exit_stats.cpp — see exit_stats.h. State: the descriptor the summary goes to
// (written once by the constructor, before any uzswap thread); stack buffers otherwise.
#include "preload/exit_stats.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/fd_guard.h"
#include "common/histogram.h"
#include "preload/interpose.h"
#include "preload/option_values.h"

namespace uzswap::preload {
namespace {

// High enough to stay out of the way of programs that use small fixed descriptors.
constexpr int kLowestKeptFd = 512;
int g_out_fd = STDERR_FILENO;

void write_stderr(const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(g_out_fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

// One line, "uzswap[pid]: " + text + "\n".
void line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void line(const char* fmt, ...) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "uzswap[%d]: ", static_cast<int>(getpid()));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  write_stderr(buf, len);
}

struct Sizes {
  char s[8][24];
};

void print_engine(const EngineStats& st) {
  Sizes z;
  line("at exit: footprint %s = resident %s + pool %s + staging %s + metadata %s; limit %s%s",
       format_size(st.footprint_bytes, z.s[0], 24), format_size(st.resident_bytes, z.s[1], 24),
       format_size(st.pool_bytes, z.s[2], 24), format_size(st.staging_bytes, z.s[3], 24),
       format_size(st.metadata_bytes, z.s[4], 24),
       st.limit_bytes ? format_size(st.limit_bytes, z.s[5], 24) : "none",
       st.over_limit_unreachable ? " (unreachable: the compressed data alone exceeds it)" : "");
  uint64_t stored_bytes = st.stored_pages * 4096;
  line("pages: managed %s, stored %llu (%s compressed to %s, ratio %.2f), same-filled %llu, staged %llu",
       format_size(st.managed_bytes, z.s[0], 24), static_cast<unsigned long long>(st.stored_pages),
       format_size(stored_bytes, z.s[1], 24), format_size(st.compressed_bytes, z.s[2], 24),
       st.compressed_bytes ? static_cast<double>(stored_bytes) / static_cast<double>(st.compressed_bytes) : 0.0,
       static_cast<unsigned long long>(st.same_filled_pages), static_cast<unsigned long long>(st.staged_pages));
}

// The kernel's view of the whole process (managed or not): peak and current resident set.
void print_process() {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  const char* hwm = strstr(buf, "VmHWM:");
  const char* rss = strstr(buf, "VmRSS:");
  if (hwm == nullptr || rss == nullptr) return;
  Sizes z;
  line("process: VmHWM %s (peak resident set), VmRSS %s",
       format_size(strtoull(hwm + 6, nullptr, 10) * 1024, z.s[0], 24),
       format_size(strtoull(rss + 6, nullptr, 10) * 1024, z.s[1], 24));
}

void print_interposition() {
  const InterposeStats& s = interpose_stats();
  Sizes z;
  line("mappings: %llu managed (%s), %llu refused, %llu forgotten on unmap, %llu remapped, %llu restored for fork, "
       "%llu forks taken over by the child",
       static_cast<unsigned long long>(s.mappings_managed.load()), format_size(s.bytes_managed.load(), z.s[0], 24),
       static_cast<unsigned long long>(s.manage_refused.load()),
       static_cast<unsigned long long>(s.ranges_forgotten.load()),
       static_cast<unsigned long long>(s.remaps_restored.load()),
       static_cast<unsigned long long>(s.fork_ranges_restored.load()),
       static_cast<unsigned long long>(s.forks_taken_over.load()));
}

void print_latencies() {
  for (size_t i = 0; i < kNumHistograms; ++i) {
    Histogram h = static_cast<Histogram>(i);
    uint64_t samples = 0;
    for (size_t b = 0; b < kHistogramBuckets; ++b) samples += histogram_read(h, b);
    if (samples == 0) continue;
    line("latency %s: %llu samples, p50 <= %.1f us, p99 <= %.1f us", histogram_info(h).name,
         static_cast<unsigned long long>(samples), static_cast<double>(histogram_percentile(h, 0.50)) / 1000.0,
         static_cast<double>(histogram_percentile(h, 0.99)) / 1000.0);
  }
}

// Non-zero counters, packed several to a line.
void print_counters() {
  char buf[600];
  size_t len = 0;
  for (size_t i = 0; i < kNumCounters; ++i) {
    Counter c = static_cast<Counter>(i);
    uint64_t v = counter_read(c);
    if (v == 0) continue;
    char item[96];
    int n = snprintf(item, sizeof item, "%s%s=%llu", len ? " " : "", counter_info(c).name,
                     static_cast<unsigned long long>(v));
    if (n <= 0) continue;
    if (len + static_cast<size_t>(n) >= 480) {
      line("counters: %.*s", static_cast<int>(len), buf);
      len = 0;
      n = snprintf(item, sizeof item, "%s=%llu", counter_info(c).name, static_cast<unsigned long long>(v));
    }
    for (int k = 0; k < n && len < sizeof buf; ++k) buf[len++] = item[k];
  }
  if (len > 0) line("counters: %.*s", static_cast<int>(len), buf);
}

}  // namespace

void exit_stats_keep_stderr() {
  int fd = fd_adopt(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, kLowestKeptFd));
  if (fd >= 0) g_out_fd = fd;
}

void exit_stats_line(const char* fmt, ...) {
  char text[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  line("%s", text);
}

void print_exit_stats(Engine* engine) {
  int saved = errno;
  print_engine(engine->stats());
  print_process();
  print_interposition();
  print_latencies();
  print_counters();
  errno = saved;
}

}  // namespace uzswap::preload
