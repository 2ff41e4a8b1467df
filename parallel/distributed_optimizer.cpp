#include "parallel/distributed_optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "core/kernels/elementwise.h"
#include "core/optim/grad_norm.h"
#include "core/optim/sgd.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
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
      if (!options_.sgd) shard.exp_avg_sq = Tensor::zeros({shard.range.numel()}, DType::F32, device);
      shard.no_decay = optim::slice_ranges(no_decay, shard.range.begin, shard.range.numel());
      if (device == Device::CUDA) {
        shard.decay_mask =
            optim::decay_mask_tensor(static_cast<size_t>(shard.range.numel()), shard.no_decay, device);
      }
      shard.counted = optim::slice_ranges(counted, shard.range.begin, shard.range.numel());
      shards_.push_back(std::move(shard));
    }
  }
  for (int i = 0; i < static_cast<int>(shards_.size()); ++i) update_order_.push_back(i);
}

void DistributedOptimizer::set_update_order(const std::vector<std::pair<int, int>>& order,
                                            std::function<void(int, int)> updated) {
  // Every rank has one shard per bucket, so every rank calls `updated` for the same buckets in
  // the same order (the gathers are collectives).
  check(order.size() == shards_.size(), "internal: the update order does not list every bucket once");
  update_order_.clear();
  for (const auto& [group, bucket] : order) {
    const auto shard = std::find_if(shards_.begin(), shards_.end(),
                                    [&](const Shard& s) { return s.group == group && s.bucket == bucket; });
    check(shard != shards_.end(), "internal: the update order names a bucket the optimizer does not have");
    update_order_.push_back(static_cast<int>(shard - shards_.begin()));
  }
  bucket_updated_ = std::move(updated);
}

double DistributedOptimizer::local_sum_of_squares() const {
  double local = 0.0;
  std::vector<Tensor> device_parts;  // summed in one device pass (one synchronisation)
  for (const Shard& shard : shards_) {
    const Tensor& grads = params_.groups()[shard.group].grads;
    if (grads.device() == Device::CPU) {
      const std::span<float> grad = span_of(grads, shard.range);
      for (const auto& r : shard.counted) local += optim::sum_of_squares(grad.subspan(r.begin, r.end - r.begin));
      continue;
    }
    for (const auto& r : shard.counted) {
      const int64_t begin = shard.range.begin + static_cast<int64_t>(r.begin);
      device_parts.push_back(grads.sub(begin, {static_cast<int64_t>(r.end - r.begin)}));
    }
  }
  if (!device_parts.empty()) local += core::sum_of_squares(device_parts);
  return local;
}

namespace {

// All-reduces one fp32 value over `group` on `device` (the group's communicator may be NCCL).
float all_reduce_scalar(comm::Communicator& group, float value, Device device, comm::ReduceOp op) {
  Tensor total = Tensor::empty({1});
  total.data<float>()[0] = value;
  if (device != Device::CPU) {
    Tensor on_device = Tensor::empty({1}, DType::F32, device);
    on_device.copy_from(total);
    group.all_reduce(on_device, op);
    total.copy_from(on_device);
  } else {
    group.all_reduce(total, op);
  }
  return total.data<float>()[0];
}

double global_norm(const std::vector<const DistributedOptimizer*>& optimizers) {
  double local = 0.0;
  for (const DistributedOptimizer* optimizer : optimizers) local += optimizer->local_sum_of_squares();
  // Summed in fp32 over ranks as Megatron does (a float tensor all-reduce).
  const DistributedOptimizer& first = *optimizers.front();
  return optim::norm_from_sum_of_squares(
      all_reduce_scalar(first.grad_stats(), static_cast<float>(local), first.device(), comm::ReduceOp::sum));
}

}  // namespace

double DistributedOptimizer::grad_norm() const { return global_norm({this}); }

void DistributedOptimizer::update(const optim::AdamStep& step, float coefficient) {
  for (int index : update_order_) {
    Shard& shard = shards_[index];
    update_shard(shard, step, coefficient);
    if (bucket_updated_) bucket_updated_(shard.group, shard.bucket);
  }
  // Only GPU models have a compute copy (GPTModel), and step_on_gpu wrote this rank's slices of it.
  if (options_.use_distributed_optimizer && !options_.overlap_param_gather && dp_cp_.size() > 1) {
    for (const Shard& shard : shards_) {
      const auto& group = params_.groups()[shard.group];
      const model::Bucket& bucket = group.buckets[shard.bucket];
      const Tensor& gathered = gathered_params(group);
      dp_cp_.all_gather(gathered.sub(shard.range.begin, {shard.range.numel()}),
                        gathered.sub(bucket.begin, {bucket.numel()}));
    }
  }
}

