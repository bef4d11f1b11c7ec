// tools/commands.h — zsstat's commands: list, show one process, clean up dead regions.
// Each returns the process exit status (0 ok, 1 cannot read, 2 usage) and prints errors
// as one line on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace uzswap::zsstat {

struct Args {
  std::string dir;     // empty: $UZSWAP_STATS_DIR or /dev/shm
  int32_t pid = 0;     // 0: list every process
  bool json = false;
  bool classes = false;
  bool all = false;    // also zero counters, and empty classes with --classes
  bool cleanup = false;
  double watch = 0;    // seconds between refreshes; 0: once
  long count = 0;      // refreshes with --watch; 0: until interrupted
};

int cmd_list(const Args& args);
int cmd_show(const Args& args);
int cmd_cleanup(const Args& args);

}  // namespace uzswap::zsstat
