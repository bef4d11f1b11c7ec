// preload/options_doc.h — documentation generated from the option table (options.def):
// the README/docs table and the --help text of uzswap-options. Not linked into the
// preload library (it allocates freely).
#pragma once

#include <string>

namespace uzswap::preload {

// The Markdown table of every option (header + one row per option, '\n'-terminated).
std::string options_markdown_table();
// Plain-text help: one paragraph per option.
std::string options_help_text();

}  // namespace uzswap::preload
