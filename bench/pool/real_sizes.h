// bench/pool/real_sizes.h — a stream of real compressed-page sizes: 4 KiB pages of files
// on this system (/usr/bin, /usr/lib, /usr/share), LZ4-compressed one by one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uzswap::pool::bench {

struct RealSizes {
  std::vector<uint32_t> sizes;  // bytes each page takes in the pool (4096: stored raw)
  size_t same_filled = 0;       // pages skipped: one repeated byte (never reach a pool)
  size_t files = 0;
};

// Up to max_pages sizes, the same every run on the same machine (sorted directory walk).
const RealSizes& real_compressed_sizes(size_t max_pages);

}  // namespace uzswap::pool::bench
