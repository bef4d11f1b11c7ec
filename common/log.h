// common/log.h — uzswap's logging inside a host process.
//
// Allocation-free (formats into a stack buffer, one write(2) to stderr), guarded against
// recursion (a log call made while logging on the same thread is dropped), quiet by
// default and rate-capped (at most kMaxLinesPerSecond lines a second; the excess is
// counted and reported once the next line gets through). Never writes to stdout.
#pragma once

#include <cstdarg>

namespace uzswap {

enum class LogLevel : int { Error = 0, Warn = 1, Info = 2, Debug = 3 };

// Lines at or below this level are printed; set once from UZSWAP_VERBOSE.
void log_set_level(LogLevel level);
LogLevel log_level();

// printf-style; the "uzswap: " prefix and the newline are added.
void log_line(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vline(LogLevel level, const char* fmt, va_list ap);

}  // namespace uzswap

#define UZ_LOG(level, ...)                                                   \
  do {                                                                       \
    if (static_cast<int>(level) <= static_cast<int>(::uzswap::log_level())) \
      ::uzswap::log_line(level, __VA_ARGS__);                                \
  } while (0)
#define UZ_ERROR(...) UZ_LOG(::uzswap::LogLevel::Error, __VA_ARGS__)
#define UZ_WARN(...) UZ_LOG(::uzswap::LogLevel::Warn, __VA_ARGS__)
#define UZ_INFO(...) UZ_LOG(::uzswap::LogLevel::Info, __VA_ARGS__)
#define UZ_DEBUG(...) UZ_LOG(::uzswap::LogLevel::Debug, __VA_ARGS__)
