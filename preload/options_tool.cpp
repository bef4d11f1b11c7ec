// preload/options_tool.cpp — `uzswap-options`: prints the option table generated from
// options.def (--markdown for README.md and docs/options.md, --help for people) or checks
// the current environment (--check: the warnings libuzswap.so would print, then the
// effective value of every option), or refreshes the generated table in Markdown files
// (--update FILE...: the lines between <!-- options:begin --> and <!-- options:end -->).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "preload/options.h"
#include "preload/options_doc.h"

namespace {

int check_environment() {
  using namespace uzswap::preload;
  Options options{};
  int warnings = options_load(&options);
  for (size_t i = 0; i < kNumOptions; ++i) {
    char value[96];
    OptionId id = static_cast<OptionId>(i);
    printf("%s=%s%s\n", option_spec(id).env_name, option_value_text(options, id, value, sizeof value),
           options.source[i] == OptionSource::Default ? "  (default)" : "");
  }
  return warnings == 0 ? 0 : 1;
}

// Replaces the block between the markers in `path` by the generated table.
bool update_file(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  const std::string begin = "<!-- options:begin -->\n", end = "<!-- options:end -->";
  size_t b = s.find(begin), e = s.find(end);
  if (!in || b == std::string::npos || e == std::string::npos || e < b) {
    fprintf(stderr, "uzswap-options: %s has no %s ... %s block\n", path, begin.c_str(), end.c_str());
    return false;
  }
  s.replace(b + begin.size(), e - b - begin.size(), uzswap::preload::options_markdown_table());
  std::ofstream out(path);
  out << s;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "--help";
  if (strcmp(mode, "--markdown") == 0) {
    fputs(uzswap::preload::options_markdown_table().c_str(), stdout);
    return 0;
  }
  if (strcmp(mode, "--check") == 0) return check_environment();
  if (strcmp(mode, "--update") == 0) {
    bool ok = argc > 2;
    for (int i = 2; i < argc; ++i) ok = update_file(argv[i]) && ok;
    return ok ? 0 : 1;
  }
  if (strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0) {
    printf("usage: uzswap-options [--help | --markdown | --check | --update FILE...]\n\n%s",
           uzswap::preload::options_help_text().c_str());
    return 0;
  }
  fprintf(stderr, "uzswap-options: unknown argument %s (try --help)\n", mode);
  return 2;
}
