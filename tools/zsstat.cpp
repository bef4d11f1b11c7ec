// tools/zsstat.cpp — the zsstat command line: parses arguments, runs a command.
// zsstat only reads published stats (preload/stats_layout.h); it never touches the
// processes it looks at.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/commands.h"
#include "tools/help.h"

namespace {

using uzswap::zsstat::Args;

int usage_error(const std::string& msg) {
  fprintf(stderr, "zsstat: %s\n", msg.c_str());
  uzswap::zsstat::print_usage(stderr);
  return 2;
}

bool parse_long(const char* s, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v <= 0) return false;
  *out = v;
  return true;
}

bool parse_seconds(const char* s, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0.01 && v <= 86400)) return false;
  *out = v;
  return true;
}

// "--name=value" or "--name value"; advances *i past the value.
const char* option_value(int argc, char** argv, int* i, const char* name) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
  if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) return argv[++*i];
  return nullptr;
}

bool is_option(const char* arg, const char* name) {
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = nullptr;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      uzswap::zsstat::print_help(stdout);
      return 0;
    } else if (!strcmp(a, "--help-markdown")) {
      uzswap::zsstat::print_help_markdown(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      args.json = true;
    } else if (!strcmp(a, "--classes")) {
      args.classes = true;
    } else if (!strcmp(a, "--all")) {
      args.all = true;
    } else if (!strcmp(a, "--cleanup")) {
      args.cleanup = true;
    } else if (is_option(a, "--watch")) {
      if (!(v = option_value(argc, argv, &i, "--watch")) || !parse_seconds(v, &args.watch))
        return usage_error("--watch needs a number of seconds (0.01 to 86400)");
    } else if (is_option(a, "--count")) {
      if (!(v = option_value(argc, argv, &i, "--count")) || !parse_long(v, &args.count))
        return usage_error("--count needs a positive number");
    } else if (is_option(a, "--dir")) {
      if (!(v = option_value(argc, argv, &i, "--dir")) || !*v) return usage_error("--dir needs a directory");
      args.dir = v;
    } else if (a[0] == '-') {
      return usage_error(std::string("unknown option ") + a);
    } else {
      long pid;
      if (args.pid != 0) return usage_error("only one PID, please");
      if (!parse_long(a, &pid) || pid > 0x7fffffff) return usage_error(std::string("'") + a + "' is not a process id");
      args.pid = static_cast<int32_t>(pid);
    }
  }
  if (args.classes && args.pid == 0) return usage_error("--classes needs a PID");
  if (args.count && args.watch <= 0) return usage_error("--count needs --watch");
  if (args.cleanup) return uzswap::zsstat::cmd_cleanup(args);
  return args.pid ? uzswap::zsstat::cmd_show(args) : uzswap::zsstat::cmd_list(args);
}
