// tools/region_dir.cpp — see region_dir.h.
#include "tools/region_dir.h"

#include <dirent.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "preload/stats_layout.h"

namespace uzswap::zsstat {
namespace {

// Parses a run of decimal digits ending at `end` or at '.'.
bool parse_number(const std::string& s, size_t* pos, uint64_t* out) {
  size_t start = *pos;
  uint64_t v = 0;
  while (*pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9') {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, uint64_t(s[*pos] - '0'), &v)) return false;
    ++*pos;
  }
  *out = v;
  return *pos > start && *pos - start < 21;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s, '\0');
  return s;
}

}  // namespace

std::string stats_dir(const std::string& dir) {
  if (!dir.empty()) return dir;
  const char* env = getenv(stats::kDirEnv);
  return env && *env ? env : stats::kDefaultDir;
}

bool parse_region_name(const std::string& name, RegionFile* out) {
  const std::string prefix = stats::kRegionPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t pos = prefix.size();
  uint64_t uid, pid, st;
  if (!parse_number(name, &pos, &uid) || pos >= name.size() || name[pos++] != '.') return false;
  if (!parse_number(name, &pos, &pid) || pos >= name.size() || name[pos++] != '.') return false;
  if (!parse_number(name, &pos, &st)) return false;
  std::string rest = name.substr(pos);
  if (!rest.empty() && rest != stats::kTmpSuffix) return false;
  if (uid > UINT32_MAX || pid == 0 || pid > INT32_MAX) return false;
  out->uid = static_cast<uint32_t>(uid);
  out->pid = static_cast<int32_t>(pid);
  out->start_time = st;
  out->tmp = !rest.empty();
  return true;
}

std::vector<RegionFile> list_region_files(const std::string& dir) {
  std::vector<RegionFile> files;
  DIR* d = opendir(dir.c_str());
  if (!d) return files;
  while (dirent* e = readdir(d)) {
    RegionFile f;
    if (!parse_region_name(e->d_name, &f)) continue;
    f.path = dir + "/" + e->d_name;
    files.push_back(std::move(f));
  }
  closedir(d);
  std::sort(files.begin(), files.end(), [](const RegionFile& a, const RegionFile& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.start_time < b.start_time;
  });
  return files;
}

bool proc_start_time(int32_t pid, uint64_t* start_time) {
  std::string s = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  size_t close = s.rfind(')');
  if (s.empty() || close == std::string::npos) return false;
  int field = 2;
  size_t i = close + 1;
  for (; i < s.size() && field < 22; ++i)
    if (s[i] == ' ') ++field;
  *start_time = field == 22 ? strtoull(s.c_str() + i, nullptr, 10) : 0;
  return true;
}

std::string proc_comm(int32_t pid) {
  std::string s = read_small_file("/proc/" + std::to_string(pid) + "/comm");
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Liveness process_liveness(int32_t pid, uint64_t start_time) {
  uint64_t now_start = 0;
  if (!proc_start_time(pid, &now_start)) {
    // No /proc entry: fall back on kill(0) (EPERM still means the pid exists).
    if (kill(pid, 0) == 0 || errno == EPERM) return Liveness::Alive;
    return Liveness::Dead;
  }
  if (start_time != 0 && now_start != 0 && now_start != start_time) return Liveness::Dead;
  return Liveness::Alive;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedFile::open(const std::string& path, std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *why = path + ": " + strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = false;
  if (fstat(fd, &st) != 0) {
    *why = path + ": " + strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    *why = path + ": not a regular file";
  } else if (st.st_uid != geteuid() && geteuid() != 0) {
    *why = path + ": belongs to uid " + std::to_string(st.st_uid) + ", not to you";
  } else if (st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > stats::kMaxRegionBytes) {
    *why = path + ": implausible size " + std::to_string(st.st_size) + " bytes";
  } else {
    void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      *why = path + ": mmap: " + strerror(errno);
    } else {
      data_ = static_cast<const uint8_t*>(p);
      size_ = static_cast<size_t>(st.st_size);
      owner_ = st.st_uid;
      ok = true;
    }
  }
  ::close(fd);
  return ok;
}

bool remove_region_file(const RegionFile& f, std::string* why) {
  struct stat st;
  if (lstat(f.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;  // someone else removed it first
    *why = f.path + ": " + strerror(errno);
    return false;
  }
  if (st.st_uid != geteuid() && geteuid() != 0) {
    *why = f.path + ": belongs to uid " + std::to_string(st.st_uid) + ", not removed";
    return false;
  }
  if (unlink(f.path.c_str()) != 0 && errno != ENOENT) {
    *why = f.path + ": " + strerror(errno);
    return false;
  }
  return true;
}

}  // namespace uzswap::zsstat
