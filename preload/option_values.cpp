// preload/option_values.cpp — see option_values.h. No state.
#include "preload/option_values.h"

#include <cstdio>

namespace uzswap::preload {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignore_case(const char* a, size_t a_len, const char* b) {
  size_t i = 0;
  for (; i < a_len && b[i] != '\0'; ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return i == a_len && b[i] == '\0';
}

// Parses "digits[.digits]" at *p; advances *p. At most 18 significant digits, so the
// double holds the value exactly for every size a user types.
bool parse_decimal(const char** p, double* out) {
  const char* s = *p;
  double value = 0;
  int digits = 0;
  for (; *s >= '0' && *s <= '9'; ++s, ++digits) value = value * 10 + (*s - '0');
  if (*s == '.') {
    ++s;
    double scale = 0.1;
    for (; *s >= '0' && *s <= '9'; ++s, ++digits, scale /= 10) value += (*s - '0') * scale;
  }
  if (digits == 0 || digits > 18) return false;
  *p = s;
  *out = value;
  return true;
}

// The multiplier of a size suffix ("", "K", "kb", "MiB", ...); 0 if not one.
double size_multiplier(const char* suffix) {
  size_t len = 0;
  while (suffix[len] != '\0') ++len;
  if (len == 0) return 1;
  if (len == 1 && lower(suffix[0]) == 'b') return 1;
  double unit = 0;
  switch (lower(suffix[0])) {
    case 'k': unit = 1024.0; break;
    case 'm': unit = 1024.0 * 1024; break;
    case 'g': unit = 1024.0 * 1024 * 1024; break;
    case 't': unit = 1024.0 * 1024 * 1024 * 1024; break;
    default: return 0;
  }
  const char* rest = suffix + 1;
  size_t rest_len = len - 1;
  if (rest_len == 0 || equals_ignore_case(rest, rest_len, "b") || equals_ignore_case(rest, rest_len, "ib"))
    return unit;
  return 0;
}

}  // namespace

bool parse_size(const char* text, uint64_t ram_bytes, uint64_t* out, const char** why) {
  const char* p = text;
  double value = 0;
  if (!parse_decimal(&p, &value)) {
    *why = "not a size (bytes with an optional K/M/G/T suffix, or N% of RAM)";
    return false;
  }
  double bytes = 0;
  if (p[0] == '%' && p[1] == '\0') {
    if (ram_bytes == 0 || value > 100) {
      *why = ram_bytes == 0 ? "a percentage is not allowed here" : "more than 100% of RAM";
      return false;
    }
    bytes = static_cast<double>(ram_bytes) * value / 100.0;
  } else {
    double multiplier = size_multiplier(p);
    if (multiplier == 0) {
      *why = "not a size (bytes with an optional K/M/G/T suffix, or N% of RAM)";
      return false;
    }
    bytes = value * multiplier;
  }
  if (bytes > 9.0e18) {
    *why = "too large";
    return false;
  }
  *out = static_cast<uint64_t>(bytes);
  return true;
}

bool parse_seconds(const char* text, double* out, const char** why) {
  const char* p = text;
  double value = 0;
  *why = "not a duration (seconds, or a number with suffix ms/s/m/h)";
  if (!parse_decimal(&p, &value)) return false;
  size_t len = 0;
  while (p[len] != '\0') ++len;
  if (len == 0 || equals_ignore_case(p, len, "s")) *out = value;
  else if (equals_ignore_case(p, len, "ms")) *out = value / 1000.0;
  else if (equals_ignore_case(p, len, "m")) *out = value * 60.0;
  else if (equals_ignore_case(p, len, "h")) *out = value * 3600.0;
  else return false;
  return true;
}

bool parse_int(const char* text, int64_t* out, const char** why) {
  const char* p = text;
  bool negative = *p == '-';
  if (negative) ++p;
  int64_t value = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; ++p, ++digits) {
    if (digits >= 18) break;
    value = value * 10 + (*p - '0');
  }
  if (digits == 0 || digits > 18 || *p != '\0') {
    *why = "not an integer";
    return false;
  }
  *out = negative ? -value : value;
  return true;
}

bool parse_bool(const char* text, bool* out, const char** why) {
  static const char* const kTrue[] = {"1", "yes", "true", "on"};
  static const char* const kFalse[] = {"0", "no", "false", "off"};
  size_t len = 0;
  while (text[len] != '\0') ++len;
  for (const char* t : kTrue)
    if (equals_ignore_case(text, len, t)) return *out = true, true;
  for (const char* f : kFalse)
    if (equals_ignore_case(text, len, f)) return *out = false, true;
  *why = "not a boolean (1/0, yes/no, true/false, on/off)";
  return false;
}

bool parse_choice(const char* text, const char* choices, int* out, const char** why) {
  size_t len = 0;
  while (text[len] != '\0') ++len;
  int index = 0;
  const char* start = choices;
  for (const char* c = choices;; ++c) {
    if (*c != '|' && *c != '\0') continue;
    size_t choice_len = static_cast<size_t>(c - start);
    bool match = choice_len == len;
    for (size_t i = 0; match && i < len; ++i) match = lower(text[i]) == lower(start[i]);
    if (match) return *out = index, true;
    if (*c == '\0') break;
    start = c + 1;
    ++index;
  }
  *why = "not one of the choices";
  return false;
}

const char* format_size(uint64_t bytes, char* buf, size_t cap) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) value /= 1024, ++unit;
  if (unit == 0) snprintf(buf, cap, "%llu B", static_cast<unsigned long long>(bytes));
  else snprintf(buf, cap, "%.1f %s", value, kUnits[unit]);
  return buf;
}

}  // namespace uzswap::preload
