// uffd/pagemap.cpp — see pagemap.h.
#include "uffd/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/fd_guard.h"
#include "uffd/uapi.h"

namespace uzswap::uffd {

bool Pagemap::open() {
  fd_ = fd_adopt(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (fd_ < 0) return false;
  pm_scan_arg arg = {};
  arg.size = sizeof(arg);
  // A zero-length scan: the kernel answers 0 if it knows the ioctl.
  scan_ = ioctl(fd_, PAGEMAP_SCAN, &arg) >= 0;
  return true;
}

void Pagemap::close() {
  fd_release(fd_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

size_t Pagemap::scan(uintptr_t start, uintptr_t end, size_t max_pages, Run* out, size_t cap,
                     uintptr_t* walk_end) {
  if (!scan_) return scan_legacy(start, end, max_pages, out, cap, walk_end);
  page_region regions[32];
  pm_scan_arg arg = {};
  arg.size = sizeof(arg);
  arg.start = start;
  arg.end = end;
  arg.vec = reinterpret_cast<uintptr_t>(regions);
  arg.vec_len = cap < 32 ? cap : 32;
  arg.max_pages = max_pages;
  arg.category_mask = PAGE_IS_PRESENT | PAGE_IS_PFNZERO;
  arg.category_inverted = PAGE_IS_PFNZERO;  // present and not the zero page
  arg.return_mask = PAGE_IS_PRESENT;
  long n = ioctl(fd_, PAGEMAP_SCAN, &arg);
  if (n < 0) {
    *walk_end = end;
    return 0;
  }
  *walk_end = arg.walk_end ? arg.walk_end : end;
  for (long i = 0; i < n; ++i) out[i] = Run{regions[i].start, regions[i].end};
  return static_cast<size_t>(n);
}

size_t Pagemap::scan_legacy(uintptr_t start, uintptr_t end, size_t max_pages, Run* out,
                            size_t cap, uintptr_t* walk_end) {
  // 8 bytes a page; bit 63 = present. Reads 512 pages at a time.
  uint64_t buf[512];
  size_t n = 0, pages = 0;
  uintptr_t a = start;
  while (a < end && n < cap && pages < max_pages) {
    size_t want = (end - a) / 4096;
    if (want > 512) want = 512;
    ssize_t got = pread(fd_, buf, want * 8, static_cast<off_t>(a / 4096 * 8));
    if (got <= 0) break;
    size_t cnt = static_cast<size_t>(got) / 8;
    for (size_t i = 0; i < cnt && pages < max_pages; ++i, a += 4096) {
      if (!(buf[i] >> 63)) continue;
      ++pages;
      if (n > 0 && out[n - 1].end == a) {
        out[n - 1].end = a + 4096;
      } else if (n < cap) {
        out[n++] = Run{a, a + 4096};
      } else {
        *walk_end = a;
        return n;
      }
    }
  }
  *walk_end = a < end ? a : end;
  return n;
}

bool Pagemap::exclusive(uintptr_t page) {
  uint64_t v = 0;
  if (fd_ < 0 || pread(fd_, &v, sizeof v, static_cast<off_t>(page / 4096 * sizeof v)) != sizeof v) return false;
  return (v >> 63 & 1) && (v >> 56 & 1);
}

size_t Pagemap::count_present(uintptr_t start, uintptr_t end) {
  size_t total = 0;
  present_runs(start, end, ~size_t{0} >> 13, [&](uintptr_t s, uintptr_t e) { total += (e - s) / 4096; });
  return total;
}

}  // namespace uzswap::uffd
