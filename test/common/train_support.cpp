#include "test/common/train_support.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <mutex>

#include "test/common/test_support.h"

namespace fs = std::filesystem;

namespace mcpp::test {

std::string gpt2_tokenizer_flags() {
  return "--tokenizer-type HuggingFaceTokenizer --tokenizer-model " + data_dir().string() + "/tokenizers/gpt2";
}

std::string fortunes_gpt2_prefix() {
  static std::mutex mutex;
  static std::string prefix;
  std::lock_guard lock(mutex);
  if (!prefix.empty()) return prefix;
  const fs::path dir = scratch_dir("fortunes-gpt2");
  // The first 3000 fortunes are plenty for tiny models and keep preprocessing instant.
  const fs::path input = dir / "fortunes.jsonl";
  {
    std::ifstream in(data_file("text/fortunes.jsonl"));
    std::ofstream out(input);
    std::string line;
    for (int i = 0; i < 3000 && std::getline(in, line); ++i) out << line << '\n';
  }
  const RunResult result = run(program("preprocess").string() + " --input " + input.string() +
                               " --output-prefix " + (dir / "fortunes").string() + " " +
                               gpt2_tokenizer_flags() + " --append-eod --workers 2");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  prefix = (dir / "fortunes_text_document").string();
  return prefix;
}

std::string tiny_gpt2_flags() {
  return "--device cpu --num-layers 2 --hidden-size 32 --num-attention-heads 4 --seq-length 32 "
         "--max-position-embeddings 32 --micro-batch-size 2 --global-batch-size 4 --lr 1e-2 "
         "--min-lr 1e-3 --lr-decay-style cosine --lr-warmup-iters 0 --weight-decay 0.01 --clip-grad 1.0 "
         "--seed 1234 --split 98,1,1 --eval-iters 2 --eval-interval 1000 --log-interval 1 "
         "--data-path " + fortunes_gpt2_prefix() + " " + gpt2_tokenizer_flags();
}

std::string tiny_llama_flags() {
  return "--device cpu --num-layers 2 --hidden-size 32 --num-attention-heads 4 --group-query-attention "
         "--num-query-groups 2 --ffn-hidden-size 64 --swiglu --normalization RMSNorm "
         "--position-embedding-type rope --disable-bias-linear --untie-embeddings-and-output-weights "
         "--seq-length 32 --max-position-embeddings 32 --micro-batch-size 2 --global-batch-size 4 "
         "--lr 1e-2 --lr-decay-style constant --seed 4321 --split 98,1,1 --eval-iters 2 "
         "--eval-interval 1000 --log-interval 1 --data-path " + fortunes_gpt2_prefix() + " " +
         gpt2_tokenizer_flags();
}

std::string train_or_fail(const std::string& flags) {
  const RunResult result = run(program("megatron-train").string() + " " + flags);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return result.output;
}

std::vector<double> metrics_losses(const fs::path& metrics_file) {
  std::ifstream in(metrics_file);
  REQUIRE(in.good());
  std::vector<double> losses;
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line);
    losses.push_back(json["lm_loss"].get<double>());
  }
  return losses;
}

void check_losses_close(const std::vector<double>& losses, const std::vector<double>& expected, double epsilon) {
  REQUIRE(losses.size() == expected.size());
  for (size_t i = 0; i < losses.size(); ++i) {
    INFO("iteration " << i + 1);
    CHECK(losses[i] == Approx(expected[i]).epsilon(epsilon));
  }
}

std::vector<std::pair<std::optional<double>, double>> metrics_losses_and_scales(const fs::path& metrics_file) {
  std::ifstream in(metrics_file);
  REQUIRE(in.good());
  std::vector<std::pair<std::optional<double>, double>> lines;
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line);
    std::optional<double> loss;
    if (!json["lm_loss"].is_null()) loss = json["lm_loss"].get<double>();
    lines.emplace_back(loss, json["loss_scale"].get<double>());
  }
  return lines;
}

}  // namespace mcpp::test
