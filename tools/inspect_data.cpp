// inspect-data <subcommand> ...: look inside datasets. Each subcommand is one function taking the
// arguments from its own name on; adding one is one line in kSubcommands.
#include <cstdio>
#include <cstring>
#include <string>

#include "core/base/error.h"
#include "core/base/main_guard.h"
#include "data/inspect_samples.h"
#include "data/tools/inspect_info.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

const Subcommand kSubcommands[] = {
    {"info", mcpp::data::inspect_info, "counts, dtype and file sizes of a dataset (JSON)"},
    {"samples", mcpp::data::inspect_samples_main, "GPT samples as Megatron's dataset returns them"},
};

std::string usage() {
  std::string text = "usage: inspect-data <subcommand> [flags]   (<subcommand> --help for its flags)\n";
  for (const Subcommand& s : kSubcommands)
    text += "  " + std::string(s.name) + "\t" + s.summary + "\n";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  return mcpp::run_main([&] {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
      std::fputs(usage().c_str(), argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
    for (const Subcommand& s : kSubcommands)
      if (std::strcmp(argv[1], s.name) == 0) return s.run(argc - 1, argv + 1);
    throw mcpp::Error(std::string("unknown subcommand '") + argv[1] +
                      "'; see inspect-data --help");
  });
}
