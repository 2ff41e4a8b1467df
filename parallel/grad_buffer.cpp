#include "parallel/grad_buffer.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"

namespace mcpp::parallel {

int64_t ddp_bucket_size(const DdpOptions& options) {
  if (!options.overlap_grad_reduce) return 0;
  if (options.bucket_size) return *options.bucket_size;
  return std::max<int64_t>(40000000, int64_t(1000000) * options.dp_cp_size);
}

model::BufferLayout ddp_buffer_layout(const DdpOptions& options) {
  check(options.dp_cp_size >= 1, "internal: data-parallel size must be at least 1");
  model::BufferLayout layout;
  layout.bucket_size = ddp_bucket_size(options);
  if (options.use_distributed_optimizer) {
    layout.param_align = 64;
    layout.bucket_end_multiple = std::lcm<int64_t>(options.dp_cp_size, 128);
    if (options.tied_embedding_own_bucket) layout.own_bucket_keys = {"embedding.word_embeddings.weight", "output_layer.weight"};
  }
  return layout;
}

ShardRange bucket_shard(const model::Bucket& bucket, int dp_rank, int dp_size) {
  check(bucket.numel() % dp_size == 0, "internal: bucket of " + std::to_string(bucket.numel()) +
                                           " elements is not divisible by the data-parallel size " +
                                           std::to_string(dp_size));
  const int64_t shard = bucket.numel() / dp_size;
  return {bucket.begin + shard * dp_rank, bucket.begin + shard * (dp_rank + 1)};
}

GradReducer::GradReducer(const model::ParamBuffer& params, comm::Communicator& dp_cp, bool use_distributed_optimizer)
    : params_(params), dp_cp_(dp_cp), sharded_(use_distributed_optimizer) {
  for (const auto& group : params_.groups()) {
    check(!group.is_expert, "expert parameters (reduced over the expert data-parallel group) are not supported yet");
    check(group.grad_dtype == DType::F32, "internal: gradient buffers are fp32");
    if (sharded_)
      for (const auto& bucket : group.buckets) bucket_shard(bucket, 0, dp_cp_.size());  // checks divisibility
  }
}

void GradReducer::reduce_gradients() {
  const int dp = dp_cp_.size();
  if (dp == 1) return;
  const float scale = 1.0f / static_cast<float>(dp);
  for (const auto& group : params_.groups()) {
    for (const auto& bucket : group.buckets) {
      const Tensor grads = group.grads.sub(bucket.begin, {bucket.numel()});
      // Megatron pre-scales by the gradient scaling factor 1/(dp·cp) and then sums.
      float* g = grads.data<float>();
      for (int64_t i = 0; i < bucket.numel(); ++i) g[i] *= scale;
      if (sharded_) {
        const ShardRange mine = bucket_shard(bucket, dp_cp_.rank(), dp);
        dp_cp_.reduce_scatter(grads, group.grads.sub(mine.begin, {mine.numel()}), comm::ReduceOp::sum);
      } else {
        dp_cp_.all_reduce(grads, comm::ReduceOp::sum);
      }
    }
  }
}

}  // namespace mcpp::parallel
