// bench/pool/real_sizes.cpp — see real_sizes.h.
#include "real_sizes.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "pool/compressor.h"
#include "pool/pool.h"

namespace uzswap::pool::bench {
namespace {

bool same_filled(const char* page) {
  for (size_t i = 1; i < kPageSize; ++i)
    if (page[i] != page[0]) return false;
  return true;
}

void add_file(const std::filesystem::path& path, size_t max_pages, RealSizes* out, Compressor* lz4) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return;
  ++out->files;
  static char page[kPageSize];
  static char dst[2 * kPageSize];
  while (out->sizes.size() < max_pages) {
    f.read(page, kPageSize);
    if (f.gcount() != static_cast<std::streamsize>(kPageSize)) break;  // whole pages only
    if (same_filled(page)) {
      ++out->same_filled;
      continue;
    }
    size_t n = lz4->compress(page, kPageSize, dst, sizeof dst);
    out->sizes.push_back(n == 0 || n >= kPageSize ? kPageSize : static_cast<uint32_t>(n));
  }
}

}  // namespace

const RealSizes& real_compressed_sizes(size_t max_pages) {
  static RealSizes sizes;
  if (!sizes.sizes.empty()) return sizes;
  Compressor* lz4 = compressor_get(CompressorKind::Lz4);
  // Take files round-robin from the three trees so no single kind of data dominates.
  std::vector<std::vector<std::filesystem::path>> trees;
  for (const char* dir : {"/usr/bin", "/usr/lib", "/usr/share"}) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(
             dir, std::filesystem::directory_options::skip_permission_denied, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file(ec) && !it->is_symlink(ec) && it->file_size(ec) >= kPageSize)
        files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    std::shuffle(files.begin(), files.end(), std::mt19937(1));  // a fixed sample of the tree
    trees.push_back(std::move(files));
  }
  for (size_t i = 0; sizes.sizes.size() < max_pages; ++i) {
    bool any = false;
    for (auto& files : trees) {
      if (i >= files.size()) continue;
      any = true;
      // At most 64 pages a file, so large files do not dominate.
      add_file(files[i], std::min(max_pages, sizes.sizes.size() + 64), &sizes, lz4);
    }
    if (!any) break;
  }
  return sizes;
}

}  // namespace uzswap::pool::bench
