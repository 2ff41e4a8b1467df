#include "data/gpt/sample_printer.h"

#include <CLI/CLI.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>

#include "core/base/error.h"
#include "core/base/log.h"

namespace mcpp::data {
namespace {

std::pair<int64_t, int64_t> parse_range(const std::string& text) {
  const auto colon = text.find(':');
  auto number = [&](const std::string& part) -> int64_t {
    size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == part.size() && value >= 0,
          "--range '" + text + "': write two sample indices as begin:end, e.g. 0:10");
    return value;
  };
  check(colon != std::string::npos, "--range '" + text + "': write begin:end, e.g. 0:10");
  const int64_t begin = number(text.substr(0, colon));
  const int64_t end = number(text.substr(colon + 1));
  check(begin <= end, "--range '" + text + "': begin is past end");
  return {begin, end};
}

}  // namespace

std::optional<InspectSamplesRequest> parse_inspect_samples_args(int argc, char** argv,
                                                                std::ostream& help_out) {
  CLI::App app{"Print the token ids of GPT samples exactly as Megatron's dataset returns them"};
  app.name("inspect-data samples");
  InspectSamplesRequest request;
  std::vector<std::string> data_path, split_paths[3];
  std::string split, split_name_text = "train", range, cache_path;
  int64_t seed = 1234;
  int64_t counts[3] = {-1, -1, -1};
  int64_t vocab_size = -1;
  int64_t null_eod = -1;
  app.add_option("--data-path", data_path, "dataset prefixes, optionally weighted: [w1] p1 [w2] p2 ...")
      ->expected(1, std::numeric_limits<int>::max());
  app.add_option("--train-data-path", split_paths[0], "train split's own dataset(s)")
      ->expected(1, std::numeric_limits<int>::max());
  app.add_option("--valid-data-path", split_paths[1], "valid split's own dataset(s)")
      ->expected(1, std::numeric_limits<int>::max());
  app.add_option("--test-data-path", split_paths[2], "test split's own dataset(s)")
      ->expected(1, std::numeric_limits<int>::max());
  app.add_flag("--mock-data", request.data.mock, "Megatron's generated mock dataset");
  app.add_option("--split", split, "train,valid,test weights (default 969,30,1)");
  app.add_option("--seq-length", request.data.seq_length, "tokens per sample")->required();
  app.add_option("--seed", seed, "RNG seed (default 1234)");
  app.add_option("--data-cache-path", cache_path, "index cache directory");
  app.add_option("--mid-level-dataset-surplus", request.data.mid_level_dataset_surplus,
                 "blend over-build margin (default 0.005)");
  app.add_option("--tokenizer-type", request.tokenizer.type, "tokenizer class")->required();
  app.add_option("--tokenizer-model", request.tokenizer.tokenizer_model, "tokenizer model file/dir");
  app.add_option("--vocab-file", request.tokenizer.vocab_file, "vocab.json");
  app.add_option("--merge-file", request.tokenizer.merge_file, "merges.txt");
  app.add_option("--vocab-size", vocab_size, "NullTokenizer vocabulary size");
  app.add_option("--null-tokenizer-eod-id", null_eod, "NullTokenizer EOD id");
  app.add_option("--train-samples", counts[0], "samples requested of train (default: one epoch)");
  app.add_option("--valid-samples", counts[1], "samples requested of valid (default: one epoch)");
  app.add_option("--test-samples", counts[2], "samples requested of test (default: one epoch)");
  app.add_option("--split-name", split_name_text, "train, valid or test (default train)");
  app.add_option("--range", range, "samples begin:end (half-open)")->required();
  app.add_flag("--decode", request.decode, "print each sample's text instead of ids");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    help_out << app.help();
    return std::nullopt;
  } catch (const CLI::ParseError& error) {
    throw Error(std::string(error.what()) + " (see inspect-data samples --help)");
  }

  bool per_split = false;
  for (int i = 0; i < 3; ++i) {
    if (split_paths[i].empty()) continue;
    per_split = true;
    const char* flags[3] = {"--train-data-path", "--valid-data-path", "--test-data-path"};
    request.data.blend_per_split[i] = parse_blend(split_paths[i], flags[i]);
  }
  if (!data_path.empty()) request.data.blend = parse_blend(data_path, "--data-path");
  check(!(per_split && !split.empty()),
        "--split applies to --data-path only; the per-split paths are used whole");
  check(!(request.data.mock && !split.empty()),
        "--split has no effect with --mock-data (Megatron always uses 1,1,1); drop it");
  if (!split.empty()) {
    request.data.split = split;
  } else if (request.data.blend && !request.data.mock) {
    log::warn("--split not given: using Megatron's default \"969, 30, 1\"");
  }
  check(request.data.mid_level_dataset_surplus >= 0,
        "--mid-level-dataset-surplus must not be negative");
  check(seed >= 0 && seed <= 0xffffffffLL, "--seed must be in [0, 2^32) (numpy's RandomState)");
  request.data.seed = static_cast<uint32_t>(seed);
  if (!cache_path.empty()) request.data.cache_path = cache_path;
  if (vocab_size >= 0) request.tokenizer.vocab_size = vocab_size;
  if (null_eod >= 0) request.tokenizer.null_eod_id = static_cast<int32_t>(null_eod);
  const char* count_flags[3] = {"--train-samples", "--valid-samples", "--test-samples"};
  for (int i = 0; i < 3; ++i) {
    if (app.count(count_flags[i]) == 0) continue;
    check(counts[i] >= 0, std::string(count_flags[i]) + " must not be negative");
    request.num_samples[i] = counts[i];
  }
  request.split = parse_split_name(split_name_text, "--split-name");
  std::tie(request.begin, request.end) = parse_range(range);
  return request;
}

void print_samples(InspectSamplesRequest request, const Tokenizer& tokenizer, std::ostream& out) {
  request.data.set_tokenizer(tokenizer);
  const GptDatasets datasets = build_gpt_datasets(request.data, request.num_samples, request.split);
  const auto& dataset = datasets[request.split];
  check(dataset != nullptr, std::string("the ") + split_name(request.split) +
                                " split is empty with this --split / data path; pick another "
                                "--split-name");
  check(request.end <= dataset->size(),
        "--range end " + std::to_string(request.end) + " is past the " +
            split_name(request.split) + " split's " + std::to_string(dataset->size()) + " samples");
  for (int64_t i = request.begin; i < request.end; ++i) {
    const Sample sample = dataset->get(i);
    if (request.decode) {
      // Like Python's json.dumps: ASCII output, invalid UTF-8 replaced.
      out << nlohmann::json(tokenizer.decode(sample.text))
                 .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
          << '\n';
      continue;
    }
    out << '[';
    for (size_t t = 0; t < sample.text.size(); ++t) {
      if (t) out << ", ";
      out << sample.text[t];
    }
    out << "]\n";
  }
}

}  // namespace mcpp::data
