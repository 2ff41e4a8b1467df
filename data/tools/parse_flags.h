#pragma once
// Command-line parsing shared by the data tools (preprocess, merge-datasets, inspect-data): CLI11 errors become one-line mcpp::Error
// messages, --help prints the usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

#include "core/base/error.h"

namespace mcpp::data {

// Parses argv into `app`. Returns an exit code when the program should stop now (--help),
// nullopt to go on; throws mcpp::Error on a bad command line.
inline std::optional<int> parse_flags(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    throw Error(std::string(e.what()) + " (see " + app.get_name() + " --help)");
  }
  return std::nullopt;
}

}  // namespace mcpp::data
