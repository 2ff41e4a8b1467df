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
