// tools/text_view.cpp — the human views of zsstat (see views.h).
#include <time.h>

#include <algorithm>
#include <cinttypes>

#include "tools/summary.h"
#include "tools/views.h"

namespace uzswap::zsstat {
namespace {

// The command line with the directory of argv[0] dropped: "python3 -c ...".
std::string short_command(const std::string& cmd) {
  size_t end = cmd.find(' ');
  size_t slash = cmd.rfind('/', end);
  return slash == std::string::npos ? cmd : cmd.substr(slash + 1);
}

std::string limit_text(uint64_t bytes) { return bytes ? human_bytes(bytes) : "none"; }

std::string saved_text(int64_t bytes) {
  return bytes < 0 ? "-" + human_bytes(static_cast<uint64_t>(-bytes)) : human_bytes(static_cast<uint64_t>(bytes));
}

std::string ratio_text(double r) {
  char buf[32];
  snprintf(buf, sizeof buf, r > 0 ? "%.2f" : "-", r);
  return buf;
}

void print_header(FILE* out, const Snapshot& s) {
  fprintf(out, "pid %d  %s\n", s.pid, s.command.c_str());
  fprintf(out, "  format v%u, page %u B, %u CPUs, %s, published %.1fs ago (%" PRIu64 " publishes)\n", s.version,
          s.page_size, s.ncpu, s.state == 2 ? "stopped" : "live", heartbeat_age_seconds(s), s.publish_count);
  if (heartbeat_age_seconds(s) > kStaleSeconds)
    fprintf(out, "  note: nothing published for %.0fs: the process is stopped, or busy in exec or exit\n",
            heartbeat_age_seconds(s));
}

void print_summary(FILE* out, const Summary& m) {
  fprintf(out, "\n%-10s %9s %9s %9s %7s %9s %9s %10s\n", "memory", "DATA", "COMPR", "TOTAL", "RATIO", "SAVED", "LIMIT",
          "POOL-LIMIT");
  fprintf(out, "%-10s %9s %9s %9s %7s %9s %9s %10s\n", "", human_bytes(m.data_bytes).c_str(),
          human_bytes(m.compressed_bytes).c_str(), human_bytes(m.total_bytes).c_str(), ratio_text(m.ratio).c_str(),
          saved_text(m.saved_bytes).c_str(), limit_text(m.limit_bytes).c_str(), limit_text(m.pool_limit_bytes).c_str());
  fprintf(out, "footprint  %s = resident %s + pool %s + staging %s + metadata %s\n", human_bytes(m.footprint_bytes).c_str(),
          human_bytes(m.resident_bytes).c_str(), human_bytes(m.total_bytes).c_str(),
          human_bytes(m.staging_bytes).c_str(), human_bytes(m.metadata_bytes).c_str());
  fprintf(out, "pages      stored %" PRIu64 ", same-filled %" PRIu64 ", staged %" PRIu64 "; managed %s\n",
          m.stored_pages, m.same_filled_pages, m.staged_pages, human_bytes(m.managed_bytes).c_str());
  if (m.coverage_permille > 0)
    fprintf(out, "coverage   %.1f%% of the program's anonymous memory is managed\n",
            static_cast<double>(m.coverage_permille) / 10.0);
  if (!m.engine_attached) fprintf(out, "note       the fault engine is not running: engine figures are 0\n");
  if (m.over_limit_unreachable)
    fprintf(out, "note       the compressed data alone exceeds the limit: the footprint stays above it\n");
}

// Counters at zero (and not moving) are left out unless `all`: most of them count
// failures, and a short list shows what happened.
void print_counters(FILE* out, const Snapshot& s, const std::vector<double>* rates, bool all) {
  fprintf(out, "\nevents%s\n", rates ? "                                      total      per second" : "");
  size_t hidden = 0;
  for (const CounterGroup& g : group_counters(s)) {
    bool titled = false;
    for (size_t i : g.counters) {
      const NamedValue& c = s.counters[i];
      double rate = rates ? (*rates)[i] : 0.0;
      if (!all && c.value == 0 && rate == 0) {
        ++hidden;
        continue;
      }
      if (!titled) fprintf(out, "  %s\n", g.title.c_str());
      titled = true;
      if (rates)
        fprintf(out, "    %-32s %14" PRIu64 " %14.1f  %s\n", c.name.c_str(), c.value, rate, c.unit.c_str());
      else
        fprintf(out, "    %-32s %14" PRIu64 "  %s\n", c.name.c_str(), c.value, c.unit.c_str());
    }
  }
  if (hidden) fprintf(out, "  (%zu counters at zero not shown; --all shows every counter)\n", hidden);
}

// The bar chart of all fault histograms merged: one line per non-empty bucket.
void print_merged_histogram(FILE* out, const Snapshot& s) {
  std::vector<uint64_t> merged;
  for (const HistogramValue& h : s.histograms) {
    if (h.name.compare(0, 6, "fault_") != 0) continue;
    merged.resize(std::max(merged.size(), h.buckets.size()));
    for (size_t b = 0; b < h.buckets.size(); ++b) merged[b] += h.buckets[b];
  }
  uint64_t peak = 0;
  for (uint64_t v : merged) peak = std::max(peak, v);
  if (peak == 0) return;
  fprintf(out, "  all faults\n");
  for (size_t b = 0; b < merged.size(); ++b) {
    if (!merged[b]) continue;
    int width = static_cast<int>(40.0 * static_cast<double>(merged[b]) / static_cast<double>(peak) + 0.999);
    std::string lo = human_ns(b == 0 ? 0 : uint64_t{1} << b);
    std::string hi = b + 1 < 64 ? human_ns(uint64_t{1} << (b + 1)) : "inf";
    fprintf(out, "    [%7s, %7s) %12" PRIu64 " %s\n", lo.c_str(), hi.c_str(), merged[b], std::string(width, '#').c_str());
  }
}

void print_histograms(FILE* out, const Snapshot& s) {
  fprintf(out, "\nlatency     %-20s %12s %9s %9s %9s %9s\n", "kind", "count", "p50", "p90", "p99", "p99.9");
  for (const HistogramValue& h : s.histograms)
    fprintf(out, "            %-20s %12" PRIu64 " %9s %9s %9s %9s\n", h.name.c_str(), h.total(),
            human_ns(h.percentile_ns(0.50)).c_str(), human_ns(h.percentile_ns(0.90)).c_str(),
            human_ns(h.percentile_ns(0.99)).c_str(), human_ns(h.percentile_ns(0.999)).c_str());
  print_merged_histogram(out, s);
}

void print_options(FILE* out, const Snapshot& s) {
  if (s.options.empty()) return;
  fprintf(out, "\noptions\n");
  size_t pos = 0;
  while (pos < s.options.size()) {
    size_t nl = s.options.find('\n', pos);
    if (nl == std::string::npos) nl = s.options.size();
    if (nl > pos) fprintf(out, "  %s\n", s.options.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
}

}  // namespace

double heartbeat_age_seconds(const Snapshot& s) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  return now > s.publish_monotonic_ns ? static_cast<double>(now - s.publish_monotonic_ns) / 1e9 : 0.0;
}

void print_list(FILE* out, const std::vector<ProcessRow>& rows) {
  fprintf(out, "%7s %-20s %9s %9s %9s %9s %6s %9s %9s\n", "PID", "COMMAND", "LIMIT", "RESIDENT", "STORED", "COMPR",
          "RATIO", "POOL", "SAVED");
  for (const ProcessRow& r : rows) {
    if (r.status == ProcessRow::Status::Error) {
      fprintf(out, "%7d %s\n", r.file.pid, ("(unreadable: " + r.error + ")").c_str());
      continue;
    }
    Summary m = summarize(r.snap);
    std::string cmd = short_command(r.snap.command).substr(0, 20);
    fprintf(out, "%7d %-20s %9s %9s %9" PRIu64 " %9s %6s %9s %9s%s\n", r.snap.pid, cmd.c_str(),
            limit_text(m.limit_bytes).c_str(), human_bytes(m.resident_bytes).c_str(), m.stored_pages,
            human_bytes(m.compressed_bytes).c_str(), ratio_text(m.ratio).c_str(), human_bytes(m.total_bytes).c_str(),
            saved_text(m.saved_bytes).c_str(), r.status == ProcessRow::Status::Stale ? "  (not publishing)" : "");
  }
}

void print_process(FILE* out, const Snapshot& s, const std::vector<double>* rates, bool all) {
  print_header(out, s);
  print_summary(out, summarize(s));
  print_counters(out, s, rates, all);
  print_histograms(out, s);
  print_options(out, s);
}

void print_classes(FILE* out, const Snapshot& s, bool all) {
  print_header(out, s);
  fprintf(out, "\n");
  for (const std::string& c : s.class_columns) fprintf(out, "%*s", c == "index" ? 5 : static_cast<int>(std::max<size_t>(c.size(), 6) + 2), c.c_str());
  fprintf(out, "\n");
  std::vector<uint64_t> total(s.class_columns.size(), 0);
  int used_col = s.class_column("obj_allocated");
  for (const std::vector<uint64_t>& row : s.classes) {
    if (!all && used_col >= 0 && row[used_col] == 0) continue;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string& name = s.class_columns[c];
      fprintf(out, "%*" PRIu64, name == "index" ? 5 : static_cast<int>(std::max<size_t>(name.size(), 6) + 2), row[c]);
      total[c] += row[c];
    }
    fprintf(out, "\n");
  }
  fprintf(out, "Total");
  for (size_t c = 0; c < total.size(); ++c) {
    const std::string& name = s.class_columns[c];
    if (name == "index") continue;
    int w = static_cast<int>(std::max<size_t>(name.size(), 6) + 2);
    if (name == "size" || name == "pages_per_zspage")
      fprintf(out, "%*s", w, "");
    else
      fprintf(out, "%*" PRIu64, w, total[c]);
  }
  fprintf(out, "\n");
}

}  // namespace uzswap::zsstat
