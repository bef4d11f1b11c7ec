// preload/options.cpp — the option table and reading it from the environment.
// State: none of its own; options_load() fills the caller's Options once.
#include "preload/options.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "common/log.h"
#include "preload/option_values.h"

extern char** environ;

namespace uzswap::preload {
namespace {

constexpr OptionSpec kSpecs[] = {
#define UZ_OPTION(id, type, def, min, max, choices, help) \
  {#id, "", OptionType::type, def, static_cast<double>(min), static_cast<double>(max), choices, help},
#include "preload/options.def"
#undef UZ_OPTION
};
static_assert(sizeof kSpecs / sizeof kSpecs[0] == kNumOptions);

// "UZSWAP_" + upper-cased id, built once at compile time.
struct EnvNames {
  char name[kNumOptions][48];
  constexpr EnvNames() : name{} {
    for (size_t i = 0; i < kNumOptions; ++i) {
      const char prefix[] = "UZSWAP_";
      size_t n = 0;
      for (; prefix[n] != '\0'; ++n) name[i][n] = prefix[n];
      for (const char* c = kSpecs[i].id; *c != '\0'; ++c)
        name[i][n++] = (*c >= 'a' && *c <= 'z') ? static_cast<char>(*c - 'a' + 'A') : *c;
      name[i][n] = '\0';
    }
  }
};
constexpr EnvNames kEnvNames;

// UZSWAP_* variables that belong to uzswap's test and benchmark drivers, not the library.
constexpr const char* kForeignPrefixes[] = {"UZSWAP_STRESS_", "UZSWAP_TEST_", "UZSWAP_BENCH_"};

struct Value {
  uint64_t size;
  double seconds;
  int64_t integer;
  bool boolean;
  int choice;
  const char* string;
};

// Parses `text` as option `spec`, including its range. false + *why on a bad value.
bool parse_value(const OptionSpec& spec, const char* text, uint64_t ram, Value* v, const char** why) {
  switch (spec.type) {
    case OptionType::Size:
      if (!parse_size(text, ram, &v->size, why)) return false;
      if (static_cast<double>(v->size) < spec.min || static_cast<double>(v->size) > spec.max) {
        *why = "out of range";
        return false;
      }
      return true;
    case OptionType::Seconds:
      if (!parse_seconds(text, &v->seconds, why)) return false;
      if (v->seconds < spec.min || v->seconds > spec.max) return *why = "out of range", false;
      return true;
    case OptionType::Int:
      if (!parse_int(text, &v->integer, why)) return false;
      if (static_cast<double>(v->integer) < spec.min || static_cast<double>(v->integer) > spec.max)
        return *why = "out of range", false;
      return true;
    case OptionType::Bool:
      return parse_bool(text, &v->boolean, why);
    case OptionType::Choice:
      return parse_choice(text, spec.choices, &v->choice, why);
    case OptionType::String:
      v->string = text;
      if (text[0] == '\0') return *why = "empty", false;
      return true;
  }
  return false;
}

// Field setters, chosen by the field's C++ type (each OptionType has its own).
void store(uint64_t& f, const Value& v) { f = v.size; }
void store(double& f, const Value& v) { f = v.seconds; }
void store(int64_t& f, const Value& v) { f = v.integer; }
void store(bool& f, const Value& v) { f = v.boolean; }
void store(int& f, const Value& v) { f = v.choice; }
void store(const char*& f, const Value& v) { f = v.string; }

void assign(Options* o, OptionId id, const Value& v) {
  switch (id) {
#define UZ_OPTION(name, type, def, min, max, choices, help) \
  case OptionId::name:                                      \
    store(o->name, v);                                      \
    break;
#include "preload/options.def"
#undef UZ_OPTION
    case OptionId::kCount:
      break;
  }
}

// Field printers, chosen the same way.
void print(uint64_t f, const OptionSpec&, char* buf, size_t cap) {
  char human[32];
  snprintf(buf, cap, "%llu (%s)", static_cast<unsigned long long>(f), format_size(f, human, sizeof human));
}
void print(double f, const OptionSpec&, char* buf, size_t cap) { snprintf(buf, cap, "%gs", f); }
void print(int64_t f, const OptionSpec&, char* buf, size_t cap) { snprintf(buf, cap, "%lld", static_cast<long long>(f)); }
void print(bool f, const OptionSpec&, char* buf, size_t cap) { snprintf(buf, cap, "%s", f ? "1" : "0"); }
void print(const char* f, const OptionSpec&, char* buf, size_t cap) { snprintf(buf, cap, "%s", f ? f : ""); }
void print(int f, const OptionSpec& spec, char* buf, size_t cap) {
  const char* c = spec.choices;
  for (int k = 0; k < f && strchr(c, '|') != nullptr; ++k) c = strchr(c, '|') + 1;
  const char* bar = strchr(c, '|');
  size_t n = bar ? static_cast<size_t>(bar - c) : strlen(c);
  snprintf(buf, cap, "%.*s", static_cast<int>(n), c);
}

void warn_to_log(const char* line, void*) { UZ_WARN("%s", line); }

void warn(const OptionEnv& env, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void warn(const OptionEnv& env, const char* fmt, ...) {
  char line[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  (env.warn ? env.warn : warn_to_log)(line, env.warn_ctx);
}

bool is_foreign(const char* name) {
  for (const char* prefix : kForeignPrefixes)
    if (strncmp(name, prefix, strlen(prefix)) == 0) return true;
  return false;
}

// Range of a Size/Int/Seconds spec as text for a warning ("1..64").
const char* range_text(const OptionSpec& spec, char* buf, size_t cap) {
  if (spec.type == OptionType::String) {
    snprintf(buf, cap, "non-empty text");
  } else if (spec.type == OptionType::Choice) {
    snprintf(buf, cap, "%s", spec.choices);
  } else if (spec.type == OptionType::Size) {
    char lo[32], hi[32];
    snprintf(buf, cap, "%s..%s", format_size(static_cast<uint64_t>(spec.min), lo, sizeof lo),
             spec.max >= 1e15 ? "unbounded" : format_size(static_cast<uint64_t>(spec.max), hi, sizeof hi));
  } else {
    snprintf(buf, cap, "%.15g..%.15g", spec.min, spec.max);
  }
  return buf;
}

}  // namespace

const OptionSpec& option_spec(OptionId id) {
  static OptionSpec specs[kNumOptions];
  static bool named = [] {
    for (size_t i = 0; i < kNumOptions; ++i) {
      specs[i] = kSpecs[i];
      specs[i].env_name = kEnvNames.name[i];
    }
    return true;
  }();
  (void)named;
  return specs[static_cast<size_t>(id)];
}

const OptionSpec* option_find(const char* env_name, size_t name_len) {
  for (size_t i = 0; i < kNumOptions; ++i) {
    const char* n = kEnvNames.name[i];
    if (strlen(n) == name_len && memcmp(n, env_name, name_len) == 0) return &option_spec(static_cast<OptionId>(i));
  }
  return nullptr;
}

uint64_t physical_ram_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

Options options_defaults(uint64_t ram_bytes) {
  Options o{};
  for (size_t i = 0; i < kNumOptions; ++i) {
    Value v{};
    const char* why = "";
    // The defaults are checked by the options test; a bad one would leave the field 0.
    if (parse_value(kSpecs[i], kSpecs[i].default_text, ram_bytes, &v, &why)) assign(&o, static_cast<OptionId>(i), v);
    o.source[i] = OptionSource::Default;
    o.given[i] = nullptr;
  }
  return o;
}

int options_parse(const OptionEnv& env, Options* out) {
  *out = options_defaults(env.ram_bytes);
  int warnings = 0;
  for (const char* const* e = env.envp; e != nullptr && *e != nullptr; ++e) {
    const char* entry = *e;
    if (strncmp(entry, "UZSWAP_", 7) != 0) continue;
    const char* eq = strchr(entry, '=');
    if (eq == nullptr) continue;
    size_t name_len = static_cast<size_t>(eq - entry);
    const OptionSpec* spec = option_find(entry, name_len);
    if (spec == nullptr) {
      if (!is_foreign(entry)) {
        warn(env, "%.*s is not a uzswap option (ignored); `uzswap-options --help` lists them",
             static_cast<int>(name_len), entry);
        ++warnings;
      }
      continue;
    }
    size_t index = static_cast<size_t>(spec - &option_spec(static_cast<OptionId>(0)));
    const char* text = eq + 1;
    Value v{};
    const char* why = "";
    if (!parse_value(*spec, text, env.ram_bytes, &v, &why)) {
      char range[80];
      warn(env, "%s=%s: %s (expected %s); keeping the default %s", spec->env_name, text, why,
           range_text(*spec, range, sizeof range), spec->default_text);
      ++warnings;
      continue;
    }
    assign(out, static_cast<OptionId>(index), v);
    out->source[index] = OptionSource::Environment;
    out->given[index] = text;
  }
  return warnings;
}

int options_load(Options* out) {
  // Two passes so that UZSWAP_VERBOSE (wherever it sits in environ) governs the
  // warnings of the others: the first, silent, only finds the log level.
  uint64_t ram = physical_ram_bytes();
  OptionEnv silent{environ, ram, [](const char*, void*) {}, nullptr};
  options_parse(silent, out);
  log_set_level(static_cast<LogLevel>(out->verbose));
  OptionEnv env{environ, ram};
  return options_parse(env, out);
}

EngineConfig options_engine_config(const Options& o) {
  EngineConfig c;
  c.limit_bytes = o.limit;
  c.cold_age_seconds = o.cold_age;
  c.pool_limit_bytes = o.pool_limit;
  c.compressor = o.compressor == static_cast<int>(CompressorChoice::Zstd) ? pool::CompressorKind::Zstd
                                                                          : pool::CompressorKind::Lz4;
  c.handler_threads = static_cast<int>(o.handlers);
  c.reclaim_threads = static_cast<int>(o.reclaimers);
  c.force_copy_evict = o.evict == static_cast<int>(EvictChoice::Copy);
  c.reject_threshold = static_cast<uint32_t>(o.reject_threshold);
  c.throttle = o.throttle;
  return c;
}

const char* option_value_text(const Options& o, OptionId id, char* buf, size_t cap) {
  const OptionSpec& spec = option_spec(id);
  buf[0] = '\0';
  switch (id) {
#define UZ_OPTION(name, type, def, min, max, choices, help) \
  case OptionId::name:                                      \
    print(o.name, spec, buf, cap);                          \
    break;
#include "preload/options.def"
#undef UZ_OPTION
    case OptionId::kCount:
      break;
  }
  return buf;
}

}  // namespace uzswap::preload
