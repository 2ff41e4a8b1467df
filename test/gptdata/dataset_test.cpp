// GPT, blended and mock datasets read through build_gpt_datasets, checked against the Python
// fixtures' tokens, the blending rules and numpy's default_rng lengths.
#include <catch2/catch.hpp>
#include <cmath>

#include "data/gpt/blended_dataset.h"
#include "data/gpt/builder.h"
#include "data/gpt/gpt_dataset.h"
#include "data/gpt/mock_dataset.h"
#include "data/gpt/mock_lengths.h"
#include "test/gptdata/fixtures.h"
#include "test/gptdata/test_data.h"

using namespace mcpp::data;
using mcpp::test::labelled_sequences;
using mcpp::test::scratch_dir;
using mcpp::test::write_indexed_dataset;
using nlohmann::json;

namespace {

GptDataConfig base_config(const std::string& prefix, int64_t seq_length) {
  GptDataConfig config;
  config.blend = Blend{{prefix}, std::nullopt};
  config.seq_length = seq_length;
  config.sample.eod_id = -7;  // not a token of the labelled data
  config.vocab_size = 1 << 30;
  return config;
}

}  // namespace

TEST_CASE("GPT samples match the fixtures' tokens (files written and read back)") {
  const json data = mcpp::test::load_gz_json("test/fixtures/gptdata/gpt_indices.json.gz");
  const auto dir = scratch_dir("gptdata-samples");
  int compared = 0, case_number = 0;
  for (const auto& c : data["gpt"]) {
    ++case_number;
    if (!c["lengths"].contains("values") || c["lengths"]["values"].size() > 1500) continue;
    const auto lengths = c["lengths"]["values"].get<std::vector<int32_t>>();
    const std::string prefix =
        write_indexed_dataset(dir, "case" + std::to_string(case_number), labelled_sequences(lengths));
    GptDataConfig config = base_config(prefix, c["seq_length"].get<int64_t>());
    config.split = c["split"].get<std::string>();
    config.seed = c["seed"].get<uint32_t>();
    config.write_cache = false;  // the cache has its own tests; fsyncs would dominate here
    for (SplitName split : kAllSplits) {
      const auto& expected = c["splits"][static_cast<size_t>(split)];
      if (expected.is_null() || expected.contains("empty")) continue;
      SplitSampleCounts counts;
      if (!expected["num_samples"].is_null()) {
        counts[static_cast<size_t>(split)] = expected["num_samples"].get<int64_t>();
      }
      config.drop_last_partial_validation_sequence = expected["drop_last"].get<bool>();
      const auto datasets = build_gpt_datasets(config, counts, split);
      REQUIRE(datasets[split] != nullptr);
      for (const auto& [index, tokens] : expected["samples"].items()) {
        auto want = tokens.get<std::vector<int32_t>>();
        for (auto& id : want) id = id == -1 ? 0 : id;  // pads come back as 0
        INFO("case " << case_number << " split " << split_name(split) << " sample " << index);
        REQUIRE(datasets[split]->get(std::stoll(index)).text == want);
        ++compared;
      }
    }
  }
  REQUIRE(compared > 100);
}

