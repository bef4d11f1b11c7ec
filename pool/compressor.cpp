// pool/compressor.cpp — LZ4 and zstd behind the Compressor interface.
//
// LZ4_compress_fast_extState takes a caller-owned state; zstd takes a ZSTD_CCtx/DCtx.
// Each thread gets its own, created on first use and kept for the thread's life (per
// thread: no lock on the compression path). zstd contexts are created with a custom
// allocator over mmap so that no program heap is touched.
#include "pool/compressor.h"

#include <lz4.h>
#include <sys/mman.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

namespace uzswap::pool {
namespace {

void* mmap_alloc(void*, size_t size) {
  size_t total = size + 16;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  *static_cast<size_t*>(p) = total;
  return static_cast<char*>(p) + 16;
}
void mmap_free(void*, void* ptr) {
  if (!ptr) return;
  char* base = static_cast<char*>(ptr) - 16;
  munmap(base, *reinterpret_cast<size_t*>(base));
}
constexpr ZSTD_customMem kZstdMem = {mmap_alloc, mmap_free, nullptr};

class Lz4Compressor final : public Compressor {
 public:
  std::string_view name() const override { return "lz4"; }
  size_t compress(const void* src, size_t src_len, void* dst, size_t dst_cap) override {
    void* state = thread_state();
    if (!state) return 0;
    int n = LZ4_compress_fast_extState(state, static_cast<const char*>(src), static_cast<char*>(dst),
                                       static_cast<int>(src_len), static_cast<int>(dst_cap), 1);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  bool decompress(const void* src, size_t src_len, void* dst, size_t dst_len) override {
    int n = LZ4_decompress_safe(static_cast<const char*>(src), static_cast<char*>(dst),
                                static_cast<int>(src_len), static_cast<int>(dst_len));
    return n == static_cast<int>(dst_len);
  }

 private:
  static void* thread_state() {
    // Thread exit leaks this one small mapping per thread; it is reused for the thread's life.
    thread_local void* state = nullptr;
    if (!state) state = mmap_alloc(nullptr, static_cast<size_t>(LZ4_sizeofState()));
    return state;
  }
};

class ZstdCompressor final : public Compressor {
 public:
  std::string_view name() const override { return "zstd"; }
  size_t compress(const void* src, size_t src_len, void* dst, size_t dst_cap) override {
    ZSTD_CCtx* cctx = thread_cctx();
    if (!cctx) return 0;
    size_t n = ZSTD_compressCCtx(cctx, dst, dst_cap, src, src_len, 1);
    return ZSTD_isError(n) ? 0 : n;
  }
  bool decompress(const void* src, size_t src_len, void* dst, size_t dst_len) override {
    ZSTD_DCtx* dctx = thread_dctx();
    if (!dctx) return false;
    size_t n = ZSTD_decompressDCtx(dctx, dst, dst_len, src, src_len);
    return !ZSTD_isError(n) && n == dst_len;
  }

 private:
  static ZSTD_CCtx* thread_cctx() {
    thread_local ZSTD_CCtx* cctx = nullptr;
    if (!cctx) cctx = ZSTD_createCCtx_advanced(kZstdMem);
    return cctx;
  }
  static ZSTD_DCtx* thread_dctx() {
    thread_local ZSTD_DCtx* dctx = nullptr;
    if (!dctx) dctx = ZSTD_createDCtx_advanced(kZstdMem);
    return dctx;
  }
};

Lz4Compressor g_lz4;
ZstdCompressor g_zstd;

}  // namespace

Compressor* compressor_get(CompressorKind kind) {
  return kind == CompressorKind::Zstd ? static_cast<Compressor*>(&g_zstd) : &g_lz4;
}

bool compressor_parse(std::string_view name, CompressorKind* kind) {
  if (name == "lz4") { *kind = CompressorKind::Lz4; return true; }
  if (name == "zstd") { *kind = CompressorKind::Zstd; return true; }
  return false;
}

}  // namespace uzswap::pool
