// generate: text from a megatron-train checkpoint. The model and tokenizer flags come from the
// checkpoint's saved arguments; any flag given on the command line overrides them.
//   generate --load DIR --prompt TEXT --max-new-tokens N [--temperature T --top-k K --seed S]
// Greedy decoding when --temperature is 0 (the default).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "app/checkpoint_layout.h"
#include "app/run_config.h"
#include "app/train_args.h"
#include "checkpoint/checkpoint_reader.h"
#include "core/base/error.h"
#include "core/base/main_guard.h"
#include "core/comm/communicator.h"
#include "core/model/gpt_model.h"
#include "data/tokenizers/tokenizer.h"

namespace {

struct GenerateOptions {
  std::string load;
  std::string prompt;
  int64_t max_new_tokens = 32;
  double temperature = 0.0;
  int64_t top_k = 0;
  uint64_t seed = 1234;
  std::vector<std::string> model_flags;  // everything else: megatron-train flags
};

GenerateOptions parse(int argc, char** argv) {
  GenerateOptions options;
  auto value = [&](int& i, const std::string& flag) -> std::string {
    mcpp::check(i + 1 < argc, flag + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    try {
      if (arg == "--load") options.load = value(i, arg);
      else if (arg == "--prompt") options.prompt = value(i, arg);
      else if (arg == "--max-new-tokens") options.max_new_tokens = std::stoll(value(i, arg));
      else if (arg == "--temperature") options.temperature = std::stod(value(i, arg));
      else if (arg == "--top-k") options.top_k = std::stoll(value(i, arg));
      else if (arg == "--seed") options.seed = std::stoull(value(i, arg));
      else options.model_flags.push_back(arg);
    } catch (const std::logic_error&) {
      throw mcpp::Error(arg + ": expected a number, got '" + argv[i] + "'");
    }
  }
  mcpp::check(!options.load.empty(), "--load DIR is required (a megatron-train --save directory)");
  mcpp::check(options.max_new_tokens >= 0, "--max-new-tokens must be >= 0");
  mcpp::check(options.temperature >= 0, "--temperature must be >= 0 (0 = greedy)");
  mcpp::check(options.top_k >= 0, "--top-k must be >= 0 (0 = the whole vocabulary)");
  return options;
}

// Picks the next id from one row of logits over the real (unpadded) vocabulary.
int32_t choose(const float* logits, int64_t vocab, const GenerateOptions& options, std::mt19937_64& rng) {
  if (options.temperature == 0.0) return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> ids(vocab);
  for (int64_t i = 0; i < vocab; ++i) ids[i] = static_cast<int32_t>(i);
  const int64_t k = options.top_k > 0 ? std::min(options.top_k, vocab) : vocab;
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<double> weights(k);
  for (int64_t i = 0; i < k; ++i) weights[i] = std::exp((logits[ids[i]] - logits[ids[0]]) / options.temperature);
  std::discrete_distribution<int64_t> pick(weights.begin(), weights.end());
  return ids[pick(rng)];
}

}  // namespace

int main(int argc, char** argv) {
  return mcpp::run_main([&] {
    using namespace mcpp;
    const GenerateOptions options = parse(argc, argv);
    const auto reader = ckpt::CheckpointReader::open(options.load);

    // The checkpoint's architecture and tokenizer, then the user's overrides, plus the training
    // flags megatron-train requires but generation does not use.
    std::vector<std::string> flags = app::snapshot_flags(reader.common().args);
    for (const char* required : {"--micro-batch-size", "1", "--train-iters", "1", "--lr", "0", "--device", "cpu"})
      flags.push_back(required);
    flags.insert(flags.end(), options.model_flags.begin(), options.model_flags.end());
    app::TrainArgs args = app::parse_train_args(flags);
    auto tokenizer_options = app::tokenizer_options(args);
    check(tokenizer_options.has_value(), reader.directory().string() +
                                             " names no tokenizer; pass --tokenizer-type and its files");
    const auto tokenizer = data::make_tokenizer(*tokenizer_options);
    app::validate_train_args(args, 1, tokenizer->vocab_size());

    comm::SingleRankCommunicator comm;
    const model::ParallelContext parallel = model::ParallelContext::single(comm);
    model::GPTModel model(app::model_config(args), parallel, Device::CPU);
    const model::ParamBuffer& params = model.params();
    for (int i = 0; i < params.size(); ++i)
      app::read_shard(reader, params.info(i), tokenizer->vocab_size(), "", params.param(i));

    std::vector<int32_t> ids = tokenizer->encode(options.prompt);
    check(!ids.empty(), "--prompt gives no tokens; give some text");
    const size_t prompt_length = ids.size();
    const int64_t context = model.config().max_position_embeddings;
    std::mt19937_64 rng(options.seed);
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const size_t begin = ids.size() > static_cast<size_t>(context) ? ids.size() - context : 0;
      const int64_t s = static_cast<int64_t>(ids.size() - begin);
      Tensor tokens = Tensor::empty({1, s}, DType::I64);
      for (int64_t j = 0; j < s; ++j) tokens.data<int64_t>()[j] = ids[begin + j];
      const Tensor logits = model.logits(tokens);  // [s, 1, V_pad]
      const float* last = logits.data<float>() + (s - 1) * logits.dim(2);
      const int32_t next = choose(last, tokenizer->vocab_size(), options, rng);
      ids.push_back(next);
      if (next == tokenizer->eod()) break;
    }
    std::printf("%s%s\n", options.prompt.c_str(), tokenizer->decode(std::span<const int32_t>(ids.data() + prompt_length,
                                                                     ids.size() - prompt_length)).c_str());
    std::fflush(stdout);
    return 0;
  });
}
