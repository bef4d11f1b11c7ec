// uffd/uffd_file.cpp — opening a userfaultfd, the handshake, the ioctl wrappers.
#include "uffd/uffd_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd_guard.h"
#include "uffd/uapi.h"

namespace uzswap::uffd {
namespace {

constexpr int kOpenFlags = O_CLOEXEC | O_NONBLOCK;

thread_local bool t_defer_wakes = false;

// The wake bit of a resolution ioctl: off while the calling thread defers its wakes.
bool wake_allowed(bool wake) { return wake && !t_defer_wakes; }

void set_error(EngineStartResult* r, EngineStartError e, const char* msg) {
  r->error = e;
  snprintf(r->message, sizeof(r->message), "%s", msg);
}

// A raw userfaultfd: the syscall first, then /dev/userfaultfd (Linux 6.1+), which grants
// full (kernel-fault) mode to whoever may open the device. -errno on failure.
int open_raw(int extra_flags) {
  int fd = static_cast<int>(syscall(SYS_userfaultfd, kOpenFlags | extra_flags));
  if (fd >= 0) return fd;
  int err = errno;
  if (extra_flags & UFFD_USER_MODE_ONLY) return -err;
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return -err;
  fd = ioctl(dev, USERFAULTFD_IOC_NEW, kOpenFlags);
  int dev_err = errno;
  ::close(dev);
  return fd >= 0 ? fd : -(dev_err ? dev_err : err);
}

// UFFDIO_API with `features`; returns the kernel's answer or ~0 on failure.
bool api_handshake(int fd, uint64_t features, uint64_t* out) {
  uffdio_api api = {};
  api.api = UFFD_API;
  api.features = features;
  if (ioctl(fd, UFFDIO_API, &api) != 0) return false;
  *out = api.features;
  return true;
}

}  // namespace

bool UffdFile::open(bool want_wp, EngineStartResult* result) {
  int probe = open_raw(0);
  if (probe < 0) {
    int user_only = open_raw(UFFD_USER_MODE_ONLY);
    if (user_only >= 0) {
      ::close(user_only);
      set_error(result, EngineStartError::UserModeOnly,
                "userfaultfd is limited to user-mode faults here (system calls on evicted "
                "pages would fail); grant access to /dev/userfaultfd or set "
                "vm.unprivileged_userfaultfd=1 to enable compression");
    } else {
      set_error(result, EngineStartError::NoUserfaultfd,
                "userfaultfd is unavailable (no permission for userfaultfd(2) or "
                "/dev/userfaultfd); grant access to /dev/userfaultfd to enable compression");
    }
    return false;
  }
  // A userfaultfd accepts one UFFDIO_API: ask the probe what the kernel offers, then
  // negotiate the subset we use on a fresh descriptor.
  uint64_t offered = 0;
  bool ok = api_handshake(probe, 0, &offered);
  ::close(probe);
  if (!ok) {
    set_error(result, EngineStartError::ApiHandshakeFailed, "UFFDIO_API handshake refused");
    return false;
  }
  constexpr uint64_t kRequired =
      UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
  if ((offered & kRequired) != kRequired) {
    set_error(result, EngineStartError::MissingFeatures,
              "the kernel's userfaultfd lacks the REMAP/REMOVE/UNMAP events");
    return false;
  }
  uint64_t want = kRequired;
  const uint64_t optional = UFFD_FEATURE_MOVE | UFFD_FEATURE_POISON |
                            UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS;
  want |= offered & optional;
  if (want_wp || !(offered & UFFD_FEATURE_MOVE)) want |= offered & UFFD_FEATURE_PAGEFAULT_FLAG_WP;
  if (!(want & (UFFD_FEATURE_MOVE | UFFD_FEATURE_PAGEFAULT_FLAG_WP))) {
    set_error(result, EngineStartError::MissingFeatures,
              "the kernel's userfaultfd has neither UFFDIO_MOVE nor write-protect: cannot evict");
    return false;
  }
  int fd = open_raw(0);
  uint64_t got = 0;
  if (fd < 0 || !api_handshake(fd, want, &got)) {
    if (fd >= 0) ::close(fd);
    set_error(result, EngineStartError::ApiHandshakeFailed, "UFFDIO_API feature negotiation refused");
    return false;
  }
  fd_ = fd_adopt(fd);
  requested_ = want;
  features_.kernel = offered;
  features_.move = got & UFFD_FEATURE_MOVE;
  features_.wp = got & UFFD_FEATURE_PAGEFAULT_FLAG_WP;
  features_.poison = got & UFFD_FEATURE_POISON;
  features_.thread_id = got & UFFD_FEATURE_THREAD_ID;
  features_.exact_address = got & UFFD_FEATURE_EXACT_ADDRESS;
  features_.zeropage = true;  // confirmed per range by register_range()
  return true;
}

void UffdFile::close() {
  fd_release(fd_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {
constexpr uint64_t kEventFeatures = UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
}  // namespace

bool UffdFile::transitional_supported() const { return features_.kernel & UFFD_FEATURE_SIGBUS; }

bool UffdFile::reopen_in_child(bool transitional) {
  close();
  int fd = open_raw(0);
  uint64_t got = 0;
  if (fd < 0) return false;
  const uint64_t want = transitional ? (requested_ & ~kEventFeatures) | UFFD_FEATURE_SIGBUS : requested_;
  if (!api_handshake(fd, want, &got) || (got & want) != want) {
    ::close(fd);
    return false;
  }
  fd_ = fd_adopt(fd);
  features_.zeropage = true;  // confirmed again by register_range()
  return true;
}

int UffdFile::open_spare() {
  int fd = open_raw(0);
  return fd >= 0 ? fd : -1;
}

void UffdFile::defer_wakes(bool on) { t_defer_wakes = on; }

int UffdFile::register_range(uintptr_t start, size_t len, bool wp) {
  uffdio_register reg = {};
  reg.range.start = start;
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | (wp ? UFFDIO_REGISTER_MODE_WP : 0);
  if (ioctl(fd_, UFFDIO_REGISTER, &reg) != 0) return errno;
  if (!(reg.ioctls & (1ull << _UFFDIO_ZEROPAGE))) features_.zeropage = false;
  return 0;
}

int UffdFile::unregister_range(uintptr_t start, size_t len) {
  uffdio_range r = {start, len};
  return ioctl(fd_, UFFDIO_UNREGISTER, &r) == 0 ? 0 : errno;
}

int UffdFile::zeropage(uintptr_t dst, size_t len, bool wake, size_t* done) {
  uffdio_zeropage z = {};
  z.range.start = dst;
  z.range.len = len;
  z.mode = wake_allowed(wake) ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE;
  int rc = ioctl(fd_, UFFDIO_ZEROPAGE, &z) == 0 ? 0 : errno;
  *done = z.zeropage > 0 ? static_cast<size_t>(z.zeropage) : 0;
  return rc;
}

int UffdFile::copy(uintptr_t dst, const void* src, size_t len, bool wake) {
  uffdio_copy c = {};
  c.dst = dst;
  c.src = reinterpret_cast<uintptr_t>(src);
  c.len = len;
  c.mode = wake_allowed(wake) ? 0 : UFFDIO_COPY_MODE_DONTWAKE;
  return ioctl(fd_, UFFDIO_COPY, &c) == 0 ? 0 : errno;
}

int UffdFile::move(uintptr_t dst, uintptr_t src, size_t len, bool wake, size_t* done) {
  uffdio_move m = {};
  m.dst = dst;
  m.src = src;
  m.len = len;
  m.mode = wake_allowed(wake) ? 0 : UFFDIO_MOVE_MODE_DONTWAKE;
  int rc = ioctl(fd_, UFFDIO_MOVE, &m) == 0 ? 0 : errno;
  if (done) *done = m.move > 0 ? static_cast<size_t>(m.move) : 0;
  return rc;
}

int UffdFile::writeprotect(uintptr_t start, size_t len, bool protect, bool wake) {
  uffdio_writeprotect w = {};
  w.range.start = start;
  w.range.len = len;
  w.mode = (protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0) |
           (wake_allowed(wake) || protect ? 0 : UFFDIO_WRITEPROTECT_MODE_DONTWAKE);
  return ioctl(fd_, UFFDIO_WRITEPROTECT, &w) == 0 ? 0 : errno;
}

int UffdFile::wake(uintptr_t start, size_t len) {
  if (t_defer_wakes) return 0;
  return wake_now(start, len);
}

int UffdFile::wake_now(uintptr_t start, size_t len) {
  uffdio_range r = {start, len};
  return ioctl(fd_, UFFDIO_WAKE, &r) == 0 ? 0 : errno;
}

int UffdFile::poison(uintptr_t start, size_t len) {
  uffdio_poison p = {};
  p.range.start = start;
  p.range.len = len;
  return ioctl(fd_, UFFDIO_POISON, &p) == 0 ? 0 : errno;
}

}  // namespace uzswap::uffd
