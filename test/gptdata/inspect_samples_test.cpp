// `inspect-data samples` output (through its parser and printer, with the NullTokenizer) against
// the Python fixtures' tokens.
#include <catch2/catch.hpp>
#include <sstream>

#include "data/gpt/sample_printer.h"
#include "data/tokenizers/null_tokenizer.h"
#include "test/gptdata/fixtures.h"
#include "test/gptdata/test_data.h"

using namespace mcpp::data;
using mcpp::test::labelled_sequences;
using mcpp::test::scratch_dir;
using mcpp::test::write_indexed_dataset;

namespace {

std::string run_samples(std::vector<std::string> args, const Tokenizer& tokenizer) {
  args.insert(args.begin(), "samples");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream help, out;
  auto request = parse_inspect_samples_args(static_cast<int>(argv.size()), argv.data(), help);
  REQUIRE(request);
  print_samples(std::move(*request), tokenizer, out);
  return out.str();
}

std::string json_line(const std::vector<int64_t>& ids) {
  std::string line = "[";
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
  return line + "]\n";
}

}  // namespace

TEST_CASE("inspect-data samples prints Megatron's samples for a range of a split") {
  const auto data = mcpp::test::load_gz_json("test/fixtures/gptdata/gpt_indices.json.gz");
  const auto dir = scratch_dir("gptdata-inspect");
  NullTokenizer tokenizer(10000000, std::nullopt);
  int checked = 0, case_number = 0;
  for (const auto& c : data["gpt"]) {
    ++case_number;
    if (!c["lengths"].contains("values") || c["lengths"]["values"].size() > 300) continue;
    const std::string prefix = write_indexed_dataset(
        dir, "c" + std::to_string(case_number),
        labelled_sequences(c["lengths"]["values"].get<std::vector<int32_t>>()));
    const char* names[3] = {"train", "valid", "test"};
    const char* count_flags[3] = {"--train-samples", "--valid-samples", "--test-samples"};
    for (int k = 0; k < 3; ++k) {
      const auto& expected = c["splits"][k];
      if (expected.is_null() || expected.contains("empty") || !expected["drop_last"].get<bool>()) continue;
      int shown = 0;
      for (const auto& [index, tokens] : expected["samples"].items()) {
        if (shown++ == 2) break;  // two samples per split keep this quick
        std::vector<std::string> args = {"--data-path", prefix, "--split", c["split"].get<std::string>(),
                                         "--seq-length", std::to_string(c["seq_length"].get<int64_t>()),
                                         "--seed", std::to_string(c["seed"].get<int64_t>()),
                                         "--tokenizer-type", "NullTokenizer", "--vocab-size", "10000000",
                                         "--data-cache-path", (dir / "cache").string(),
                                         "--split-name", names[k],
                                         "--range", index + ":" + std::to_string(std::stoll(index) + 1)};
        if (!expected["num_samples"].is_null()) {
          args.push_back(count_flags[k]);
          args.push_back(std::to_string(expected["num_samples"].get<int64_t>()));
        }
        auto want = tokens.get<std::vector<int64_t>>();
        for (auto& id : want) id = id == -1 ? 0 : id;
        INFO("case " << case_number << " split " << names[k] << " sample " << index);
        REQUIRE(run_samples(args, tokenizer) == json_line(want));
        ++checked;
      }
    }
  }
  REQUIRE(checked > 20);
}

TEST_CASE("inspect-data samples: ranges, --decode, blends and errors") {
  const auto dir = scratch_dir("gptdata-inspect-flags");
  const std::string a = write_indexed_dataset(dir, "a", labelled_sequences({10, 20, 30}));
  const std::string b = write_indexed_dataset(dir, "b", labelled_sequences({25, 25}));
  NullTokenizer tokenizer(100000, 9);
  const std::vector<std::string> base = {"--data-path", "1", a, "3", b, "--split", "1,0,0",
                                         "--seq-length", "4", "--tokenizer-type", "NullTokenizer",
                                         "--vocab-size", "100000", "--train-samples", "20",
                                         "--data-cache-path", (dir / "cache").string()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const std::string all = run_samples(with({"--range", "0:20"}), tokenizer);
  REQUIRE(std::count(all.begin(), all.end(), '\n') == 20);
  // A sub-range prints the same lines.
  const std::string middle = run_samples(with({"--range", "5:8"}), tokenizer);
  size_t start = 0;
  for (int i = 0; i < 5; ++i) start = all.find('\n', start) + 1;
  size_t stop = start;
  for (int i = 0; i < 3; ++i) stop = all.find('\n', stop) + 1;
  REQUIRE(middle == all.substr(start, stop - start));
  REQUIRE(run_samples(with({"--range", "3:3"}), tokenizer).empty());
  // --decode: the NullTokenizer's text (ids joined by spaces) as a JSON string.
  std::string first_ids = all.substr(1, all.find(']') - 1);
  first_ids.erase(std::remove(first_ids.begin(), first_ids.end(), ','), first_ids.end());
  REQUIRE(run_samples(with({"--range", "0:1", "--decode"}), tokenizer) == "\"" + first_ids + "\"\n");

  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:21"}), tokenizer), Catch::Contains("--range"));
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "5"}), tokenizer), Catch::Contains("--range"));
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:1", "--split-name", "dev"}), tokenizer),
                      Catch::Contains("--split-name"));
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:1", "--split-name", "valid"}), tokenizer),
                      Catch::Contains("valid split is empty"));
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:1", "--seed", "-1"}), tokenizer),
                      Catch::Contains("--seed"));
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:1", "--mid-level-dataset-surplus", "-1"}), tokenizer),
                      Catch::Contains("--mid-level-dataset-surplus"));
  // A larger surplus asks more samples of each component (which can change their epochs).
  const std::string surplus = run_samples(with({"--range", "0:20", "--mid-level-dataset-surplus", "0.5"}), tokenizer);
  REQUIRE(std::count(surplus.begin(), surplus.end(), '\n') == 20);
  REQUIRE_THROWS_WITH(run_samples(with({"--range", "0:1", "--micro-batch-size", "2"}), tokenizer),
                      Catch::Contains("micro-batch-size"));
}
