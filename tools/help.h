// tools/help.h — zsstat's --help text. The counter, histogram, gauge and class-column
// lists are generated from the same .def files the library is built from.
#pragma once

#include <cstdio>

namespace uzswap::zsstat {

void print_usage(FILE* out);
// Usage plus every statistic with its unit and meaning.
void print_help(FILE* out);
// The statistics as Markdown tables (docs/zsstat-counters.md is generated from this).
void print_help_markdown(FILE* out);

}  // namespace uzswap::zsstat
