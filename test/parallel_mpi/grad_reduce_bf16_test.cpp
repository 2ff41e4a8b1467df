// --grad-reduce-in-bf16 over real MPI ranks: GradReducer rounds every bucket (or slice) to bf16
// for its collective and widens the reduced values back. The values a rank keeps must be bf16
// numbers (the collective really moved bf16), within bf16 rounding of the fp32 reduction, for
// all-reduce and reduce-scatter, synchronous and overlapped (with slice-by-slice reduces).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/model/gpt_model.h"
#include "parallel/grad_buffer.h"
#include "parallel/process_groups.h"
#include "test/model/model_test_util.h"
#include "test/common/mpi_test_util.h"

namespace mcpp::parallel {
namespace {

using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

// Rank r's gradient element i (padding included): different on every rank, mixed signs and
// magnitudes, so sums cancel partly and fp32 results carry bits bf16 does not.
float gradient(int rank, int64_t i) {
  return std::sin(0.37f * float(i) + 1.3f * float(rank)) * std::exp2(float((i + rank) % 7) - 3.0f);
}

bool is_bf16_value(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0xffffu) == 0;
}

// Reduces rank-specific gradients with `reducer` (overlapped: parts made final in backward
// order) and returns the whole fp32 gradient buffer afterwards.
std::vector<float> reduced(GradReducer& reducer, const model::ParamBuffer& params, int rank, bool overlapped,
                           int num_layers) {
  const Tensor& grads = params.groups()[0].grads;
  for (int64_t i = 0; i < grads.numel(); ++i) grads.data<float>()[i] = gradient(rank, i);
  if (overlapped) {
    reducer.start_overlap();
    for (int part = num_layers; part >= -1; --part) reducer.part_ready(part);
    reducer.finish();
  } else {
    reducer.reduce_gradients();
  }
  return std::vector<float>(grads.data<float>(), grads.data<float>() + grads.numel());
}

}  // namespace

TEST_CASE("rank body: bf16 gradient reduction", "[.][rank-bf16-reduce]") {
  mpi();
  ProcessGroups groups(ProcessGroupOptions{});
  comm::Communicator& dp = *groups.dp_cp.comm;
  const int n = dp.size(), rank = dp.rank();
  REQUIRE(n > 1);
  const model::ModelConfig config = model::testing::gpt2_config();
  for (const bool sharded : {false, true}) {
    for (const bool overlapped : {false, true}) {
      INFO((sharded ? "reduce-scatter" : "all-reduce") << (overlapped ? ", overlapped" : "") << ", rank " << rank);
      DdpOptions ddp;
      ddp.use_distributed_optimizer = sharded;
      ddp.overlap_grad_reduce = true;
      ddp.bucket_size = 2000;
      ddp.dp_cp_size = n;
      model::GPTModel model(config, groups.parallel_context(), Device::CPU, ddp_buffer_layout(ddp));
      const model::ParamBuffer& params = model.params();
      REQUIRE(params.groups().size() == 1);
      REQUIRE(params.groups()[0].buckets.size() > 1);

      GradReducer in_fp32(params, dp, sharded, config.num_layers);
      const std::vector<float> want = reduced(in_fp32, params, rank, overlapped, config.num_layers);
      GradReducer in_bf16(params, dp, sharded, config.num_layers);
      in_bf16.set_communication_dtype(DType::BF16);
      const std::vector<float> got = reduced(in_bf16, params, rank, overlapped, config.num_layers);
      if (sharded && overlapped) CHECK(in_bf16.slices_reduced_separately() > 0);

      int64_t checked = 0, differing = 0, wrong = 0;
      for (const model::Bucket& bucket : params.groups()[0].buckets) {
        const ShardRange kept = sharded ? bucket_shard(bucket, rank, n) : ShardRange{bucket.begin, bucket.end};
        for (int64_t i = kept.begin; i < kept.end; ++i) {
          // Each rank's term is rounded twice (to bf16, then times 1/n in bf16), the sum once.
          double magnitude = 0;
          for (int r = 0; r < n; ++r) magnitude += std::abs(gradient(r, i)) / n;
          const bool close = std::abs(got[i] - want[i]) <= 3 * std::exp2(-8.0) * magnitude;
          if ((!close || !is_bf16_value(got[i])) && wrong++ < 5)
            FAIL_CHECK("element " << i << ": bf16 reduction " << got[i] << ", fp32 " << want[i]);
          differing += got[i] != want[i];
          ++checked;
        }
      }
      CHECK(wrong == 0);
      CHECK(checked > 0);
      CHECK(differing > checked / 4);  // fp32 reduction keeps bits bf16 drops
    }
  }
}

TEST_CASE("gradients reduced in bf16 over 2 ranks are bf16-rounded fp32 reductions") {
  CHECK(run_on_ranks(2, "[rank-bf16-reduce]"));
}

}  // namespace mcpp::parallel
