// pool/compressor.h — page compressors (LZ4 default, zstd optional).
//
// A Compressor is stateless from the caller's view and safe to call from many threads at
// once (per-thread scratch state lives inside, allocated from mmap'd memory on first use
// by a thread, never from the program's heap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uzswap::pool {

enum class CompressorKind : uint8_t { Lz4, Zstd };

class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual std::string_view name() const = 0;
  // Compresses src_len bytes into dst (capacity dst_cap). Returns the compressed size, or
  // 0 if it does not fit in dst_cap (the caller treats that as incompressible).
  virtual size_t compress(const void* src, size_t src_len, void* dst, size_t dst_cap) = 0;
  // Decompresses exactly dst_len bytes. false on corrupt input.
  virtual bool decompress(const void* src, size_t src_len, void* dst, size_t dst_len) = 0;
};

// A process-lifetime singleton of the kind; never nullptr.
Compressor* compressor_get(CompressorKind kind);
// "lz4" / "zstd"; false for anything else.
bool compressor_parse(std::string_view name, CompressorKind* kind);

}  // namespace uzswap::pool
