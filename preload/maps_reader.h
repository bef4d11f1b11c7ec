// preload/maps_reader.h — /proc/self/maps and /proc/self/status read without stdio or
// malloc (the coverage scan runs in a host whose heap may be managed, and the parser must
// not depend on it).
//
// Data layout: a MapsSnapshot owns one mmap'd buffer holding the file's text and an array
// of parsed MapsLine records (also in that buffer). Not shared between threads: each user
// keeps its own snapshot.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::preload {

// What the path column says about a mapping.
enum class MapsName : uint8_t {
  None,       // no path: anonymous memory (private anonymous or a library's .bss tail)
  Heap,       // [heap]: the brk heap
  MainStack,  // [stack]
  AnonNamed,  // [anon:...] (prctl PR_SET_VMA_ANON_NAME)
  Special,    // any other [...]: [vdso], [vvar], [vsyscall], [uprobes]...
  File,       // a path (file-backed, or /dev/zero, or a SysV segment, or "(deleted)")
};

struct MapsLine {
  uintptr_t begin;
  uintptr_t end;
  bool read, write, exec, shared;  // the perms column; shared: 's' in place of 'p'
  uint64_t inode;
  MapsName name;
};

// Parses one line ("begin-end perms offset dev inode [path]", no newline). false if malformed.
bool parse_maps_line(const char* text, size_t len, MapsLine* out);

class MapsSnapshot {
 public:
  // Trivially destructible on purpose (a static one outlives exit handlers, like all of
  // uzswap's static objects): release() gives the buffer back.
  MapsSnapshot() = default;
  MapsSnapshot(const MapsSnapshot&) = delete;
  MapsSnapshot& operator=(const MapsSnapshot&) = delete;

  // Reads and parses the whole file (path: "/proc/self/maps" unless a test says otherwise).
  // false if it could not be read.
  bool read(const char* path = "/proc/self/maps");
  size_t size() const { return count_; }
  void release();
  const MapsLine& operator[](size_t i) const { return lines_[i]; }
  // The buffer's own address range (the caller must not manage it).
  uintptr_t buffer_begin() const { return reinterpret_cast<uintptr_t>(buf_); }
  uintptr_t buffer_end() const { return reinterpret_cast<uintptr_t>(buf_) + cap_; }

 private:
  bool grow(size_t bytes);

  char* buf_ = nullptr;  // text at [0, text_len), then lines_ (aligned)
  size_t cap_ = 0;
  MapsLine* lines_ = nullptr;
  size_t count_ = 0;
};

// The value of a "Key:   N kB" line of /proc/self/status, in bytes; 0 if absent.
uint64_t read_status_kb(const char* key);

}  // namespace uzswap::preload
