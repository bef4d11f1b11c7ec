// tools/commands.cpp — see commands.h.
#include "tools/commands.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "preload/stats_layout.h"
#include "tools/region_dir.h"
#include "tools/region_reader.h"
#include "tools/summary.h"
#include "tools/views.h"

namespace uzswap::zsstat {
namespace {

constexpr uint32_t kStopped = static_cast<uint32_t>(stats::RegionState::Stopped);

bool mine(const RegionFile& f) { return geteuid() == 0 || f.uid == geteuid(); }

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sleep_seconds(double s) {
  timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<double>(static_cast<time_t>(s))) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void clear_screen_if_tty() {
  if (isatty(STDOUT_FILENO)) fputs("\033[H\033[2J", stdout);
}

// Maps and parses a region, then checks it describes the process its name says.
bool read_region(const RegionFile& f, MappedFile* map, Snapshot* snap, std::string* why) {
  if (!map->open(f.path, why)) return false;
  ParseResult r = parse_region(map->data(), map->size(), snap);
  if (!r.ok()) {
    *why = f.path + ": " + r.message;
    return false;
  }
  if (snap->pid != f.pid || snap->start_time != f.start_time || snap->uid != f.uid || map->owner() != f.uid) {
    *why = f.path + ": foreign region: its contents (pid " + std::to_string(snap->pid) + ", uid " +
           std::to_string(snap->uid) + ") do not match its name and owner";
    return false;
  }
  return true;
}

// A region is dead when its process is gone, the pid was reused, or it says it stopped.
bool region_dead(const RegionFile& f) {
  if (process_liveness(f.pid, f.start_time) == Liveness::Dead) return true;
  MappedFile map;
  std::string ignored;
  if (f.tmp || !map.open(f.path, &ignored) || map.size() < sizeof(stats::RegionHeader)) return false;
  const auto* h = reinterpret_cast<const stats::RegionHeader*>(map.data());
  return __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == kStopped;
}

// Removes `f` if dead; tells stderr. True if it was dead (removed or not).
bool reap_if_dead(const RegionFile& f) {
  if (!region_dead(f)) return false;
  std::string why;
  if (remove_region_file(f, &why))
    fprintf(stderr, "zsstat: process %d is gone: removed its stale region %s\n", f.pid, f.path.c_str());
  else
    fprintf(stderr, "zsstat: process %d is gone; could not remove its region: %s\n", f.pid, why.c_str());
  return true;
}

std::vector<ProcessRow> collect_rows(const std::string& dir) {
  std::vector<ProcessRow> rows;
  for (const RegionFile& f : list_region_files(dir)) {
    if (!mine(f) || reap_if_dead(f) || f.tmp) continue;
    ProcessRow row;
    row.file = f;
    MappedFile map;
    if (!read_region(f, &map, &row.snap, &row.error)) {
      rows.push_back(std::move(row));
      continue;
    }
    row.heartbeat_age = heartbeat_age_seconds(row.snap);
    row.status = row.heartbeat_age > kStaleSeconds ? ProcessRow::Status::Stale : ProcessRow::Status::Live;
    rows.push_back(std::move(row));
  }
  return rows;
}

// Finds the live region of `pid`; reaps dead ones on the way. Prints the reason and
// returns false if there is none that can be read.
bool find_region(const Args& args, const std::string& dir, RegionFile* out) {
  bool had_dead = false, starting = false;
  const RegionFile* foreign = nullptr;
  std::vector<RegionFile> files = list_region_files(dir);
  for (const RegionFile& f : files) {
    if (f.pid != args.pid) continue;
    if (!mine(f)) {
      foreign = &f;
      continue;
    }
    if (reap_if_dead(f)) {
      had_dead = true;
    } else if (f.tmp) {
      starting = true;
    } else {
      *out = f;
      return true;
    }
  }
  uint64_t st;
  bool running = proc_start_time(args.pid, &st);
  if (foreign)
    fprintf(stderr, "zsstat: the stats of process %d belong to uid %u: only that user or root may read them\n",
            args.pid, foreign->uid);
  else if (starting)
    fprintf(stderr, "zsstat: process %d is still setting up its stats region; try again\n", args.pid);
  else if (running)
    fprintf(stderr, "zsstat: process %d (%s) is not running under uzswap (no stats region in %s)\n", args.pid,
            proc_comm(args.pid).c_str(), dir.c_str());
  else if (had_dead)
    fprintf(stderr, "zsstat: process %d has exited\n", args.pid);
  else
    fprintf(stderr, "zsstat: no process %d\n", args.pid);
  return false;
}

void print_snapshot(const Args& args, const Snapshot& snap, const std::vector<double>* rates) {
  if (args.json) {
    fputs(json_process(snap, rates).c_str(), stdout);
    fputc('\n', stdout);
  } else if (args.classes) {
    print_classes(stdout, snap, args.all);
  } else {
    print_process(stdout, snap, rates, args.all);
  }
  fflush(stdout);
}

}  // namespace

int cmd_list(const Args& args) {
  std::string dir = stats_dir(args.dir);
  for (long n = 0; args.count == 0 || n < args.count; ++n) {
    if (n > 0) sleep_seconds(args.watch);
    std::vector<ProcessRow> rows = collect_rows(dir);
    if (args.json) {
      fputs(json_list(rows).c_str(), stdout);
      fputc('\n', stdout);
    } else {
      if (args.watch > 0) clear_screen_if_tty();
      print_list(stdout, rows);
    }
    fflush(stdout);
    if (args.watch <= 0) break;
  }
  return 0;
}

int cmd_show(const Args& args) {
  std::string dir = stats_dir(args.dir);
  RegionFile file;
  if (!find_region(args, dir, &file)) return 1;
  MappedFile map;
  auto prev = std::make_unique<Snapshot>();
  std::string why;
  if (!read_region(file, &map, prev.get(), &why)) {
    fprintf(stderr, "zsstat: %s\n", why.c_str());
    return 1;
  }
  if (args.watch <= 0) {
    print_snapshot(args, *prev, nullptr);
    return 0;
  }
  double prev_time = monotonic_seconds();
  if (!args.json) clear_screen_if_tty();
  print_snapshot(args, *prev, nullptr);
  for (long n = 1; args.count == 0 || n < args.count; ++n) {
    sleep_seconds(args.watch);
    if (process_liveness(file.pid, file.start_time) == Liveness::Dead) {
      fprintf(stderr, "zsstat: process %d has exited\n", file.pid);
      return 0;
    }
    auto now = std::make_unique<Snapshot>();
    ParseResult r = parse_region(map.data(), map.size(), now.get());
    if (!r.ok()) {
      fprintf(stderr, "zsstat: %s: %s\n", file.path.c_str(), r.message.c_str());
      return 1;
    }
    double t = monotonic_seconds();
    std::vector<double> rates = counter_rates(*prev, *now, t - prev_time);
    if (!args.json) clear_screen_if_tty();
    print_snapshot(args, *now, &rates);
    prev = std::move(now);
    prev_time = t;
  }
  return 0;
}

int cmd_cleanup(const Args& args) {
  std::string dir = stats_dir(args.dir);
  int removed = 0, failed = 0;
  for (const RegionFile& f : list_region_files(dir)) {
    if (!mine(f) || !region_dead(f)) continue;
    std::string why;
    if (remove_region_file(f, &why)) {
      ++removed;
    } else {
      ++failed;
      fprintf(stderr, "zsstat: %s\n", why.c_str());
    }
  }
  printf("zsstat: removed %d stale region%s from %s\n", removed, removed == 1 ? "" : "s", dir.c_str());
  return failed ? 1 : 0;
}

}  // namespace uzswap::zsstat
