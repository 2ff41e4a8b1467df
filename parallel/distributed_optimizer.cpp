#include "parallel/distributed_optimizer.h"

#include <cmath>

#include "core/base/error.h"
#include "core/kernels/elementwise.h"
#include "core/optim/grad_norm.h"
#ifdef MCPP_HAVE_CUDA
#include "core/optim/cuda/optimizer_kernels.h"
#endif

namespace mcpp::parallel {

namespace {

template <typename Keep>
std::vector<optim::ElementRange> member_ranges(const model::ParamBuffer& params, int group, Keep keep) {
  std::vector<optim::ElementRange> ranges;
  for (int index : params.groups()[group].members) {  // layout order: increasing offsets
    if (!keep(params.info(index))) continue;
    const size_t begin = static_cast<size_t>(params.offset_of(index));
    ranges.push_back({begin, begin + static_cast<size_t>(params.info(index).local_numel())});
  }
  return ranges;
}

std::span<float> span_of(const Tensor& buffer, const ShardRange& range) {
  return {buffer.data<float>() + range.begin, static_cast<size_t>(range.numel())};
}

Tensor view_of(const Tensor& buffer, const ShardRange& range) { return buffer.sub(range.begin, {range.numel()}); }

// The no-decay ranges of a shard as a U8 mask on `device` (1 = decays), for the GPU kernel.
Tensor decay_mask(int64_t numel, const std::vector<optim::ElementRange>& no_decay, Device device) {
  Tensor host = Tensor::empty({numel}, DType::U8);
  uint8_t* mask = host.data<uint8_t>();
  std::fill_n(mask, numel, uint8_t{1});
  for (const auto& range : no_decay) std::fill(mask + range.begin, mask + range.end, uint8_t{0});
  Tensor out = Tensor::empty({numel}, DType::U8, device);
  out.copy_from(host);
  return out;
}

}  // namespace

std::vector<optim::ElementRange> no_decay_ranges(const model::ParamBuffer& params, int group) {
  return member_ranges(params, group, [](const model::ParamInfo& info) { return info.no_weight_decay; });
}

std::vector<optim::ElementRange> grad_norm_ranges(const model::ParamBuffer& params, int group, int tp_rank) {
  return member_ranges(params, group, [&](const model::ParamInfo& info) {
    return !info.shared && (info.tp_split_dim >= 0 || tp_rank == 0);
  });
}

DistributedOptimizer::DistributedOptimizer(const model::ParamBuffer& params, comm::Communicator& dp_cp,
                                           comm::Communicator& grad_stats, int tp_rank,
                                           const OptimizerOptions& options)
    : params_(params), dp_cp_(dp_cp), grad_stats_(grad_stats), options_(options) {
  const auto& groups = params_.groups();
  for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
    check(groups[g].param_dtype == DType::F32 && groups[g].grad_dtype == DType::F32,
          "the optimizer updates fp32 parameters in place; bf16/fp16 main-parameter copies are not supported yet");
    const auto no_decay = no_decay_ranges(params_, g);
    const auto counted = grad_norm_ranges(params_, g, tp_rank);
    for (int b = 0; b < static_cast<int>(groups[g].buckets.size()); ++b) {
      const model::Bucket& bucket = groups[g].buckets[b];
      Shard shard;
      shard.group = g;
      shard.bucket = b;
      shard.range = options_.use_distributed_optimizer ? bucket_shard(bucket, dp_cp_.rank(), dp_cp_.size())
                                                       : ShardRange{bucket.begin, bucket.end};
      const Device device = groups[g].params.device();
      shard.exp_avg = Tensor::zeros({shard.range.numel()}, DType::F32, device);
      shard.exp_avg_sq = Tensor::zeros({shard.range.numel()}, DType::F32, device);
      shard.no_decay = optim::slice_ranges(no_decay, shard.range.begin, shard.range.numel());
      if (device == Device::CUDA) shard.decay_mask = decay_mask(shard.range.numel(), shard.no_decay, device);
      shard.counted = optim::slice_ranges(counted, shard.range.begin, shard.range.numel());
      shards_.push_back(std::move(shard));
    }
  }
}

double DistributedOptimizer::grad_norm() const {
  double local = 0.0;
  for (const Shard& shard : shards_) {
    const Tensor& grads = params_.groups()[shard.group].grads;
    if (grads.device() == Device::CPU) {
      const std::span<float> grad = span_of(grads, shard.range);
      for (const auto& r : shard.counted) local += optim::sum_of_squares(grad.subspan(r.begin, r.end - r.begin));
      continue;
    }
    for (const auto& r : shard.counted) {
      const int64_t begin = shard.range.begin + static_cast<int64_t>(r.begin);
      local += core::sum_of_squares(grads.sub(begin, {static_cast<int64_t>(r.end - r.begin)}));
    }
  }
  // Summed in fp32 over ranks as Megatron does (a float tensor all-reduce), on the buffers' device
  // (the group's communicator may be NCCL).
  Tensor total = Tensor::empty({1});
  total.data<float>()[0] = static_cast<float>(local);
  if (params_.device() != Device::CPU) {
    Tensor on_device = Tensor::empty({1}, DType::F32, params_.device());
    on_device.copy_from(total);
    grad_stats_.all_reduce(on_device, comm::ReduceOp::sum);
    total.copy_from(on_device);
  } else {
    grad_stats_.all_reduce(total, comm::ReduceOp::sum);
  }
  return optim::norm_from_sum_of_squares(total.data<float>()[0]);
}

double DistributedOptimizer::step(const optim::AdamStep& step) {
  const double norm = grad_norm();
  if (!std::isfinite(norm)) return norm;  // every rank sees the same norm: all skip together
  const float coefficient = static_cast<float>(optim::clip_coefficient(options_.clip_grad, norm));
  for (Shard& shard : shards_) {
    const auto& group = params_.groups()[shard.group];
    if (group.grads.device() != Device::CPU) {
      step_on_gpu(shard, step, coefficient);
      continue;
    }
    const std::span<float> grad = span_of(group.grads, shard.range);
    optim::scale_in_place(grad, coefficient);
    optim::adamw_update(options_.adam, step, span_of(group.params, shard.range), grad,
                        {shard.exp_avg.data<float>(), static_cast<size_t>(shard.range.numel())},
                        {shard.exp_avg_sq.data<float>(), static_cast<size_t>(shard.range.numel())}, shard.no_decay);
  }
  if (options_.use_distributed_optimizer && dp_cp_.size() > 1) {
    for (const Shard& shard : shards_) {
      const auto& group = params_.groups()[shard.group];
      const model::Bucket& bucket = group.buckets[shard.bucket];
      dp_cp_.all_gather(group.params.sub(shard.range.begin, {shard.range.numel()}),
                        group.params.sub(bucket.begin, {bucket.numel()}));
    }
  }
  return norm;
}

void DistributedOptimizer::step_on_gpu(Shard& shard, const optim::AdamStep& step, float clip_coefficient) {
  const auto& group = params_.groups()[shard.group];
  const Tensor grad = view_of(group.grads, shard.range);
  if (clip_coefficient != 1.0f) core::scale(grad, clip_coefficient);
#ifdef MCPP_HAVE_CUDA
  optim::cuda::adamw_update(options_.adam, step, view_of(group.params, shard.range), grad, shard.exp_avg,
                            shard.exp_avg_sq, shard.decay_mask);
#else
  (void)step;
  throw Error("internal: a CUDA optimizer step in a build without CUDA");
#endif
}

}  // namespace mcpp::parallel
