#include "parallel/distributed_optimizer.h"

#include <cmath>

#include "core/base/error.h"
#include "core/optim/grad_norm.h"
#include "core/optim/sgd.h"

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
      shard.exp_avg = Tensor::zeros({shard.range.numel()});
      if (!options_.sgd) shard.exp_avg_sq = Tensor::zeros({shard.range.numel()});
      shard.no_decay = optim::slice_ranges(no_decay, shard.range.begin, shard.range.numel());
      shard.counted = optim::slice_ranges(counted, shard.range.begin, shard.range.numel());
      shards_.push_back(std::move(shard));
    }
  }
}

double DistributedOptimizer::local_sum_of_squares() const {
  double local = 0.0;
  for (const Shard& shard : shards_) {
    const std::span<float> grad = span_of(params_.groups()[shard.group].grads, shard.range);
    for (const auto& r : shard.counted) local += optim::sum_of_squares(grad.subspan(r.begin, r.end - r.begin));
  }
  return local;
}

namespace {

double global_norm(const std::vector<const DistributedOptimizer*>& optimizers) {
  double local = 0.0;
  for (const DistributedOptimizer* optimizer : optimizers) local += optimizer->local_sum_of_squares();
  // Summed in fp32 over ranks as Megatron does (a float tensor all-reduce).
  Tensor total = Tensor::zeros({1});
  total.data<float>()[0] = static_cast<float>(local);
  optimizers.front()->grad_stats().all_reduce(total, comm::ReduceOp::sum);
  return optim::norm_from_sum_of_squares(total.data<float>()[0]);
}

}  // namespace

double DistributedOptimizer::grad_norm() const { return global_norm({this}); }

void DistributedOptimizer::update(const optim::AdamStep& step, float coefficient) {
  for (Shard& shard : shards_) {
    const auto& group = params_.groups()[shard.group];
    const std::span<float> grad = span_of(group.grads, shard.range);
    optim::scale_in_place(grad, coefficient);
    const std::span<float> first_moment{shard.exp_avg.data<float>(), static_cast<size_t>(shard.range.numel())};
    if (options_.sgd) {
      const optim::SgdStep sgd{step.lr, step.weight_decay, options_.sgd_momentum, step.step};
      optim::sgd_update(sgd, span_of(group.params, shard.range), grad, first_moment, shard.no_decay);
      continue;
    }
    optim::adamw_update(options_.adam, step, span_of(group.params, shard.range), grad, first_moment,
                        {shard.exp_avg_sq.data<float>(), static_cast<size_t>(shard.range.numel())}, shard.no_decay);
  }
  if (options_.use_distributed_optimizer && !options_.overlap_param_gather && dp_cp_.size() > 1) {
    for (const Shard& shard : shards_) {
      const auto& group = params_.groups()[shard.group];
      const model::Bucket& bucket = group.buckets[shard.bucket];
      dp_cp_.all_gather(group.params.sub(shard.range.begin, {shard.range.numel()}),
                        group.params.sub(bucket.begin, {bucket.numel()}));
    }
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
    const std::span<float> grad = span_of(params_.groups()[shard.group].grads, shard.range);
    optim::scale_in_place(grad, inverse_scale);
    for (float g : grad) found |= !std::isfinite(g);
  }
  return found;
}

bool unscale_together(const std::vector<DistributedOptimizer*>& optimizers, float inverse_scale) {
  check(!optimizers.empty(), "internal: no optimizer to unscale");
  bool found = false;
  for (DistributedOptimizer* optimizer : optimizers) found |= optimizer->unscale_and_find_inf(inverse_scale);
  Tensor flag = Tensor::zeros({1});
  flag.data<float>()[0] = found ? 1.0f : 0.0f;
  optimizers.front()->grad_stats().all_reduce(flag, comm::ReduceOp::max);
  return flag.data<float>()[0] > 0.0f;
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

}  // namespace mcpp::parallel
