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
    // Megatron's padding; the larger multiple keeps NCCL's per-rank chunks big and aligned.
    layout.bucket_end_multiple = std::lcm<int64_t>(options.dp_cp_size, 128);
    if (options.pad_for_high_nccl_busbw) layout.bucket_end_multiple = std::lcm<int64_t>(layout.bucket_end_multiple, 65536);
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

int backward_part(const std::string& key, int num_layers) {
  const std::string layers = "decoder.layers.";
  if (key.rfind(layers, 0) == 0) return std::stoi(key.substr(layers.size()));
  if (key.rfind("embedding.", 0) == 0) return -1;
  return num_layers;  // final norm, output layer
}

struct GradReducer::BucketState {
  int group = 0;
  model::Bucket bucket;
  int pending = 0;  // parameters whose gradient is not final yet
  bool launched = false;
  comm::PendingCollective reduction;  // overlapped: in flight until finish()
};

GradReducer::GradReducer(const model::ParamBuffer& params, comm::Communicator& dp_cp, bool use_distributed_optimizer,
                         int num_layers)
    : params_(params), dp_cp_(dp_cp), sharded_(use_distributed_optimizer), num_layers_(num_layers) {
  const auto& groups = params_.groups();
  for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
    check(!groups[g].is_expert,
          "expert parameters (reduced over the expert data-parallel group) are not supported yet");
    check(groups[g].grad_dtype == DType::F32, "internal: gradient buffers are fp32");
    for (const auto& bucket : groups[g].buckets) {
      if (sharded_) bucket_shard(bucket, 0, dp_cp_.size());  // checks divisibility
      BucketState state;
      state.group = g;
      state.bucket = bucket;
      buckets_.push_back(std::move(state));
    }
  }
}

// Destroying the bucket states waits for any collective still in flight: never one on a buffer
// that is going away.
GradReducer::~GradReducer() = default;

void GradReducer::launch(BucketState& b) {
  b.launched = true;
  const int dp = dp_cp_.size();
  if (dp == 1) return;
  const Tensor& buffer = params_.groups()[b.group].grads;
  const Tensor grads = buffer.sub(b.bucket.begin, {b.bucket.numel()});
  // Megatron pre-scales by the gradient scaling factor 1/(dp·cp) and then sums: ReduceOp::average
  // (fused into the collective over NCCL).
  const comm::ReduceOp op = average_ ? comm::ReduceOp::average : comm::ReduceOp::sum;
  // Overlapped, the collective runs while backward goes on: nothing writes this bucket's
  // gradients any more, and nothing reads them before finish() waits.
  if (sharded_) {
    const ShardRange mine = bucket_shard(b.bucket, dp_cp_.rank(), dp);
    const Tensor owned = buffer.sub(mine.begin, {mine.numel()});
    if (overlapping_) {
      b.reduction = dp_cp_.reduce_scatter_async(grads, owned, op);
    } else {
      dp_cp_.reduce_scatter(grads, owned, op);
    }
  } else if (overlapping_) {
    b.reduction = dp_cp_.all_reduce_async(grads, op);
  } else {
    dp_cp_.all_reduce(grads, op);
  }
}

void GradReducer::reduce_gradients() {
  overlapping_ = false;
  for (auto& b : buckets_) launch(b);
  for (auto& b : buckets_) b.launched = false;
}

void GradReducer::start_overlap() {
  overlapping_ = true;
  launched_early_ = 0;
  for (auto& b : buckets_) {
    b.launched = false;
    b.pending = static_cast<int>(b.bucket.members.size());
  }
}

void GradReducer::part_ready(int part) {
  if (!overlapping_) return;
  // Buckets hold parameters in reverse registration order, so they fill up in order too.
  for (auto& b : buckets_) {
    if (b.launched) continue;
    for (int index : b.bucket.members)
      if (backward_part(params_.info(index).key, num_layers_) == part) --b.pending;
    if (b.pending == 0) {
      launch(b);
      ++launched_early_;
    }
  }
}

void GradReducer::finish() {
  for (auto& b : buckets_)
    if (!b.launched) launch(b);
  for (auto& b : buckets_) {
    b.reduction.wait();
    b.launched = false;
  }
  overlapping_ = false;
}

}  // namespace mcpp::parallel