void DistributedOptimizer::update_shard(Shard& shard, const optim::AdamStep& step, float coefficient) {
  const auto& group = params_.groups()[shard.group];
  if (group.grads.device() != Device::CPU) {
    step_on_gpu(shard, step, coefficient);
    return;
  }
  const std::span<float> grad = span_of(group.grads, shard.range);
  optim::scale_in_place(grad, coefficient);
  const std::span<float> first_moment{shard.exp_avg.data<float>(), static_cast<size_t>(shard.range.numel())};
  if (options_.sgd) {
    const optim::SgdStep sgd{step.lr, step.weight_decay, options_.sgd_momentum, step.step};
    optim::sgd_update(sgd, span_of(group.params, shard.range), grad, first_moment, shard.no_decay);
    return;
  }
  optim::adamw_update(options_.adam, step, span_of(group.params, shard.range), grad, first_moment,
                      {shard.exp_avg_sq.data<float>(), static_cast<size_t>(shard.range.numel())}, shard.no_decay);
}

const Tensor& gathered_params(const model::ParamBufferGroup& group) {
  return group.compute_params.defined() ? group.compute_params : group.params;
}

void DistributedOptimizer::gather_main_params() {
  if (!options_.use_distributed_optimizer || dp_cp_.size() == 1) return;
  for (const Shard& shard : shards_) {
    const auto& group = params_.groups()[shard.group];
    if (!group.compute_params.defined()) continue;  // the step's gather was of these very values
    const model::Bucket& bucket = group.buckets[shard.bucket];
    dp_cp_.all_gather(group.params.sub(shard.range.begin, {shard.range.numel()}),
                      group.params.sub(bucket.begin, {bucket.numel()}));
  }
}

double DistributedOptimizer::step(const optim::AdamStep& step) { return step_together({this}, step); }

std::vector<std::string> DistributedOptimizer::state_names() const {
  if (options_.sgd) return {"momentum_buffer"};
  return {"exp_avg", "exp_avg_sq"};
}

bool DistributedOptimizer::unscale_and_find_inf(float inverse_scale) {
  bool found = false;
  for (const Shard& shard : shards_) {
    const Tensor& grads = params_.groups()[shard.group].grads;
    if (grads.device() != Device::CPU) {
#ifdef MCPP_HAVE_CUDA
      const Tensor grad = view_of(grads, shard.range);
      core::scale(grad, inverse_scale);
      found |= optim::cuda::has_nan_or_inf(grad);
      continue;
#else
      throw Error("internal: device gradient buffers in a build without CUDA");
#endif
    }
    const std::span<float> grad = span_of(grads, shard.range);
    optim::scale_in_place(grad, inverse_scale);
    for (float g : grad) found |= !std::isfinite(g);
  }
  return found;
}

bool unscale_together(const std::vector<DistributedOptimizer*>& optimizers, float inverse_scale) {
  check(!optimizers.empty(), "internal: no optimizer to unscale");
  bool found = false;
  for (DistributedOptimizer* optimizer : optimizers) found |= optimizer->unscale_and_find_inf(inverse_scale);
  const DistributedOptimizer& first = *optimizers.front();
  return all_reduce_scalar(first.grad_stats(), found ? 1.0f : 0.0f, first.device(), comm::ReduceOp::max) > 0.0f;
}

double step_together(const std::vector<DistributedOptimizer*>& optimizers, const optim::AdamStep& step) {
  check(!optimizers.empty(), "internal: no optimizer to step");
  const double norm = global_norm({optimizers.begin(), optimizers.end()});
  if (!std::isfinite(norm)) return norm;  // every rank sees the same norm: all skip together
  // Clip with the shared options of the first (every chunk's optimizer has the same).
  const float coefficient = static_cast<float>(optim::clip_coefficient(optimizers.front()->clip_grad(), norm));
  for (DistributedOptimizer* optimizer : optimizers) optimizer->update(step, coefficient);
  return norm;
}

void DistributedOptimizer::step_on_gpu(Shard& shard, const optim::AdamStep& step, float clip_coefficient) {
  const auto& group = params_.groups()[shard.group];
  const Tensor grad = view_of(group.grads, shard.range);
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("optimizer_step");
  const Tensor compute_copy =
      group.compute_params.defined() ? view_of(group.compute_params, shard.range) : Tensor();
  if (options_.sgd) {
    // As on the host: the gradient slice is clipped in place first, then SGD updates the slice.
    if (clip_coefficient != 1.0f) core::scale(grad, clip_coefficient);
    const optim::SgdStep sgd{step.lr, step.weight_decay, options_.sgd_momentum, step.step};
    optim::cuda::sgd_update(sgd, view_of(group.params, shard.range), grad, shard.exp_avg, shard.decay_mask);
    if (compute_copy.defined()) compute_copy.copy_from(view_of(group.params, shard.range));
    return;
  }
  // The clip coefficient is applied inside the update, which also writes the slice's compute copy.
  optim::cuda::adamw_update(options_.adam, step, view_of(group.params, shard.range), grad, shard.exp_avg,
                            shard.exp_avg_sq, shard.decay_mask, clip_coefficient, compute_copy);
#else
  (void)step;
  throw Error("internal: a CUDA optimizer step in a build without CUDA");
#endif
}

}  // namespace mcpp::parallel
