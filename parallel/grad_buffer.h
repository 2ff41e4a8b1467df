#pragma once
// Data-parallel gradient reduction over the model's contiguous grad buffers (Megatron's
// DistributedDataParallel + _ParamAndGradBuffer, compat §6.1 and §6.3 step 2). The buffers and
// their buckets are laid out by model::ParamBuffer from ddp_buffer_layout(); this class reduces
// them after the last micro-batch's backward: every bucket is scaled by 1/(dp·cp) and
// SUM-all-reduced over the DP×CP group, or SUM-reduce-scattered with the distributed optimizer
// (then only this rank's slice of each bucket, see bucket_shard(), holds the reduced gradient).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/model/param_buffer.h"

namespace mcpp::parallel {

struct DdpOptions {
  bool use_distributed_optimizer = false;  // --use-distributed-optimizer
  bool overlap_grad_reduce = false;        // --overlap-grad-reduce (sets the default bucket size)
  std::optional<int64_t> bucket_size;      // --ddp-bucket-size (elements)
  int dp_cp_size = 1;                      // ranks that hold replicas of the same parameters
  bool tied_embedding_own_bucket = false;  // pp > 1 with tied embeddings and dist-opt (§4.4)
  bool pad_for_high_nccl_busbw = false;    // --ddp-pad-buckets-for-high-nccl-busbw
};

// Megatron's bucket size: --ddp-bucket-size, else max(40M, 1M·dp·cp) elements, and no limit (one
// bucket per buffer) without --overlap-grad-reduce. 0 means no limit.
int64_t ddp_bucket_size(const DdpOptions& options);

// The buffer layout DDP needs: with the distributed optimizer parameter starts aligned to 64
// elements and bucket ends padded to lcm(dp·cp, 128).
model::BufferLayout ddp_buffer_layout(const DdpOptions& options);

// Elements [begin, end) of one bucket that data-parallel rank `dp_rank` owns (compat §6.2).
struct ShardRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t numel() const { return end - begin; }
};
ShardRange bucket_shard(const model::Bucket& bucket, int dp_rank, int dp_size);

// Which backward part (GPTModel::set_backward_hook) makes a parameter's gradient final:
// the transformer layer index, num_layers for the final norm and output layer, -1 for the
// embedding (which, tied, also receives the output layer's gradient).
int backward_part(const std::string& key, int num_layers);

class GradReducer {
 public:
  // `dp_cp` reduces the dense buffers; expert buffers are not supported yet (checked).
  // `num_layers`: the model's total layer count (for backward_part()).
  GradReducer(const model::ParamBuffer& params, comm::Communicator& dp_cp, bool use_distributed_optimizer,
              int num_layers = 0);
  ~GradReducer();

  // Synchronous: after the last micro-batch's backward, scale and reduce every bucket in buffer
  // order (the order gradients become ready).
  void reduce_gradients();

  // Overlapped (--overlap-grad-reduce): call start_overlap() before the LAST micro-batch's
  // backward with the model's hook routed to part_ready() (model.set_backward_hook), then
  // finish() after it. A bucket's collective is launched (the communicator's *_async form) as
  // soon as every parameter in it is final; finish() launches any left and waits for all. Over
  // MPI the collectives progress during backward and finish() blocks the host; over NCCL they run
  // on the communicator's stream beside the backward kernels and finish() makes the compute
  // stream wait for them, so the optimizer (which reads the reduced shards) comes after.
  void start_overlap();
  void part_ready(int part);
  void finish();

  bool sharded() const { return sharded_; }
  // false: buckets are summed without the 1/(dp·cp) pre-scaling (--calculate-per-token-loss,
  // where the caller divides by the global token count instead). Default true.
  void set_average(bool average) { average_ = average; }
  // BF16 (--grad-reduce-in-bf16): each bucket (or slice) is rounded into a bf16 copy of the
  // gradient buffer for its collective, half the bytes of fp32, and the reduced values this rank
  // keeps are widened back into the fp32 buffer. Gradients still accumulate in fp32. F32 (the
  // default) reduces the fp32 buffer in place.
  void set_communication_dtype(DType dtype);
  // Buckets launched from part_ready() (during backward) in the last overlapped reduction.
  int launched_during_backward() const { return launched_early_; }
  // Slices reduced onto their owners one by one in the last overlapped reduction (see below).
  int slices_reduced_separately() const { return slices_launched_; }

 private:
  struct BucketState;
  // With the distributed optimizer over several ranks, overlapped: the buckets holding the
  // chunk's first layer (final last, with the embedding's) are reduced slice by slice, each
  // rank's slice onto it (Communicator::reduce) as soon as that slice's parameters are final.
  // Their earlier slices then travel during backward instead of after it.
  void choose_slice_reduced_buckets();
  comm::ReduceOp reduce_op() const;
  // What group g's collectives move: its fp32 gradients, or their bf16 copy.
  const Tensor& wire(int group) const;
  // Rounds elements [begin, begin + numel) of group g's gradients into the bf16 copy (if any).
  void to_wire(int group, int64_t begin, int64_t numel) const;
  // After a bucket's collectives: the reduced values this rank keeps (its slice with the
  // distributed optimizer, else the bucket) widened back into the fp32 gradients (if bf16).
  void from_wire(const BucketState& bucket) const;
  void launch(BucketState& bucket);
  void launch_slice(BucketState& bucket, int slice);
  void launch_final_slices(BucketState& bucket);

  const model::ParamBuffer& params_;
  comm::Communicator& dp_cp_;
  bool sharded_;
  bool average_ = true;
  int num_layers_;
  std::vector<BucketState> buckets_;
  std::vector<Tensor> bf16_wire_;  // per group: the bf16 copies; empty when reducing fp32
  bool overlapping_ = false;
  int launched_early_ = 0;
  int slices_launched_ = 0;
};

}  // namespace mcpp::parallel
