// tools/region_dir.h — finding, opening and removing stats regions on disk.
//
// Regions are files <dir>/uzswap.<uid>.<pid>.<starttime> (preload/stats_layout.h). This
// unit parses those names, decides whether the process behind one is still the one that
// made it (pid alive with the same /proc start time), opens a region safely (no symlinks,
// regular files only, owned by the caller unless the caller is root, size bounded) and
// maps it read-only. It never writes a region; it only unlinks dead ones.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace uzswap::zsstat {

struct RegionFile {
  std::string path;
  uint32_t uid = 0;
  int32_t pid = 0;
  uint64_t start_time = 0;
  bool tmp = false;  // a ".tmp" region still being built (or left by a crash while building)
};

// The directory zsstat reads: `dir` if non-empty, else $UZSWAP_STATS_DIR, else /dev/shm.
std::string stats_dir(const std::string& dir);

// Parses "uzswap.<uid>.<pid>.<starttime>[.tmp]"; false for any other name.
bool parse_region_name(const std::string& name, RegionFile* out);

// Every region file in `dir`, sorted by pid.
std::vector<RegionFile> list_region_files(const std::string& dir);

enum class Liveness {
  Alive,  // the pid runs and (when known) has the region's start time
  Dead,   // no such pid, or the pid now belongs to a later process
};
Liveness process_liveness(int32_t pid, uint64_t start_time);
// /proc/<pid>/stat start time; false if the process does not exist.
bool proc_start_time(int32_t pid, uint64_t* start_time);
// /proc/<pid>/comm, or "" if unreadable.
std::string proc_comm(int32_t pid);

// A read-only mapping of one region file. Regions never shrink (uzswap sizes them once);
// a file truncated under a reader by its owner would fault the reader, which only that
// owner or root can cause, and neither has reason to.

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Opens and maps `path`; on failure returns false with one line in *why.
  bool open(const std::string& path, std::string* why);
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  uid_t owner() const { return owner_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uid_t owner_ = 0;
};

// Removes a dead region's file if the caller owns it (or is root). False with a reason
// otherwise.
bool remove_region_file(const RegionFile& f, std::string* why);

}  // namespace uzswap::zsstat
