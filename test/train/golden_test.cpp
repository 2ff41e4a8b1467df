// Golden loss curves of small fixed runs (test/golden/*.json), compared with a relative tolerance
// that absorbs BLAS rounding differences between machines but not a change in the math.
// Regenerate after an intended change with MCPP_UPDATE_GOLDEN=1.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "test/common/test_support.h"
#include "test/common/train_support.h"

using namespace mcpp::test;

namespace {

void check_golden(const std::string& name, const std::string& flags) {
  const auto dir = scratch_dir("golden-" + name);
  train_or_fail(flags + " --metrics-file " + (dir / "m.jsonl").string());
  const std::vector<double> losses = metrics_losses(dir / "m.jsonl");
  const auto golden_path = source_dir() / "test" / "golden" / (name + ".json");
  if (const char* update = std::getenv("MCPP_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(golden_path) << nlohmann::json{{"lm loss", losses}}.dump(2) << "\n";
  }
  const auto golden = nlohmann::json::parse(read_file(golden_path))["lm loss"].get<std::vector<double>>();
  check_losses_close(losses, golden, 1e-4);
}

}  // namespace

TEST_CASE("golden: tiny GPT-2 style run with dropout, 12 iterations") {
  check_golden("tiny-gpt2", tiny_gpt2_flags() + " --train-iters 12");
}

TEST_CASE("golden: tiny Llama-style run, 12 iterations") {
  check_golden("tiny-llama", tiny_llama_flags() + " --train-iters 12");
}
