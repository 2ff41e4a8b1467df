#include "data/inspect_samples.h"

#include <iostream>

#include "core/base/main_guard.h"
#include "data/gpt/sample_printer.h"

namespace mcpp::data {

int inspect_samples_main(int argc, char** argv) {
  return run_main([&] {
    auto request = parse_inspect_samples_args(argc, argv, std::cout);
    if (!request) return 0;  // --help
    const auto tokenizer = make_tokenizer(request->tokenizer);
    print_samples(std::move(*request), *tokenizer, std::cout);
    std::cout.flush();
    return std::cout ? 0 : 1;
  });
}

}  // namespace mcpp::data
