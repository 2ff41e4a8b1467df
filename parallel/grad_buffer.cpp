#include "parallel/grad_buffer.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"
#include "core/base/log.h"

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

namespace {

bool any_slice_launched(const std::vector<char>& launched) {
  return std::any_of(launched.begin(), launched.end(), [](char done) { return done != 0; });
}

bool all_slices_launched(const std::vector<char>& launched) {
  return std::all_of(launched.begin(), launched.end(), [](char done) { return done != 0; });
}

}  // namespace

struct GradReducer::BucketState {
  int group = 0;
  model::Bucket bucket;
  std::vector<int> member_parts;  // backward_part() of each member, in bucket.members order
  int pending = 0;  // parameters whose gradient is not final yet
  bool launched = false;  // the bucket's collective, or all its slices' reduces, started
  // Overlapped with the distributed optimizer, the buckets final at the tail of backward (where
  // nothing hides their collectives) are reduced slice by slice: as soon as every parameter
  // overlapping data-parallel rank r's slice is final, the slice is reduced onto rank r while
  // backward goes on. A bucket final all at once still gets one reduce-scatter.
  bool by_slice = false;
  std::vector<std::vector<int>> slice_parts;  // per slice: the parts of the members overlapping it
  std::vector<int> slice_pending;
  std::vector<char> slice_launched;
  std::vector<comm::PendingCollective> reductions;  // overlapped: in flight until finish()
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
      for (int index : bucket.members) state.member_parts.push_back(backward_part(params_.info(index).key, num_layers_));
      buckets_.push_back(std::move(state));
    }
  }
  if (sharded_ && dp_cp_.size() > 1) choose_slice_reduced_buckets();
}

// Destroying the bucket states waits for any collective still in flight: never one on a buffer
// that is going away.
GradReducer::~GradReducer() = default;

void GradReducer::choose_slice_reduced_buckets() {
  // Backward makes parts final from num_layers down to -1 (the embedding). The buckets holding
  // this chunk's first layer are final last: after them nothing but the embedding's backward
  // can hide a collective.
  int first_layer = -1;
  for (const auto& b : buckets_)
    for (int part : b.member_parts)
      if (part >= 0 && (first_layer < 0 || part < first_layer)) first_layer = part;
  const int dp = dp_cp_.size();
  for (auto& b : buckets_) {
    if (std::none_of(b.member_parts.begin(), b.member_parts.end(), [&](int part) { return part <= first_layer; }))
      continue;
    b.by_slice = true;
    b.slice_parts.assign(dp, {});
    for (size_t m = 0; m < b.bucket.members.size(); ++m) {
      const int index = b.bucket.members[m];
      const int64_t begin = params_.offset_of(index);
      const int64_t end = begin + params_.param(index).numel();
      for (int r = 0; r < dp; ++r) {
        const ShardRange slice = bucket_shard(b.bucket, r, dp);
        if (begin < slice.end && slice.begin < end) b.slice_parts[r].push_back(b.member_parts[m]);
      }
    }
    log::debug("data parallel: the bucket at elements [{}, {}) holds the first layer's gradients: its slices final "
               "before the rest are reduced onto their owners during backward",
               b.bucket.begin, b.bucket.end);
  }
}

comm::ReduceOp GradReducer::reduce_op() const {
  // Megatron pre-scales by the gradient scaling factor 1/(dp·cp) and then sums: ReduceOp::average
  // (fused into the collective over NCCL).
  return average_ ? comm::ReduceOp::average : comm::ReduceOp::sum;
}

void GradReducer::set_communication_dtype(DType dtype) {
  check(dtype == DType::F32 || dtype == DType::BF16,
        std::string("gradients are reduced in fp32 or bf16, not ") + dtype_name(dtype));
  bf16_wire_.clear();
  if (dtype == DType::F32 || dp_cp_.size() == 1) return;
  for (const auto& group : params_.groups())
    bf16_wire_.push_back(Tensor::empty(group.grads.shape(), DType::BF16, group.grads.device()));
}

const Tensor& GradReducer::wire(int group) const {
  return bf16_wire_.empty() ? params_.groups()[group].grads : bf16_wire_[group];
}

void GradReducer::to_wire(int group, int64_t begin, int64_t numel) const {
  if (bf16_wire_.empty()) return;
  bf16_wire_[group].sub(begin, {numel}).copy_from(params_.groups()[group].grads.sub(begin, {numel}));
}

