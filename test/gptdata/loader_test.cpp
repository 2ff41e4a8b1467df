// The loader's rank slicing against MegatronPretrainingSampler's rule, and batch contents.
#include <catch2/catch.hpp>

#include "data/gpt/builder.h"
#include "data/gpt/loader.h"
#include "test/gptdata/test_data.h"

using namespace mcpp::data;
using mcpp::test::labelled_sequences;
using mcpp::test::scratch_dir;
using mcpp::test::write_indexed_dataset;

namespace {

std::shared_ptr<const SampleDataset> small_dataset(bool reset) {
  static const auto dir = scratch_dir("gptdata-loader");
  // Every sequence ends with EOD (id 5), as preprocess --append-eod writes them.
  static const std::string prefix = [] {
    auto sequences = labelled_sequences({40, 7, 90, 3, 55, 60, 33, 21, 70});
    for (auto& s : sequences) s.back() = 5;
    return write_indexed_dataset(dir, "data", sequences);
  }();
  GptDataConfig config;
  config.blend = Blend{{prefix}, std::nullopt};
  config.split = "1,0,0";
  config.seq_length = 8;
  config.write_cache = false;
  config.sample.eod_id = 5;
  config.sample.reset_attention_mask = reset;
  config.sample.reset_position_ids = reset;
  return build_gpt_datasets(config, {97, std::nullopt, std::nullopt})[SplitName::train];
}

}  // namespace

TEST_CASE("DP ranks together read the global sample sequence, each its slice") {
  auto dataset = small_dataset(false);
  const int64_t total = dataset->size();
  REQUIRE(total >= 97);
  for (int64_t dp : {1, 2, 3}) {
    for (int64_t mbs : {1, 2, 4}) {
      for (int64_t consumed : {int64_t{0}, int64_t{5}}) {
        std::vector<std::vector<MicroBatch>> per_rank(dp);
        for (int64_t r = 0; r < dp; ++r) {
          LoaderOptions options;
          options.micro_batch_size = mbs;
          options.dp_rank = r;
          options.dp_size = dp;
          options.consumed_samples = consumed;
          options.prefetch_batches = 2;
          GptLoader loader(dataset, options);
          while (auto batch = loader.next()) per_rank[r].push_back(std::move(*batch));
        }
        const int64_t steps = (total - consumed) / (mbs * dp);  // the last partial step is dropped
        INFO("dp=" << dp << " mbs=" << mbs << " consumed=" << consumed);
        int64_t expected_index = consumed;
        for (int64_t step = 0; step < steps; ++step) {
          for (int64_t r = 0; r < dp; ++r) {
            REQUIRE(per_rank[r].size() == static_cast<size_t>(steps));
            const MicroBatch& batch = per_rank[r][step];
            REQUIRE(batch.batch_size == mbs);
            for (int64_t b = 0; b < mbs; ++b) {
              REQUIRE(batch.sample_indices[b] == expected_index);
              const Sample sample = dataset->get(expected_index);
              REQUIRE(std::equal(sample.tokens().begin(), sample.tokens().end(),
                                 batch.tokens.begin() + b * 8));
              REQUIRE(std::equal(sample.labels().begin(), sample.labels().end(),
                                 batch.labels.begin() + b * 8));
              ++expected_index;
            }
          }
        }
      }
    }
  }
}

TEST_CASE("sampler without drop_last slices the last partial step; bad resume points fail") {
  LoaderOptions options;
  options.micro_batch_size = 2;
  options.dp_size = 3;
  options.dp_rank = 1;
  options.drop_last = false;
  PretrainingSampler sampler(9, options);  // steps of 6: [0..6), then [6..9)
  REQUIRE(*sampler.next() == std::vector<int64_t>{2, 3});
  REQUIRE(*sampler.next() == std::vector<int64_t>{8});
  REQUIRE(!sampler.next());
  options.dp_rank = 2;
  PretrainingSampler last_rank(9, options);
  last_rank.next();
  REQUIRE(last_rank.next()->empty());

  options.consumed_samples = 9;
  REQUIRE_THROWS_WITH(PretrainingSampler(9, options), Catch::Contains("no samples left"));
  options.consumed_samples = 0;
  options.dp_rank = 3;
  REQUIRE_THROWS(PretrainingSampler(9, options));
}

TEST_CASE("micro-batches carry positions, masks and document offsets; early stop is clean") {
  auto dataset = small_dataset(true);
  LoaderOptions options;
  options.micro_batch_size = 4;
  GptLoader loader(dataset, options);
  bool saw_boundary = false;
  for (int step = 0; step < 5; ++step) {
    auto batch = loader.next();
    REQUIRE(batch);
    REQUIRE(batch->tokens.size() == 32);
    REQUIRE(batch->position_ids.size() == 32);
    REQUIRE(batch->loss_mask.size() == 32);
    REQUIRE(batch->document_offsets.size() == 4);
    for (int64_t b = 0; b < 4; ++b) {
      const Sample sample = dataset->get(batch->sample_indices[b]);
      REQUIRE(batch->document_offsets[b] == sample.document_offsets);
      REQUIRE(std::equal(sample.position_ids.begin(), sample.position_ids.end(),
                         batch->position_ids.begin() + b * 8));
      saw_boundary = saw_boundary || sample.document_offsets.size() > 2;
    }
  }
  REQUIRE(saw_boundary);
  // The loader is destroyed here with batches still queued: the reader thread must stop.
}
