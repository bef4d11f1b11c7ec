// tools/region_reader.cpp — see region_reader.h; the format is preload/stats_layout.h.
#include "tools/region_reader.h"

#include <sched.h>

#include <cstdarg>

#include <cstdio>
#include <cstring>
#include <set>

#include "preload/stats_layout.h"

namespace uzswap::zsstat {
namespace {

using stats::GaugeSectionHeader;
using stats::RegionHeader;
using stats::Section;

ParseResult error(ParseError e, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
ParseResult error(ParseError e, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return ParseResult{e, buf};
}

// Acquire loads: the seqlock's reader side without a fence. If a load returns a word of
// a later publish, the final re-read of seq sees that publish's odd or newer value.
uint64_t load_word(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE);
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// The section lies inside [header_size, total) and is 8-byte aligned.
bool section_ok(const Section& s, uint64_t header_size, uint64_t total) {
  uint64_t end;
  return s.offset % 8 == 0 && s.offset >= header_size && !__builtin_add_overflow(s.offset, s.size, &end) &&
         end <= total;
}

// Terminal-safe text: other control and non-ASCII bytes become '?', whitespace a space
// (or stays a newline where lines matter).
std::string sanitised(std::string_view s, bool keep_newlines) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' && keep_newlines) continue;
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    else if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return out;
}

bool identifier(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool printable(std::string_view s) {
  if (s.size() > 1024) return false;
  for (char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

// Splits a private copy of the names section into NUL-terminated strings.
class NameCursor {
 public:
  explicit NameCursor(std::vector<char> bytes) : bytes_(std::move(bytes)) {}
  bool next(std::string* out) {
    if (pos_ >= bytes_.size()) return false;
    const void* nul = memchr(bytes_.data() + pos_, '\0', bytes_.size() - pos_);
    if (!nul) return false;
    size_t end = static_cast<size_t>(static_cast<const char*>(nul) - bytes_.data());
    out->assign(bytes_.data() + pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }

 private:
  std::vector<char> bytes_;
  size_t pos_ = 0;
};

ParseResult check_identity(const RegionHeader& h) {
  if (memchr(h.command, '\0', sizeof h.command) == nullptr)
    return error(ParseError::Corrupt, "corrupt region: command line not terminated");
  if (h.pid <= 0) return error(ParseError::Corrupt, "corrupt region: pid %d", h.pid);
  if (h.state != static_cast<uint32_t>(stats::RegionState::Live) &&
      h.state != static_cast<uint32_t>(stats::RegionState::Stopped))
    return error(ParseError::Corrupt, "corrupt region: unknown state %u", h.state);
  return {};
}

ParseResult check_sections(const RegionHeader& h) {
  uint64_t total = h.total_size;
  for (const Section* s : {&h.names, &h.counters, &h.histograms, &h.gauges})
    if (!section_ok(*s, h.header_size, total))
      return error(ParseError::Corrupt, "corrupt region: a section lies outside the region");
  if (h.num_counters > stats::kMaxNames || h.num_histograms > stats::kMaxNames ||
      h.num_gauges > stats::kMaxNames || h.num_class_columns > stats::kMaxClassColumns ||
      h.max_classes > stats::kMaxClassRows || h.options_capacity > stats::kMaxOptionsBytes ||
      h.options_capacity % 8 != 0)
    return error(ParseError::Corrupt, "corrupt region: implausible counts");
  uint64_t need;
  if (h.counter_rows == 0 || h.counter_rows > stats::kMaxRows || h.counter_row_stride % 8 != 0 ||
      h.counter_row_stride < 8ull * h.num_counters ||
      !mul_ok(h.counter_rows, h.counter_row_stride, &need) || need > h.counters.size)
    return error(ParseError::Corrupt, "corrupt region: counter table does not fit its section");
  if (h.histogram_rows == 0 || h.histogram_rows > stats::kMaxRows || h.histogram_buckets == 0 ||
      h.histogram_buckets > stats::kMaxBuckets || h.histogram_row_stride % 8 != 0 ||
      h.histogram_row_stride < 8ull * h.num_histograms * h.histogram_buckets ||
      !mul_ok(h.histogram_rows, h.histogram_row_stride, &need) || need > h.histograms.size)
    return error(ParseError::Corrupt, "corrupt region: histogram table does not fit its section");
  need = sizeof(GaugeSectionHeader) + 8ull * (h.num_gauges + uint64_t{h.max_classes} * h.num_class_columns) +
         h.options_capacity;
  if (need > h.gauges.size)
    return error(ParseError::Corrupt, "corrupt region: gauge table does not fit its section");
  return {};
}

ParseResult read_names(const uint8_t* base, const RegionHeader& h, Snapshot* out) {
  std::vector<char> bytes(h.names.size);
  if (h.names.size) memcpy(bytes.data(), base + h.names.offset, h.names.size);
  NameCursor cur(std::move(bytes));
  auto bad = [] { return error(ParseError::Corrupt, "corrupt region: bad names table"); };
  auto read_triples = [&](uint32_t n, std::vector<NamedValue>* v) {
    std::set<std::string> seen;
    v->resize(n);
    for (NamedValue& nv : *v)
      if (!cur.next(&nv.name) || !cur.next(&nv.unit) || !cur.next(&nv.help) || !identifier(nv.name) ||
          !printable(nv.unit) || !printable(nv.help) || !seen.insert(nv.name).second)
        return false;
    return true;
  };
  if (!read_triples(h.num_counters, &out->counters)) return bad();
  out->histograms.resize(h.num_histograms);
  for (HistogramValue& hv : out->histograms)
    if (!cur.next(&hv.name) || !cur.next(&hv.help) || !identifier(hv.name) || !printable(hv.help))
      return bad();
  if (!read_triples(h.num_gauges, &out->gauges)) return bad();
  out->class_columns.resize(h.num_class_columns);
  for (std::string& c : out->class_columns)
    if (!cur.next(&c) || !identifier(c)) return bad();
  return {};
}

void read_counters(const uint8_t* base, const RegionHeader& h, Snapshot* out) {
  for (size_t i = 0; i < out->counters.size(); ++i) {
    uint64_t sum = 0;
    for (uint64_t r = 0; r < h.counter_rows; ++r)
      sum += load_word(base + h.counters.offset + r * h.counter_row_stride + 8 * i);
    out->counters[i].value = sum;
  }
  for (size_t k = 0; k < out->histograms.size(); ++k) {
    std::vector<uint64_t>& b = out->histograms[k].buckets;
    b.assign(h.histogram_buckets, 0);
    for (uint64_t r = 0; r < h.histogram_rows; ++r)
      for (size_t j = 0; j < b.size(); ++j)
        b[j] += load_word(base + h.histograms.offset + r * h.histogram_row_stride +
                          8 * (k * h.histogram_buckets + j));
  }
}

// One copy of the gauges section; false if a publish overlapped it.
bool copy_gauges_once(const uint8_t* sec, const RegionHeader& h, Snapshot* out, std::string* text,
                      bool* corrupt) {
  const auto* gh = reinterpret_cast<const GaugeSectionHeader*>(sec);
  uint64_t seq = __atomic_load_n(&gh->seq, __ATOMIC_ACQUIRE);
  if (seq & 1) return false;
  const uint8_t* values = sec + stats::kGaugeValuesOffset;
  for (size_t i = 0; i < out->gauges.size(); ++i) out->gauges[i].value = load_word(values + 8 * i);
  uint64_t ncls = load_word(reinterpret_cast<const uint8_t*>(&gh->num_classes));
  uint64_t nopt = load_word(reinterpret_cast<const uint8_t*>(&gh->options_length));
  *corrupt = ncls > h.max_classes || nopt > h.options_capacity;
  if (!*corrupt) {
    const uint8_t* rows = values + 8 * out->gauges.size();
    size_t ncol = out->class_columns.size();
    out->classes.assign(ncls, std::vector<uint64_t>(ncol));
    for (size_t r = 0; r < ncls; ++r)
      for (size_t c = 0; c < ncol; ++c) out->classes[r][c] = load_word(rows + 8 * (r * ncol + c));
    const uint8_t* opt = rows + 8 * (uint64_t{h.max_classes} * ncol);
    text->resize((nopt + 7) & ~uint64_t{7});
    for (size_t off = 0; off < text->size(); off += 8) {
      uint64_t w = load_word(opt + off);
      memcpy(text->data() + off, &w, 8);
    }
    text->resize(nopt);
  }
  out->publish_count = load_word(reinterpret_cast<const uint8_t*>(&gh->publish_count));
  out->publish_monotonic_ns = load_word(reinterpret_cast<const uint8_t*>(&gh->publish_monotonic_ns));
  out->publish_realtime_ns = load_word(reinterpret_cast<const uint8_t*>(&gh->publish_realtime_ns));
  return __atomic_load_n(&gh->seq, __ATOMIC_RELAXED) == seq;
}

ParseResult read_gauges(const uint8_t* base, const RegionHeader& h, Snapshot* out, int retries) {
  std::string text;
  for (int attempt = 0; attempt <= retries; ++attempt) {
    bool corrupt = false;
    if (copy_gauges_once(base + h.gauges.offset, h, out, &text, &corrupt)) {
      if (corrupt) return error(ParseError::Corrupt, "corrupt region: gauge table counts out of range");
      out->options = sanitised(text, true);
      return {};
    }
    if (attempt > 16) sched_yield();
  }
  return error(ParseError::Busy, "the region's gauges kept changing while being read; try again");
}

}  // namespace

uint64_t HistogramValue::total() const {
  uint64_t t = 0;
  for (uint64_t b : buckets) t += b;
  return t;
}

uint64_t HistogramValue::percentile_ns(double fraction) const {
  uint64_t t = total();
  if (t == 0) return 0;
  uint64_t want = static_cast<uint64_t>(fraction * static_cast<double>(t));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    seen += buckets[b];
    if (seen > want || b + 1 == buckets.size()) return b + 1 >= 64 ? UINT64_MAX : uint64_t{1} << (b + 1);
  }
  return 0;
}

std::optional<uint64_t> Snapshot::gauge(std::string_view name) const {
  for (const NamedValue& g : gauges)
    if (g.name == name) return g.value;
  return std::nullopt;
}

std::optional<uint64_t> Snapshot::counter(std::string_view name) const {
  for (const NamedValue& c : counters)
    if (c.name == name) return c.value;
  return std::nullopt;
}

int Snapshot::class_column(std::string_view name) const {
  for (size_t i = 0; i < class_columns.size(); ++i)
    if (class_columns[i] == name) return static_cast<int>(i);
  return -1;
}

ParseResult parse_region(const uint8_t* base, size_t size, Snapshot* out, int seq_retries) {
  *out = Snapshot{};
  if (reinterpret_cast<uintptr_t>(base) % 8 != 0)
    return error(ParseError::Corrupt, "region not 8-byte aligned in memory");
  static const char kZero[8] = {};
  if (size < sizeof stats::kRegionMagic)
    return error(ParseError::Truncated, "truncated region: %zu bytes", size);
  if (memcmp(base, kZero, 8) == 0)
    return error(ParseError::Uninitialised, "region not initialised (its process may be starting)");
  if (memcmp(base, stats::kRegionMagic, 8) != 0)
    return error(ParseError::NotARegion, "not a uzswap stats region (bad magic)");
  if (size < 16) return error(ParseError::Truncated, "truncated region: %zu bytes", size);
  uint32_t version;
  memcpy(&version, base + 8, sizeof version);
  if (version == 0) return error(ParseError::Corrupt, "corrupt region: version 0");
  if (version > stats::kRegionVersion)
    return error(ParseError::NewerVersion, "region format v%u is newer than this zsstat (reads v%u): update zsstat",
                 version, stats::kRegionVersion);
  if (size < sizeof(RegionHeader))
    return error(ParseError::Truncated, "truncated region: %zu bytes, header needs %zu", size, sizeof(RegionHeader));
  RegionHeader h;
  memcpy(&h, base, sizeof h);
  h.state = __atomic_load_n(&reinterpret_cast<const RegionHeader*>(base)->state, __ATOMIC_ACQUIRE);
  if (h.header_size < sizeof(RegionHeader) || h.total_size < h.header_size || h.total_size > stats::kMaxRegionBytes)
    return error(ParseError::Corrupt, "corrupt region: header size %u, total size %llu", h.header_size,
                 static_cast<unsigned long long>(h.total_size));
  if (h.total_size > size)
    return error(ParseError::Truncated, "truncated region: %zu of %llu bytes", size,
                 static_cast<unsigned long long>(h.total_size));
  for (ParseResult r : {check_identity(h), check_sections(h)})
    if (!r.ok()) return r;
  out->version = h.version;
  out->state = h.state;
  out->pid = h.pid;
  out->start_time = h.start_time;
  out->uid = h.uid;
  out->page_size = h.page_size;
  out->ncpu = h.ncpu;
  out->created_realtime_ns = h.created_realtime_ns;
  out->command = sanitised(h.command, false);
  if (ParseResult r = read_names(base, h, out); !r.ok()) return r;
  read_counters(base, h, out);
  return read_gauges(base, h, out, seq_retries);
}

}  // namespace uzswap::zsstat
