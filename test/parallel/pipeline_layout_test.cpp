// Layer ranges of pipeline stages and model chunks against Megatron's layer offsets.
#include <catch2/catch.hpp>

#include <string>

#include "core/base/error.h"
#include "parallel/pipeline_layout.h"

using namespace mcpp::parallel;

namespace {

// "first+count" of every (rank, chunk), ranks separated by '|', chunks by ','.
std::string ranges(const PipelineSplit& split) {
  std::string text;
  for (int rank = 0; rank < split.pp_size; ++rank) {
    if (rank > 0) text += '|';
    for (int chunk = 0; chunk < split.virtual_size; ++chunk) {
      if (chunk > 0) text += ',';
      const LayerRange range = stage_layer_range(split, rank, chunk);
      text += std::to_string(range.first) + "+" + std::to_string(range.count);
    }
  }
  return text;
}

}  // namespace

TEST_CASE("even pipeline layer ranges follow Megatron's offsets") {
  // 16 layers, P=4, vp=2: rank 0 holds layers 1-2 and 9-10 (1-based).
  CHECK(ranges({16, 4, 2, {}, {}}) == "0+2,8+2|2+2,10+2|4+2,12+2|6+2,14+2");
  CHECK(pipeline_layer_range(8, 2, 1, 1, 0).first == 4);
  CHECK_THROWS_AS(pipeline_layer_range(10, 4, 1, 0, 0), mcpp::Error);
}

TEST_CASE("uneven first and last stages share the other layers evenly over the middle stages") {
  CHECK(ranges({4, 2, 1, 1, {}}) == "0+1|1+3");
  CHECK(ranges({4, 2, 1, {}, 1}) == "0+3|3+1");
  CHECK(ranges({6, 4, 1, 1, 3}) == "0+1|1+1|2+1|3+3");
  CHECK(ranges({10, 4, 1, 1, {}}) == "0+1|1+3|4+3|7+3");
  CHECK(ranges({10, 4, 1, {}, 1}) == "0+3|3+3|6+3|9+1");
  // Interleaved: each chunk round covers L/vp layers; the first stage's chunks hold first/vp.
  CHECK(ranges({12, 3, 2, 2, 2}) == "0+1,6+1|1+4,7+4|5+1,11+1");
}

TEST_CASE("inconsistent uneven splits fail with Megatron's checks") {
  CHECK_THROWS_WITH(check_pipeline_split({4, 2, 1, 0, {}}), "--decoder-first-pipeline-num-layers must be larger than 0");
  CHECK_THROWS_WITH(check_pipeline_split({5, 3, 1, 2, {}}),
                    "--num-layers 5 minus --decoder-first/last-pipeline-num-layers leaves 3 layers, which the 2 "
                    "other pipeline stages cannot share evenly");
  CHECK_THROWS_WITH(check_pipeline_split({7, 3, 2, 2, 2}),
                    "number of layers on each middle pipeline rank (3) must be divisible by the virtual pipeline "
                    "parallel degree 2");
  CHECK_THROWS_WITH(check_pipeline_split({8, 3, 2, 3, {}}),
                    "number of layers at first stage (--decoder-first-pipeline-num-layers 3) must be divisible by "
                    "the virtual pipeline parallel degree 2");
  CHECK_NOTHROW(check_pipeline_split({8, 2, 1, 4, 4}));
}

TEST_CASE("the embedding and the loss can take a layer's place in the split, as Megatron's offsets") {
  // --account-for-embedding-in-pipeline-split and/or --account-for-loss-in-pipeline-split.
  const auto split = [](int layers, int pp, int vp, bool embedding, bool loss) {
    PipelineSplit s{layers, pp, vp, {}, {}};
    s.embedding_in_split = embedding;
    s.loss_in_split = loss;
    return s;
  };
  // 6 layers + embedding + loss over 4 stages of 2: the end stages build one transformer layer.
  CHECK(ranges(split(6, 4, 1, true, true)) == "0+1|1+2|3+2|5+1");
  CHECK(ranges(split(3, 2, 1, true, false)) == "0+1|1+2");
  CHECK(ranges(split(3, 2, 1, false, true)) == "0+2|2+1");
  // Interleaved: only the very first (rank 0, chunk 0) and very last virtual stages lose a slot.
  CHECK(ranges(split(6, 2, 2, true, true)) == "0+1,3+2|1+2,5+1");
  CHECK(ranges(split(7, 2, 2, true, false)) == "0+1,3+2|1+2,5+2");
  // A stage may hold the embedding alone.
  CHECK(ranges(split(3, 4, 1, true, false)) == "0+0|0+1|1+1|2+1");
  CHECK_THROWS_WITH(check_pipeline_split(split(4, 2, 1, true, false)),
                    "--num-layers 4 plus the embedding/loss layers (5) is not divisible by "
                    "--pipeline-model-parallel-size 2");
  CHECK_THROWS_WITH(check_pipeline_split(split(5, 2, 2, true, false)),
                    "layers per pipeline stage with the embedding/loss layers (3) must be divisible by the number of "
                    "virtual stages per pipeline rank 2");
  PipelineSplit both = split(4, 2, 1, true, true);
  both.first_stage_layers = 1;
  CHECK_THROWS_WITH(check_pipeline_split(both),
                    "--account-for-embedding/loss-in-pipeline-split cannot be combined with "
                    "--decoder-first/last-pipeline-num-layers; use one way of shaping the end stages");
}
