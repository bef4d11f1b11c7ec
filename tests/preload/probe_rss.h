// tests/preload/probe_rss.h — the probes' view of their own resident set (VmRSS, KiB),
// read from /proc/self/status; 0 if it cannot be read.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace uzswap::test {

inline size_t rss_kib() {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtoull(line + 6, nullptr, 10);
  if (f) fclose(f);
  return kib;
}

}  // namespace uzswap::test
