// uffd/pagemap.h — which managed pages are present: PAGEMAP_SCAN, else /proc/self/pagemap.
//
// Used by the clock hand (pick resident pages to evict) and the footprint measurement.
// Zero-page mappings (left by bulk UFFDIO_ZEROPAGE) cost no memory and are skipped where
// the kernel can tell (PAGEMAP_SCAN's PAGE_IS_PFNZERO). No shared state besides the fd.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::uffd {

class Pagemap {
 public:
  bool open();
  void close();
  // In a fork child: the inherited descriptor reads the parent's page tables.
  bool reopen() {
    close();
    return open();
  }
  bool has_scan() const { return scan_; }

  // Calls fn(start, end) for runs of present, non-zero-page pages in [start, end), up to
  // max_pages pages in total. Returns the address where the walk stopped (end if done).
  template <typename F>
  uintptr_t present_runs(uintptr_t start, uintptr_t end, size_t max_pages, F&& fn);

  // Present, non-zero-page pages in [start, end).
  size_t count_present(uintptr_t start, uintptr_t end);

  // True if the page at `page` is present and mapped by this process only (pagemap's
  // "exclusively mapped" bit 56; no privilege needed).
  bool exclusive(uintptr_t page);

 private:
  struct Run {
    uint64_t start, end;
  };
  // Fills up to `cap` runs; returns how many, and the walk end in *walk_end.
  size_t scan(uintptr_t start, uintptr_t end, size_t max_pages, Run* out, size_t cap,
              uintptr_t* walk_end);
  size_t scan_legacy(uintptr_t start, uintptr_t end, size_t max_pages, Run* out, size_t cap,
                     uintptr_t* walk_end);

  int fd_ = -1;
  bool scan_ = false;
};

template <typename F>
uintptr_t Pagemap::present_runs(uintptr_t start, uintptr_t end, size_t max_pages, F&& fn) {
  Run runs[32];
  while (start < end && max_pages > 0) {
    uintptr_t walk_end = end;
    size_t n = scan(start, end, max_pages, runs, 32, &walk_end);
    for (size_t i = 0; i < n; ++i) {
      size_t pages = (runs[i].end - runs[i].start) / 4096;
      max_pages = pages < max_pages ? max_pages - pages : 0;
      fn(static_cast<uintptr_t>(runs[i].start), static_cast<uintptr_t>(runs[i].end));
    }
    if (walk_end <= start) break;
    start = walk_end;
    if (n == 0 && walk_end >= end) break;
  }
  return start;
}

}  // namespace uzswap::uffd
