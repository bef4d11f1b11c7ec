// tools/summary.cpp — see summary.h.
#include "tools/summary.h"

#include <cstdio>
#include <map>

namespace uzswap::zsstat {
namespace {

// First matching prefix wins: the specific pool sections come before "pool".
struct Section {
  const char* prefix;
  const char* title;
};
constexpr Section kSections[] = {
    {"fault_", "faults"},
    {"restore_", "faults"},
    {"evict", "eviction"},
    {"stage", "eviction"},
    {"staging_", "eviction"},
    {"reclaim", "eviction"},
    {"store", "eviction"},
    {"compress_", "eviction"},
    {"put_back", "eviction"},
    {"reject_", "rejects"},
    {"writeback", "writeback"},
    {"written_back", "writeback"},
    {"event_", "userfaultfd events"},
    {"error_", "errors"},
    {"poison_", "errors"},
    {"pool_compact", "compaction"},
    {"compact", "compaction"},
    {"pool_migrate", "migration"},
    {"migrate", "migration"},
    {"pool_page_", "migration"},
    {"pool_chunks", "migration"},
    {"pool_", "pool"},
};

const char* section_of(const std::string& name) {
  for (const Section& s : kSections)
    if (name.compare(0, std::string(s.prefix).size(), s.prefix) == 0) return s.title;
  return "other";
}

uint64_t g(const Snapshot& s, const char* name) { return s.gauge(name).value_or(0); }

}  // namespace

Summary summarize(const Snapshot& s) {
  Summary m;
  m.engine_attached = g(s, "engine_attached") != 0;
  m.stored_pages = g(s, "stored_pages");
  m.same_filled_pages = g(s, "same_filled_pages");
  m.staged_pages = g(s, "staged_pages");
  uint64_t page = s.page_size ? s.page_size : 4096;
  m.data_bytes = (m.stored_pages + m.same_filled_pages) * page;
  m.compressed_bytes = g(s, "compressed_bytes");
  m.total_bytes = g(s, "pool_footprint_bytes");
  if (m.total_bytes == 0) m.total_bytes = g(s, "pool_bytes");
  m.ratio = m.compressed_bytes ? static_cast<double>(m.stored_pages * page) / static_cast<double>(m.compressed_bytes) : 0;
  m.saved_bytes = static_cast<int64_t>(m.data_bytes) - static_cast<int64_t>(m.total_bytes);
  m.limit_bytes = g(s, "limit_bytes");
  m.pool_limit_bytes = g(s, "pool_limit_bytes");
  m.footprint_bytes = g(s, "footprint_bytes");
  m.resident_bytes = g(s, "resident_bytes");
  m.staging_bytes = g(s, "staging_bytes");
  m.metadata_bytes = g(s, "metadata_bytes");
  m.managed_bytes = g(s, "managed_bytes");
  m.over_limit_unreachable = g(s, "over_limit_unreachable") != 0;
  m.coverage_permille = g(s, "coverage_permille");
  return m;
}

std::vector<CounterGroup> group_counters(const Snapshot& s) {
  std::vector<CounterGroup> groups;
  for (const Section& sec : kSections) {
    bool seen = false;
    for (const CounterGroup& cg : groups) seen |= cg.title == sec.title;
    if (!seen) groups.push_back({sec.title, {}});
  }
  groups.push_back({"other", {}});
  for (size_t i = 0; i < s.counters.size(); ++i) {
    const char* title = section_of(s.counters[i].name);
    for (CounterGroup& cg : groups)
      if (cg.title == title) cg.counters.push_back(i);
  }
  std::vector<CounterGroup> nonempty;
  for (CounterGroup& cg : groups)
    if (!cg.counters.empty()) nonempty.push_back(std::move(cg));
  return nonempty;
}

std::vector<double> counter_rates(const Snapshot& before, const Snapshot& now, double seconds) {
  std::map<std::string, uint64_t> old;
  for (const NamedValue& c : before.counters) old[c.name] = c.value;
  std::vector<double> rates(now.counters.size(), 0.0);
  if (seconds <= 0) return rates;
  for (size_t i = 0; i < now.counters.size(); ++i) {
    auto it = old.find(now.counters[i].name);
    if (it != old.end() && now.counters[i].value >= it->second)
      rates[i] = static_cast<double>(now.counters[i].value - it->second) / seconds;
  }
  return rates;
}

std::string human_bytes(uint64_t bytes) {
  static const char kUnits[] = "BKMGTPE";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  char buf[32];
  if (u == 0)
    snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(bytes));
  else
    snprintf(buf, sizeof buf, "%.1f%c", v, kUnits[u]);
  return buf;
}

std::string human_ns(uint64_t ns) {
  char buf[32];
  if (ns < 1000)
    snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  else if (ns < 1000000)
    snprintf(buf, sizeof buf, "%.1fus", static_cast<double>(ns) / 1e3);
  else if (ns < 1000000000)
    snprintf(buf, sizeof buf, "%.1fms", static_cast<double>(ns) / 1e6);
  else
    snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace uzswap::zsstat
