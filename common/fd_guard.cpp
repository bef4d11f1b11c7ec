// common/fd_guard.cpp — see fd_guard.h.
#include "common/fd_guard.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>

namespace uzswap {
namespace {

std::atomic<int> g_slots[kFdGuardSlots] = {};  // 0 = free; a descriptor d is stored as d + 1
// Where our descriptors go: above the first 256 (what shells and fd-listing tests look at)
// and out of the lowest numbers programs get; below the soft limit, or F_DUPFD refuses.
int high_base() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1000;
  long soft = static_cast<long>(rl.rlim_cur);
  if (soft > 1024) return 1000;
  return static_cast<int>(soft * 3 / 4);
}

void record(int fd) {
  for (auto& s : g_slots) {
    int expect = 0;
    if (s.compare_exchange_strong(expect, fd + 1, std::memory_order_acq_rel)) return;
  }
  // More than kFdGuardSlots descriptors: this one goes unguarded (never happens: we keep
  // a handful).
}

}  // namespace

int fd_adopt(int fd) {
  if (fd < 0) return fd;
  int base = high_base();
  if (fd < base) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high >= 0) {
      close(fd);
      fd = high;
    }
  }
  record(fd);
  return fd;
}

void fd_release(int fd) {
  if (fd < 0) return;
  for (auto& s : g_slots) {
    int expect = fd + 1;
    if (s.compare_exchange_strong(expect, 0, std::memory_order_acq_rel)) return;
  }
}

bool fd_is_ours(int fd) {
  if (fd < 0) return false;
  for (auto& s : g_slots)
    if (s.load(std::memory_order_acquire) == fd + 1) return true;
  return false;
}

size_t fd_ours(int* out, size_t cap) {
  size_t n = 0;
  for (auto& s : g_slots) {
    int v = s.load(std::memory_order_acquire);
    if (v == 0 || n == cap) continue;
    int fd = v - 1;
    size_t i = n++;
    while (i > 0 && out[i - 1] > fd) {  // insertion sort: a handful of entries
      out[i] = out[i - 1];
      --i;
    }
    out[i] = fd;
  }
  return n;
}

void fd_open_high(void (*fn)()) {
  constexpr int kWatch = 64;  // how far above the base fn's descriptors are looked for
  const int base = high_base();
  int filler = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (filler < 0) {
    fn();
    return;
  }
  static int taken[1024];  // constructor only
  int n = 0;
  while (n < 1024) {
    int d = fcntl(filler, F_DUPFD_CLOEXEC, 0);
    if (d < 0) break;
    if (d >= base) {
      close(d);
      break;
    }
    taken[n++] = d;
  }
  bool open_before[kWatch];
  for (int i = 0; i < kWatch; ++i) open_before[i] = fcntl(base + i, F_GETFD) != -1;
  fn();
  for (int i = 0; i < kWatch; ++i)
    if (!open_before[i] && fcntl(base + i, F_GETFD) != -1 && !fd_is_ours(base + i)) record(base + i);
  for (int i = 0; i < n; ++i) close(taken[i]);
  close(filler);
}

void fd_forget_all() {
  for (auto& s : g_slots) s.store(0, std::memory_order_release);
}

}  // namespace uzswap
