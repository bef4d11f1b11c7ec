// preload/maps_reader.cpp — see maps_reader.h. Raw system calls only (open/read/mmap
// through syscall(2)): no stdio, no malloc, nothing the interposed calls see.
#include "preload/maps_reader.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uzswap::preload {
namespace {

constexpr size_t kInitialBytes = 1 << 20;

void* raw_map(size_t len) {
  long p = syscall(SYS_mmap, nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == -1 ? nullptr : reinterpret_cast<void*>(p);
}

bool parse_hex(const char** p, const char* end, uint64_t* v) {
  const char* s = *p;
  uint64_t x = 0;
  for (; *p < end; ++*p) {
    char c = **p;
    if (c >= '0' && c <= '9') x = x * 16 + static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') x = x * 16 + static_cast<uint64_t>(c - 'a' + 10);
    else break;
  }
  *v = x;
  return *p > s;
}

void skip_field(const char** p, const char* end) {
  while (*p < end && **p != ' ') ++*p;
  while (*p < end && **p == ' ') ++*p;
}

bool starts_with(const char* p, const char* end, const char* word) {
  for (; *word != '\0'; ++p, ++word)
    if (p >= end || *p != *word) return false;
  return true;
}

MapsName name_kind(const char* p, const char* end) {
  if (p >= end) return MapsName::None;
  if (*p != '[') return MapsName::File;
  if (starts_with(p, end, "[heap]")) return MapsName::Heap;
  if (starts_with(p, end, "[stack]")) return MapsName::MainStack;
  if (starts_with(p, end, "[anon:")) return MapsName::AnonNamed;
  return MapsName::Special;
}

// Reads all of fd into buf (grown by the caller's callback); returns the length or -1.
ssize_t read_all(int fd, char* buf, size_t cap) {
  size_t len = 0;
  while (len < cap) {
    ssize_t n = syscall(SYS_read, fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(len);
}

}  // namespace

bool parse_maps_line(const char* text, size_t len, MapsLine* out) {
  const char* p = text;
  const char* end = text + len;
  uint64_t b = 0, e = 0, inode = 0;
  if (!parse_hex(&p, end, &b) || p >= end || *p++ != '-' || !parse_hex(&p, end, &e) || p >= end || *p++ != ' ')
    return false;
  if (end - p < 4) return false;
  out->begin = b;
  out->end = e;
  out->read = p[0] == 'r';
  out->write = p[1] == 'w';
  out->exec = p[2] == 'x';
  out->shared = p[3] == 's';
  skip_field(&p, end);  // perms
  skip_field(&p, end);  // offset
  skip_field(&p, end);  // dev
  const char* q = p;
  while (q < end && *q >= '0' && *q <= '9') inode = inode * 10 + static_cast<uint64_t>(*q++ - '0');
  if (q == p) return false;
  out->inode = inode;
  p = q;
  while (p < end && *p == ' ') ++p;
  out->name = name_kind(p, end);
  return e > b;
}

void MapsSnapshot::release() {
  if (buf_ != nullptr) syscall(SYS_munmap, buf_, cap_);
  buf_ = nullptr;
  cap_ = 0;
  lines_ = nullptr;
  count_ = 0;
}

bool MapsSnapshot::grow(size_t bytes) {
  void* p = raw_map(bytes);
  if (p == nullptr) return false;
  if (buf_ != nullptr) syscall(SYS_munmap, buf_, cap_);
  buf_ = static_cast<char*>(p);
  cap_ = bytes;
  return true;
}

bool MapsSnapshot::read(const char* path) {
  count_ = 0;
  if (buf_ == nullptr && !grow(kInitialBytes)) return false;
  for (;;) {
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) return false;
    // Text in the first half, records in the second: a full first half means the file
    // may be longer, so read it again into a bigger buffer.
    ssize_t n = read_all(fd, buf_, cap_ / 2);
    syscall(SYS_close, fd);
    if (n < 0) return false;
    if (static_cast<size_t>(n) < cap_ / 2) {
      size_t text_len = static_cast<size_t>(n);
      lines_ = reinterpret_cast<MapsLine*>(buf_ + cap_ / 2);
      size_t max_lines = (cap_ / 2) / sizeof(MapsLine);
      size_t start = 0;
      for (size_t i = 0; i < text_len && count_ < max_lines; ++i) {
        if (buf_[i] != '\n') continue;
        if (parse_maps_line(buf_ + start, i - start, &lines_[count_])) ++count_;
        start = i + 1;
      }
      return true;
    }
    if (!grow(cap_ * 2)) return false;
  }
}

uint64_t read_status_kb(const char* key) {
  char buf[4096];
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  ssize_t n = read_all(fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return 0;
  const char* end = buf + n;
  for (const char* line = buf; line < end;) {
    const char* nl = line;
    while (nl < end && *nl != '\n') ++nl;
    if (starts_with(line, nl, key) && line + __builtin_strlen(key) < nl && line[__builtin_strlen(key)] == ':') {
      uint64_t v = 0;
      for (const char* p = line + __builtin_strlen(key) + 1; p < nl; ++p)
        if (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p - '0');
      return v * 1024;
    }
    line = nl + 1;
  }
  return 0;
}

}  // namespace uzswap::preload