TEST_CASE("loss mask, position ids and document offsets around EOD and pads") {
  SampleOptions options;
  options.eod_id = 99;
  options.pad_id = 98;
  const std::vector<int32_t> raw = {5, 99, 7, 8, 99, 9, 98, 98, 98};  // L = 8, three pads

  Sample plain = make_sample(raw, options);
  REQUIRE(plain.text == std::vector<int32_t>{5, 99, 7, 8, 99, 9, 0, 0, 0});
  REQUIRE(plain.loss_mask == std::vector<float>{1, 1, 1, 1, 1, 0, 0, 0});
  REQUIRE(plain.position_ids == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
  REQUIRE(plain.document_offsets.empty());
  REQUIRE(std::vector<int32_t>(plain.tokens().begin(), plain.tokens().end()) ==
          std::vector<int32_t>{5, 99, 7, 8, 99, 9, 0, 0});
  REQUIRE(std::vector<int32_t>(plain.labels().begin(), plain.labels().end()) ==
          std::vector<int32_t>{99, 7, 8, 99, 9, 0, 0, 0});

  options.eod_mask_loss = true;
  options.reset_position_ids = true;
  options.reset_attention_mask = true;
  Sample reset = make_sample(raw, options);
  REQUIRE(reset.loss_mask == std::vector<float>{1, 0, 1, 1, 0, 0, 0, 0});
  REQUIRE(reset.position_ids == std::vector<int32_t>{0, 1, 0, 1, 2, 0, 1, 2});
  REQUIRE(reset.document_offsets == std::vector<int32_t>{0, 2, 5, 8});

  // An EOD as the last input starts no new document; an EOD label alone changes nothing.
  Sample tail = make_sample({1, 2, 3, 99, 99}, options);
  REQUIRE(tail.document_offsets == std::vector<int32_t>{0, 4});
  REQUIRE(tail.position_ids == std::vector<int32_t>{0, 1, 2, 3});
  REQUIRE(tail.loss_mask == std::vector<float>{1, 1, 1, 0});

  // Without a pad id (-1, Megatron's default) nothing but -1 counts as padding.
  SampleOptions no_pad;
  no_pad.eod_id = 99;
  Sample short_sample = make_sample({4, 98, -1, -1}, no_pad);
  REQUIRE(short_sample.text == std::vector<int32_t>{4, 98, 0, 0});
  REQUIRE(short_sample.loss_mask == std::vector<float>{1, 0, 0});
}

TEST_CASE("weighted blend: sizes, component requests with surplus, items") {
  const auto dir = scratch_dir("gptdata-blend");
  const std::string a = write_indexed_dataset(dir, "a", labelled_sequences({40, 7, 90, 3, 55, 60, 12}));
  const std::string b = write_indexed_dataset(dir, "b", labelled_sequences({300, 1, 25, 99, 13}));
  GptDataConfig config = base_config(a, 16);
  config.blend = parse_blend({"0.3", a, "0.7", b}, "--data-path");
  config.split = "80,20,0";
  config.cache_path = (dir / "cache").string();
  const int64_t n_train = 101, n_valid = 7;
  const auto datasets = build_gpt_datasets(config, {n_train, n_valid, std::nullopt});
  REQUIRE(datasets[SplitName::test] == nullptr);
  for (auto [split, n] : {std::pair{SplitName::train, n_train}, std::pair{SplitName::valid, n_valid}}) {
    auto blended = std::dynamic_pointer_cast<const BlendedDataset>(datasets[split]);
    REQUIRE(blended);
    const auto& weights = *config.blend->weights;
    int64_t size = 0;
    for (size_t i = 0; i < 2; ++i) {
      const double target = std::ceil(static_cast<double>(n) * weights[i]);
      size += static_cast<int64_t>(target);
      // The component was built for ceil(ceil(n*w) * 1.005) samples of its own split range.
      auto component = std::dynamic_pointer_cast<const GptDataset>(blended->components()[i]);
      REQUIRE(component);
      GptIndexParams params;
      const auto lengths = component->source().sequence_lengths();
      const auto range = split_range(*parse_split_matrix("80,20,0")[static_cast<size_t>(split)],
                                     static_cast<int64_t>(lengths.size()));
      params.sequence_begin = range.first;
      params.sequence_end = range.second;
      params.seq_length = 16;
      params.num_samples = static_cast<int64_t>(std::ceil(target * 1.005));
      REQUIRE(component->indices().shuffle_index ==
              build_gpt_indices(lengths, params).shuffle_index);
    }
    REQUIRE(blended->size() == size);
    auto expected = build_blending_indices(*config.blend->weights, size);
    for (int64_t k = 0; k < size; ++k) {
      const Sample got = blended->get(k);
      const int16_t id = expected.dataset_index[k];
      REQUIRE(got.dataset_id == id);
      REQUIRE(got.text == blended->components()[id]->get(expected.dataset_sample_index[k]).text);
    }
  }
}

TEST_CASE("unweighted blend and per-split data paths") {
  const auto dir = scratch_dir("gptdata-unweighted");
  const std::string a = write_indexed_dataset(dir, "a", labelled_sequences({40, 7, 90, 3, 55}));
  const std::string b = write_indexed_dataset(dir, "b", labelled_sequences({300, 1, 25}));
  GptDataConfig config = base_config(a, 8);
  config.blend = parse_blend({a, b}, "--data-path");
  config.split = "1,0,0";
  config.write_cache = false;
  // Components are one epoch each; the blend is weighted by their lengths.
  auto capped = std::dynamic_pointer_cast<const BlendedDataset>(
      build_gpt_datasets(config, {10, std::nullopt, std::nullopt})[SplitName::train]);
  REQUIRE(capped);
  const int64_t la = capped->components()[0]->size(), lb = capped->components()[1]->size();
  REQUIRE(la == (195 - 1) / 8);
  REQUIRE(lb == (326 - 1) / 8);
  REQUIRE(capped->size() == 10);
  REQUIRE(capped->indices().dataset_index ==
          build_blending_indices(normalize_weights({double(la), double(lb)}), 10).dataset_index);
  auto all = build_gpt_datasets(config, {1000, std::nullopt, std::nullopt})[SplitName::train];
  REQUIRE(all->size() == la + lb);  // capped at the components' total
  auto exhaustive = std::dynamic_pointer_cast<const BlendedDataset>(
      build_gpt_datasets(config, {std::nullopt, std::nullopt, std::nullopt})[SplitName::train]);
  const std::vector<int64_t> sizes = {la, lb};
  REQUIRE(exhaustive->indices().dataset_sample_index ==
          build_exhaustive_blending_indices(sizes).dataset_sample_index);

  // Per-split paths: each split reads its files whole; a single weighted prefix is no blend.
  GptDataConfig per_split = base_config(a, 8);
  per_split.blend.reset();
  per_split.blend_per_split[0] = parse_blend({"1", a}, "--train-data-path");
  per_split.blend_per_split[2] = parse_blend({b}, "--test-data-path");
  per_split.write_cache = false;
  auto datasets = build_gpt_datasets(per_split, {5, 5, std::nullopt});
  REQUIRE(datasets[SplitName::valid] == nullptr);
  auto train = std::dynamic_pointer_cast<const GptDataset>(datasets[SplitName::train]);
  REQUIRE(train);
  REQUIRE(train->indices().tokens_per_epoch == 195);
  REQUIRE(datasets[SplitName::test]->size() == (326 - 1) / 8);

  GptDataConfig both = per_split;
  both.blend = parse_blend({a}, "--data-path");
  REQUIRE_THROWS_WITH(build_gpt_datasets(both, {}), Catch::Contains("--data-path"));
  GptDataConfig weighted_without_size = base_config(a, 8);
  weighted_without_size.blend = parse_blend({"1", a, "2", b}, "--data-path");
  REQUIRE_THROWS_WITH(build_gpt_datasets(weighted_without_size, {}), Catch::Contains("sample count"));
}

TEST_CASE("mock data: numpy default_rng lengths and Megatron's token pattern") {
  // Values printed by numpy 1.24: PCG64(0).random_raw(3) and
  // default_rng(0).integers(1, 4096, size=100000, dtype=int32).
  REQUIRE(numpy_pcg64_raw(0, 3) ==
          std::vector<uint64_t>{11749869230777074271ULL, 4976686463289251617ULL, 755828109848996024ULL});
  const auto lengths = megatron_mock_sequence_lengths();
  REQUIRE(lengths.size() == 100000);
  REQUIRE(std::vector<int32_t>(lengths.begin(), lengths.begin() + 8) ==
          std::vector<int32_t>{3484, 2609, 2094, 1105, 1261, 168, 309, 68});
  REQUIRE(std::vector<int32_t>(lengths.end() - 3, lengths.end()) == std::vector<int32_t>{61, 100, 769});
  int64_t sum = 0;
  for (int32_t l : lengths) sum += l;
  REQUIRE(sum == 204637097);

  MockTokenSource source(1000, 999);
  std::vector<int32_t> tokens(5);
  source.read(0, 3479, 5, tokens.data());  // tail of a 3484-token sequence
  REQUIRE(tokens == std::vector<int32_t>{480, 481, 482, 483, 999});

  GptDataConfig config;
  config.mock = true;
  config.seq_length = 64;
  config.vocab_size = 1000;
  config.sample.eod_id = 999;
  auto datasets = build_gpt_datasets(config, {100, std::nullopt, std::nullopt}, SplitName::train);
  auto train = std::dynamic_pointer_cast<const GptDataset>(datasets[SplitName::train]);
  REQUIRE(train);
  int64_t tokens_per_epoch = 0;
  for (int i = 0; i < 33333; ++i) tokens_per_epoch += lengths[i];  // split 1,1,1 -> [0, 33333)
  REQUIRE(train->indices().tokens_per_epoch == tokens_per_epoch);
  const Sample s = train->get(0);
  // --mock-data wins over data paths, which are then never opened.
  GptDataConfig with_paths = config;
  with_paths.blend_per_split[1] = Blend{{"/nonexistent/prefix"}, std::nullopt};
  auto mocked = build_gpt_datasets(with_paths, {100, 5, 5});
  REQUIRE(mocked[SplitName::train]->get(3).text == train->get(3).text);
  REQUIRE(mocked[SplitName::test] != nullptr);
  for (size_t t = 1; t < s.text.size(); ++t) {
    // Consecutive ids count up by one (mod vocab) except around EOD.
    const bool eod_edge = s.text[t] == 999 || s.text[t - 1] == 999;
    if (!eod_edge) REQUIRE(s.text[t] == (s.text[t - 1] + 1) % 1000);
  }
}

TEST_CASE("samples of Megatron-written files: one dataset over 3 splits, a weighted blend") {
  const json data = mcpp::test::load_gz_json("test/fixtures/gptdata/gpt_indices.json.gz");
  const auto dir = scratch_dir("gptdata-real");
  int compared = 0;
  for (const auto& c : data["real"]) {
    std::vector<std::string> tokens;
    const auto paths = c["data_path"].get<std::vector<std::string>>();
    for (size_t i = 0; i < paths.size(); ++i) {
      const auto idx = mcpp::test::data_file(paths[i] + ".idx").string();  // fails when missing
      if (!c["weights"].is_null()) tokens.push_back(std::to_string(c["weights"][i].get<double>()));
      tokens.push_back(idx.substr(0, idx.size() - 4));
    }
    GptDataConfig config = base_config("", c["seq_length"].get<int64_t>());
    config.blend = parse_blend(tokens, "--data-path");
    config.split = c["split"].get<std::string>();
    config.seed = c["seed"].get<uint32_t>();
    config.sample.eod_id = 50256;
    config.cache_path = (dir / "cache").string();  // never next to the (read-only) shared data
    SplitSampleCounts counts;
    for (size_t k = 0; k < 3; ++k) {
      if (!c["num_samples"][k].is_null()) counts[k] = c["num_samples"][k].get<int64_t>();
    }
    const auto datasets = build_gpt_datasets(config, counts);
    for (size_t k = 0; k < 3; ++k) {
      const auto& expected = c["splits"][k];
      REQUIRE((datasets.splits[k] == nullptr) == expected.is_null());
      if (expected.is_null()) continue;
      REQUIRE(datasets.splits[k]->size() == expected["size"].get<int64_t>());
      for (const auto& [index, ids] : expected["samples"].items()) {
        INFO("split " << k << " sample " << index);
        REQUIRE(datasets.splits[k]->get(std::stoll(index)).text == ids.get<std::vector<int32_t>>());
        ++compared;
      }
    }
  }
  REQUIRE(compared == 34);
}
