// preload/option_values.h — parsers and printers for option values.
//
// Pure functions over C strings: no allocation, no locale (the preload constructor runs
// them before main), no errno. Each parser returns false and sets *why to a short reason
// ("not a size", ...) on bad input.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::preload {

// "123", "64K", "1.5G", "256MiB", "256mb" (K/M/G/T are powers of 1024; a trailing "B"
// or "iB" is allowed) or, if ram_bytes != 0, "N%" / "12.5%" of ram_bytes.
bool parse_size(const char* text, uint64_t ram_bytes, uint64_t* out, const char** why);
// "30", "1.5", "250ms", "2s", "5m", "1h".
bool parse_seconds(const char* text, double* out, const char** why);
// "-3", "0", "42".
bool parse_int(const char* text, int64_t* out, const char** why);
// 1/0, yes/no, true/false, on/off (any case).
bool parse_bool(const char* text, bool* out, const char** why);
// Index of text (any case) in "a|b|c".
bool parse_choice(const char* text, const char* choices, int* out, const char** why);

// "268435456 (256.0 MiB)" style human size into buf; returns buf.
const char* format_size(uint64_t bytes, char* buf, size_t cap);

}  // namespace uzswap::preload
