// preload/options_doc.cpp — see options_doc.h. No state.
#include "preload/options_doc.h"

#include <cstdio>

#include "preload/option_values.h"
#include "preload/options.h"

namespace uzswap::preload {
namespace {

const char* type_name(OptionType t) {
  switch (t) {
    case OptionType::Size: return "size";
    case OptionType::Seconds: return "seconds";
    case OptionType::Int: return "integer";
    case OptionType::Bool: return "bool";
    case OptionType::Choice: return "choice";
    case OptionType::String: return "text";
  }
  return "?";
}

std::string size_text(double bytes) {
  if (bytes >= 1e15) return "unbounded";
  char buf[32];
  return format_size(static_cast<uint64_t>(bytes), buf, sizeof buf);
}

std::string range_of(const OptionSpec& s) {
  char buf[64];
  switch (s.type) {
    case OptionType::Size: return size_text(s.min) + " .. " + size_text(s.max);
    case OptionType::Seconds:
    case OptionType::Int: snprintf(buf, sizeof buf, "%.15g .. %.15g", s.min, s.max); return buf;
    case OptionType::Bool: return "0, 1";
    case OptionType::String: return "path";
    case OptionType::Choice: {
      std::string r;
      for (const char* c = s.choices; *c != '\0'; ++c) r += *c == '|' ? std::string(", ") : std::string(1, *c);
      return r;
    }
  }
  return "";
}

}  // namespace

std::string options_markdown_table() {
  std::string out = "| Variable | Type | Default | Range | Meaning |\n|---|---|---|---|---|\n";
  for (size_t i = 0; i < kNumOptions; ++i) {
    const OptionSpec& s = option_spec(static_cast<OptionId>(i));
    out += std::string("| `") + s.env_name + "` | " + type_name(s.type) + " | `" + s.default_text + "` | " +
           range_of(s) + " | " + s.help + " |\n";
  }
  return out;
}

std::string options_help_text() {
  std::string out = "uzswap options (environment variables read once at program start):\n\n";
  for (size_t i = 0; i < kNumOptions; ++i) {
    const OptionSpec& s = option_spec(static_cast<OptionId>(i));
    out += std::string("  ") + s.env_name + " (" + type_name(s.type) + ", default " + s.default_text +
           ", range " + range_of(s) + ")\n      " + s.help + "\n";
  }
  return out;
}

}  // namespace uzswap::preload
