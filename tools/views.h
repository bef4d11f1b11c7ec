// tools/views.h — what zsstat prints: the text views and the JSON documents.
//
// The JSON schema is versioned by its "schema" key ("uzswap-zsstat/1"); keys are only
// ever added under a new schema name. tests/tools/golden/ holds the key sets the tests
// hold it to. Counter, gauge and histogram keys are the names the region carries.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tools/region_dir.h"
#include "tools/region_reader.h"

namespace uzswap::zsstat {

inline constexpr char kJsonSchema[] = "uzswap-zsstat/1";

// One line of the process list.
struct ProcessRow {
  enum class Status { Live, Stale, Error };  // Stale: alive but not publishing lately
  RegionFile file;
  Status status = Status::Error;
  Snapshot snap;        // valid unless Error
  std::string error;    // the reason when Error
  double heartbeat_age = 0;  // seconds since the last publish
};

// Seconds since the snapshot's last publish (CLOCK_MONOTONIC is shared by all processes).
double heartbeat_age_seconds(const Snapshot& s);
// A process that has not published for this long is shown as not publishing.
inline constexpr double kStaleSeconds = 5.0;

void print_list(FILE* out, const std::vector<ProcessRow>& rows);
// rates: per-second counter rates (index-aligned with snap.counters), or nullptr;
// all: also the counters that are zero.
void print_process(FILE* out, const Snapshot& snap, const std::vector<double>* rates, bool all);
void print_classes(FILE* out, const Snapshot& snap, bool all);

std::string json_list(const std::vector<ProcessRow>& rows);
std::string json_process(const Snapshot& snap, const std::vector<double>* rates);

}  // namespace uzswap::zsstat
