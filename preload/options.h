// preload/options.h — uzswap's UZSWAP_* options: one table (options.def), read once.
//
// options_load() reads the process environment once, early in the preload constructor,
// before uzswap starts any thread: it walks `environ` itself (no getenv, no malloc), so
// it cannot race with a program that edits its environment later. A bad value produces
// exactly one warning line naming the variable, the bad value and the default kept.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uffd/engine.h"

namespace uzswap::preload {

enum class OptionType : uint8_t { Size, Seconds, Int, Bool, Choice, String };

// One row of options.def.
struct OptionSpec {
  const char* id;            // e.g. "limit"
  const char* env_name;      // e.g. "UZSWAP_LIMIT"
  OptionType type;
  const char* default_text;  // parsed like a user value
  double min;                // range of the parsed value (Size, Seconds, Int)
  double max;
  const char* choices;       // "a|b|c" for Choice, "" otherwise
  const char* help;
};

enum class OptionId : uint32_t {
#define UZ_OPTION(id, type, def, min, max, choices, help) id,
#include "preload/options.def"
#undef UZ_OPTION
  kCount
};
inline constexpr size_t kNumOptions = static_cast<size_t>(OptionId::kCount);

const OptionSpec& option_spec(OptionId id);
// nullptr if `env_name` (e.g. "UZSWAP_LIMIT") names no option.
const OptionSpec* option_find(const char* env_name, size_t name_len);

// The C++ type an option's value has in Options.
template <OptionType T> struct OptionValueType;
template <> struct OptionValueType<OptionType::Size> { using type = uint64_t; };
template <> struct OptionValueType<OptionType::Seconds> { using type = double; };
template <> struct OptionValueType<OptionType::Int> { using type = int64_t; };
template <> struct OptionValueType<OptionType::Bool> { using type = bool; };
template <> struct OptionValueType<OptionType::Choice> { using type = int; };
template <> struct OptionValueType<OptionType::String> { using type = const char*; };

// Where an option's effective value came from.
enum class OptionSource : uint8_t { Default, Environment };

struct Options {
#define UZ_OPTION(id, kind, def, min, max, choices, help) \
  OptionValueType<OptionType::kind>::type id;
#include "preload/options.def"
#undef UZ_OPTION
  OptionSource source[kNumOptions];
  // Raw text of each option as given (points into the environment), nullptr if unset.
  const char* given[kNumOptions];
};

// Choice indices, in the order of their "choices" strings.
enum class CompressorChoice : int { Lz4 = 0, Zstd = 1 };
enum class EvictChoice : int { Move = 0, Copy = 1 };

// Receives each warning line (without prefix/newline). Default: the uzswap log at Warn.
using OptionWarnFn = void (*)(const char* line, void* ctx);

struct OptionEnv {
  const char* const* envp;    // NULL-terminated, like environ
  uint64_t ram_bytes;         // base of "N%" sizes
  OptionWarnFn warn = nullptr;
  void* warn_ctx = nullptr;
};

// Every option at its default.
Options options_defaults(uint64_t ram_bytes);
// Defaults overridden by the UZSWAP_* entries of env.envp; returns the number of warnings.
int options_parse(const OptionEnv& env, Options* out);
// options_parse over the process's own environ and RAM size, warnings to the log.
int options_load(Options* out);

uint64_t physical_ram_bytes();

// The engine configuration these options ask for.
EngineConfig options_engine_config(const Options& options);

// Writes the effective value of option `id` as text ("256M" stays "268435456 (256.0 MiB)")
// into buf; returns buf.
const char* option_value_text(const Options& options, OptionId id, char* buf, size_t cap);

}  // namespace uzswap::preload
