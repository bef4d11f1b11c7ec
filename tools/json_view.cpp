// tools/json_view.cpp — the JSON documents of zsstat (see views.h for the schema rule).
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "tools/summary.h"
#include "tools/views.h"

namespace uzswap::zsstat {
namespace {

// A minimal JSON writer: tracks whether a comma is due at each nesting level.
class Json {
 public:
  Json& begin_object() { return open('{'); }
  Json& end_object() { return close('}'); }
  Json& begin_array() { return open('['); }
  Json& end_array() { return close(']'); }
  Json& key(const std::string& k) {
    comma();
    string(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  Json& value(uint64_t v) { return raw(std::to_string(v)); }
  Json& value(int64_t v) { return raw(std::to_string(v)); }
  Json& value(bool v) { return raw(v ? "true" : "false"); }
  Json& value(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", std::isfinite(v) ? v : 0.0);
    return raw(buf);
  }
  Json& value(const std::string& s) {
    comma();
    string(s);
    return *this;
  }
  Json& null() { return raw("null"); }
  std::string str() const { return out_; }

 private:
  Json& raw(const std::string& s) {
    comma();
    out_ += s;
    return *this;
  }
  Json& open(char c) {
    comma();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void string(const std::string& s) {
    out_ += '"';
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(c);
      } else if (c < 0x20 || c >= 0x7f) {
        char buf[8];
        snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
      } else {
        out_ += static_cast<char>(c);
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

void summary_object(Json& j, const Summary& m) {
  j.begin_object();
  j.key("engine_attached").value(m.engine_attached);
  j.key("data_bytes").value(m.data_bytes);
  j.key("compressed_bytes").value(m.compressed_bytes);
  j.key("total_bytes").value(m.total_bytes);
  j.key("ratio").value(m.ratio);
  j.key("saved_bytes").value(m.saved_bytes);
  j.key("limit_bytes").value(m.limit_bytes);
  j.key("pool_limit_bytes").value(m.pool_limit_bytes);
  j.key("footprint_bytes").value(m.footprint_bytes);
  j.key("resident_bytes").value(m.resident_bytes);
  j.key("staging_bytes").value(m.staging_bytes);
  j.key("metadata_bytes").value(m.metadata_bytes);
  j.key("managed_bytes").value(m.managed_bytes);
  j.key("stored_pages").value(m.stored_pages);
  j.key("same_filled_pages").value(m.same_filled_pages);
  j.key("staged_pages").value(m.staged_pages);
  j.key("over_limit_unreachable").value(m.over_limit_unreachable);
  j.key("coverage_permille").value(m.coverage_permille);
  j.end_object();
}

void histograms_object(Json& j, const Snapshot& s) {
  j.begin_object();
  for (const HistogramValue& h : s.histograms) {
    j.key(h.name).begin_object();
    j.key("count").value(h.total());
    j.key("p50_ns").value(h.percentile_ns(0.50));
    j.key("p90_ns").value(h.percentile_ns(0.90));
    j.key("p99_ns").value(h.percentile_ns(0.99));
    j.key("p999_ns").value(h.percentile_ns(0.999));
    j.key("buckets").begin_array();
    for (uint64_t b : h.buckets) j.value(b);
    j.end_array().end_object();
  }
  j.end_object();
}

void classes_array(Json& j, const Snapshot& s) {
  j.begin_array();
  for (const std::vector<uint64_t>& row : s.classes) {
    j.begin_object();
    for (size_t c = 0; c < row.size(); ++c) j.key(s.class_columns[c]).value(row[c]);
    j.end_object();
  }
  j.end_array();
}

void options_object(Json& j, const Snapshot& s) {
  j.begin_object();
  size_t pos = 0;
  while (pos < s.options.size()) {
    size_t nl = s.options.find('\n', pos);
    if (nl == std::string::npos) nl = s.options.size();
    std::string line = s.options.substr(pos, nl - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) j.key(line.substr(0, eq)).value(line.substr(eq + 1));
    pos = nl + 1;
  }
  j.end_object();
}

void named_values(Json& j, const std::vector<NamedValue>& v) {
  j.begin_object();
  for (const NamedValue& nv : v) j.key(nv.name).value(nv.value);
  j.end_object();
}

void process_body(Json& j, const Snapshot& s, const std::vector<double>* rates) {
  j.key("pid").value(static_cast<int64_t>(s.pid));
  j.key("command").value(s.command);
  j.key("uid").value(static_cast<uint64_t>(s.uid));
  j.key("start_time").value(s.start_time);
  j.key("state").value(std::string(s.state == 2 ? "stopped" : "live"));
  j.key("format_version").value(static_cast<uint64_t>(s.version));
  j.key("page_size").value(static_cast<uint64_t>(s.page_size));
  j.key("ncpu").value(static_cast<uint64_t>(s.ncpu));
  j.key("publish_count").value(s.publish_count);
  j.key("publish_age_seconds").value(heartbeat_age_seconds(s));
  j.key("summary");
  summary_object(j, summarize(s));
  j.key("gauges");
  named_values(j, s.gauges);
  j.key("counters");
  named_values(j, s.counters);
  j.key("rates");
  if (rates) {
    j.begin_object();
    for (size_t i = 0; i < s.counters.size(); ++i) j.key(s.counters[i].name).value((*rates)[i]);
    j.end_object();
  } else {
    j.null();
  }
  j.key("histograms");
  histograms_object(j, s);
  j.key("classes");
  classes_array(j, s);
  j.key("options");
  options_object(j, s);
}

const char* status_name(ProcessRow::Status st) {
  switch (st) {
    case ProcessRow::Status::Live: return "live";
    case ProcessRow::Status::Stale: return "not_publishing";
    case ProcessRow::Status::Error: return "error";
  }
  return "error";
}

}  // namespace

std::string json_process(const Snapshot& s, const std::vector<double>* rates) {
  Json j;
  j.begin_object();
  j.key("schema").value(std::string(kJsonSchema));
  process_body(j, s, rates);
  j.end_object();
  return j.str();
}

std::string json_list(const std::vector<ProcessRow>& rows) {
  Json j;
  j.begin_object();
  j.key("schema").value(std::string(kJsonSchema));
  j.key("processes").begin_array();
  for (const ProcessRow& r : rows) {
    j.begin_object();
    j.key("pid").value(static_cast<int64_t>(r.file.pid));
    j.key("status").value(std::string(status_name(r.status)));
    if (r.status == ProcessRow::Status::Error) {
      j.key("error").value(r.error);
    } else {
      Summary m = summarize(r.snap);
      j.key("command").value(r.snap.command);
      j.key("uid").value(static_cast<uint64_t>(r.snap.uid));
      j.key("limit_bytes").value(m.limit_bytes);
      j.key("resident_bytes").value(m.resident_bytes);
      j.key("stored_pages").value(m.stored_pages);
      j.key("compressed_bytes").value(m.compressed_bytes);
      j.key("ratio").value(m.ratio);
      j.key("pool_bytes").value(m.total_bytes);
      j.key("saved_bytes").value(m.saved_bytes);
      j.key("footprint_bytes").value(m.footprint_bytes);
    }
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

}  // namespace uzswap::zsstat
