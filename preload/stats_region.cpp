// preload/stats_region.cpp — see stats_region.h and stats_layout.h.
#include "preload/stats_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/counters.h"
#include "common/histogram.h"
#include "preload/stats_gauges.h"

namespace uzswap::stats {
namespace {

uint64_t align_up(uint64_t v) { return (v + kSectionAlign - 1) & ~(kSectionAlign - 1); }

// Calls put(str) for every string of the names section, in the order of stats_layout.h.
template <typename Put>
void for_each_name(Put&& put) {
  for (size_t i = 0; i < kNumCounters; ++i) {
    const CounterInfo& ci = counter_info(static_cast<Counter>(i));
    put(ci.name), put(ci.unit), put(ci.help);
  }
  for (size_t i = 0; i < kNumHistograms; ++i) {
    const HistogramInfo& hi = histogram_info(static_cast<Histogram>(i));
    put(hi.name), put(hi.help);
  }
  for (size_t i = 0; i < kNumGauges; ++i) {
    const GaugeInfo& gi = gauge_info(static_cast<Gauge>(i));
    put(gi.name), put(gi.unit), put(gi.help);
  }
  for (size_t i = 0; i < kNumClassColumns; ++i) put(class_column_info(static_cast<ClassColumn>(i)).name);
}

uint64_t names_bytes() {
  uint64_t n = 0;
  for_each_name([&](const char* s) { n += strlen(s) + 1; });
  return n;
}

// The header with its section table filled in; identity fields left for the caller.
RegionHeader plan_header() {
  RegionHeader h{};
  h.version = kRegionVersion;
  h.header_size = sizeof(RegionHeader);
  uint64_t at = align_up(sizeof(RegionHeader));
  h.names = {at, names_bytes()};
  h.num_counters = kNumCounters;
  h.num_histograms = kNumHistograms;
  h.num_gauges = kNumGauges;
  h.num_class_columns = kNumClassColumns;
  at = align_up(at + h.names.size);
  h.counters = {at, sizeof(CounterBlock)};
  h.counter_rows = kCounterSlots;
  h.counter_row_stride = sizeof(CounterRow);
  at = align_up(at + h.counters.size);
  h.histograms = {at, sizeof(HistogramBlock)};
  h.histogram_rows = kCounterSlots;
  h.histogram_row_stride = sizeof(HistogramRow);
  h.histogram_buckets = kHistogramBuckets;
  at = align_up(at + h.histograms.size);
  h.max_classes = kMaxClasses;
  h.options_capacity = kOptionsCapacity;
  h.gauges = {at, sizeof(GaugeSectionHeader) + 8 * (kNumGauges + kMaxClasses * kNumClassColumns) +
                      kOptionsCapacity};
  h.total_size = align_up(at + h.gauges.size);
  return h;
}

// argv joined by spaces from /proc/self/cmdline (plain read: no stdio, no heap).
void read_command(char* out, size_t cap) {
  out[0] = '\0';
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n <= 0) return;
  while (n > 0 && out[n - 1] == '\0') --n;
  for (ssize_t i = 0; i < n; ++i)
    if (out[i] == '\0') out[i] = ' ';
  out[n] = '\0';
}

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void write_identity(RegionHeader* h, uint64_t start_time) {
  h->pid = static_cast<int32_t>(getpid());
  h->start_time = start_time;
  h->uid = static_cast<uint32_t>(getuid());
  h->page_size = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  h->ncpu = ncpu > 0 ? static_cast<uint32_t>(ncpu) : 0;
  h->created_realtime_ns = realtime_ns();
  read_command(h->command, sizeof h->command);
}

void write_names(uint8_t* dst) {
  for_each_name([&](const char* s) {
    size_t n = strlen(s) + 1;
    memcpy(dst, s, n);
    dst += n;
  });
}

// O_EXCL create of the tmp file; a leftover of ours (same pid and start time: this very
// process before an exec) is removed once and the create retried.
int create_exclusive(const char* path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST || attempt > 0) return fd;
    if (unlink(path) != 0) return -1;
  }
  return -1;
}

bool fail(char* why, size_t cap, const char* what) {
  snprintf(why, cap, "%s: %s", what, strerror(errno));
  return false;
}

}  // namespace

const char* region_dir(const char* dir) {
  if (dir && *dir) return dir;
  const char* env = getenv(kDirEnv);
  return env && *env ? env : kDefaultDir;
}

uint64_t self_start_time() {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // The command (field 2) may hold spaces and ')': fields are counted after the last ')'.
  const char* p = strrchr(buf, ')');
  if (!p) return 0;
  int field = 2;
  for (++p; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  return field == 22 ? strtoull(p, nullptr, 10) : 0;
}

bool region_path(char* buf, size_t cap, const char* dir, uint32_t uid, int32_t pid,
                 uint64_t start_time, bool tmp) {
  int n = snprintf(buf, cap, "%s/%s%u.%d.%llu%s", dir, kRegionPrefix, uid, pid,
                   static_cast<unsigned long long>(start_time), tmp ? kTmpSuffix : "");
  return n > 0 && static_cast<size_t>(n) < cap;
}

bool region_create(const char* dir, MappedRegion* out, char* why, size_t why_cap) {
  dir = region_dir(dir);
  uint64_t start_time = self_start_time();
  uint32_t uid = static_cast<uint32_t>(getuid());
  int32_t pid = static_cast<int32_t>(getpid());
  char tmp[PATH_MAX];
  if (!region_path(tmp, sizeof tmp, dir, uid, pid, start_time, true) ||
      !region_path(out->path, sizeof out->path, dir, uid, pid, start_time, false)) {
    errno = ENAMETOOLONG;
    return fail(why, why_cap, dir);
  }
  int fd = create_exclusive(tmp);
  if (fd < 0) return fail(why, why_cap, tmp);
  RegionHeader plan = plan_header();
  void* p = MAP_FAILED;
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, static_cast<off_t>(plan.total_size)) != 0 ||
      (p = mmap(nullptr, plan.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    fail(why, why_cap, tmp);
    close(fd);
    unlink(tmp);
    return false;
  }
  close(fd);
  out->base = static_cast<uint8_t*>(p);
  out->size = plan.total_size;
  RegionHeader* h = out->header();
  *h = plan;  // magic still zero: not a valid region until the end
  write_identity(h, start_time);
  write_names(out->at(h->names.offset));
  __atomic_store_n(&h->state, static_cast<uint32_t>(RegionState::Live), __ATOMIC_RELAXED);
  memcpy(h->magic, kRegionMagic, sizeof h->magic);
  // No reader can see the file before rename() below publishes it under its name.
  if (rename(tmp, out->path) != 0) {
    fail(why, why_cap, out->path);
    unlink(tmp);
    region_unmap(out);
    return false;
  }
  return true;
}

void region_retire(MappedRegion* region) {
  if (!region->base) return;
  __atomic_store_n(&region->header()->state, static_cast<uint32_t>(RegionState::Stopped),
                   __ATOMIC_RELEASE);
  unlink(region->path);
}

void region_unmap(MappedRegion* region) {
  if (region->base) munmap(region->base, region->size);
  region->base = nullptr;
  region->size = 0;
}

}  // namespace uzswap::stats