void GradReducer::from_wire(const BucketState& b) const {
  if (bf16_wire_.empty()) return;
  const ShardRange kept = sharded_ ? bucket_shard(b.bucket, dp_cp_.rank(), dp_cp_.size())
                                   : ShardRange{b.bucket.begin, b.bucket.end};
  params_.groups()[b.group].grads.sub(kept.begin, {kept.numel()}).copy_from(
      bf16_wire_[b.group].sub(kept.begin, {kept.numel()}));
}

void GradReducer::launch(BucketState& b) {
  b.launched = true;
  const int dp = dp_cp_.size();
  if (dp == 1) return;
  to_wire(b.group, b.bucket.begin, b.bucket.numel());
  const Tensor& buffer = wire(b.group);
  const Tensor grads = buffer.sub(b.bucket.begin, {b.bucket.numel()});
  // Overlapped, the collective runs while backward goes on: nothing writes this bucket's
  // gradients any more, and nothing reads them before finish() waits.
  if (sharded_) {
    const ShardRange mine = bucket_shard(b.bucket, dp_cp_.rank(), dp);
    const Tensor owned = buffer.sub(mine.begin, {mine.numel()});
    if (overlapping_) {
      b.reductions.push_back(dp_cp_.reduce_scatter_async(grads, owned, reduce_op()));
    } else {
      dp_cp_.reduce_scatter(grads, owned, reduce_op());
    }
  } else if (overlapping_) {
    b.reductions.push_back(dp_cp_.all_reduce_async(grads, reduce_op()));
  } else {
    dp_cp_.all_reduce(grads, reduce_op());
  }
  if (!overlapping_) from_wire(b);
}

void GradReducer::launch_slice(BucketState& b, int slice) {
  b.slice_launched[slice] = 1;
  const ShardRange range = bucket_shard(b.bucket, slice, dp_cp_.size());
  to_wire(b.group, range.begin, range.numel());
  const Tensor grads = wire(b.group).sub(range.begin, {range.numel()});
  // Only the owner reads the slice afterwards (the optimizer steps its own shard).
  b.reductions.push_back(dp_cp_.reduce_async(grads, slice, reduce_op()));
  ++slices_launched_;
  b.launched = all_slices_launched(b.slice_launched);
}

void GradReducer::reduce_gradients() {
  overlapping_ = false;
  for (auto& b : buckets_) launch(b);
  for (auto& b : buckets_) b.launched = false;
}

void GradReducer::start_overlap() {
  overlapping_ = true;
  launched_early_ = 0;
  slices_launched_ = 0;
  for (auto& b : buckets_) {
    b.launched = false;
    b.pending = static_cast<int>(b.member_parts.size());
    if (!b.by_slice) continue;
    b.slice_pending.clear();
    for (const auto& parts : b.slice_parts) b.slice_pending.push_back(static_cast<int>(parts.size()));
    b.slice_launched.assign(b.slice_parts.size(), 0);
  }
}

void GradReducer::launch_final_slices(BucketState& b) {
  for (size_t r = 0; r < b.slice_parts.size(); ++r) {
    // A slice of padding only goes with the bucket's last parameters.
    const bool ready = b.slice_pending[r] == 0 && (!b.slice_parts[r].empty() || b.pending == 0);
    if (ready && !b.slice_launched[r]) launch_slice(b, static_cast<int>(r));
  }
}

void GradReducer::part_ready(int part) {
  if (!overlapping_) return;
  // Buckets hold parameters in reverse registration order, so they fill up in order too.
  for (auto& b : buckets_) {
    if (b.launched) continue;
    b.pending -= static_cast<int>(std::count(b.member_parts.begin(), b.member_parts.end(), part));
    for (size_t r = 0; r < b.slice_parts.size(); ++r)
      b.slice_pending[r] -= static_cast<int>(std::count(b.slice_parts[r].begin(), b.slice_parts[r].end(), part));
    // A bucket final all at once gets one reduce-scatter, whether it is reduced by slice or not.
    if (b.by_slice && (b.pending > 0 || any_slice_launched(b.slice_launched))) {
      launch_final_slices(b);
    } else if (b.pending == 0) {
      launch(b);
    }
    if (b.launched) ++launched_early_;
  }
}

void GradReducer::finish() {
  for (auto& b : buckets_) {
    if (b.launched) continue;
    if (b.by_slice && overlapping_ && any_slice_launched(b.slice_launched)) {
      for (size_t r = 0; r < b.slice_launched.size(); ++r)
        if (!b.slice_launched[r]) launch_slice(b, static_cast<int>(r));
    } else {
      launch(b);
    }
  }
  for (auto& b : buckets_) {
    for (auto& reduction : b.reductions) reduction.wait();
    if (!b.reductions.empty()) from_wire(b);
    b.reductions.clear();
    b.launched = false;
  }
  overlapping_ = false;
}

}  // namespace mcpp::parallel
