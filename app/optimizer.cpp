#include "app/optimizer.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/optim/grad_norm.h"
#include "core/kernels/elementwise.h"
#include "core/optim/sgd.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/optim/cuda/optimizer_kernels.h"
#endif

namespace mcpp::app {
namespace {

std::span<float> flat(const Tensor& t) { return {t.data<float>(), static_cast<size_t>(t.numel())}; }


}  // namespace

Optimizer::Optimizer(model::ParamBuffer& params, OptimizerSettings settings)
    : params_(params), settings_(std::move(settings)) {
  check(settings_.kind == "adam" || settings_.kind == "sgd",
        "--optimizer " + settings_.kind + " is not supported (use adam or sgd)");
  const auto& groups = params_.groups();
  group_states_.resize(groups.size());
  no_decay_.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    check(groups[g].params.dtype() == DType::F32, "internal: the optimizer expects fp32 main parameters");
    for (size_t s = 0; s < state_names().size(); ++s) {
      group_states_[g].push_back(Tensor::zeros(groups[g].params.shape(), DType::F32, groups[g].params.device()));
    }
    for (int index : groups[g].members) {
      if (!params_.info(index).no_weight_decay) continue;
      const auto begin = static_cast<size_t>(params_.offset_of(index));
      no_decay_[g].push_back({begin, begin + static_cast<size_t>(params_.info(index).local_numel())});
    }
    std::sort(no_decay_[g].begin(), no_decay_[g].end(),
              [](const auto& a, const auto& b) { return a.begin < b.begin; });
    if (on_gpu()) {
      decay_masks_.push_back(
          optim::decay_mask_tensor(static_cast<size_t>(groups[g].params.numel()), no_decay_[g], Device::CUDA));
    }
  }
}

std::vector<std::string> Optimizer::state_names() const {
  if (settings_.kind == "sgd") return {"momentum_buffer"};
  return {"exp_avg", "exp_avg_sq"};
}

Tensor Optimizer::state(const std::string& name, int index) const {
  const auto names = state_names();
  auto it = std::find(names.begin(), names.end(), name);
  check(it != names.end(), "internal: unknown optimizer state " + name);
  const Tensor& buffer = group_states_[params_.group_of(index)][it - names.begin()];
  return buffer.sub(params_.offset_of(index), params_.param(index).shape());
}

double Optimizer::grad_sum_of_squares() const {
  double total = 0;
  if (on_gpu()) {
    // One reduction per buffer group (padding is zero) unless a tied duplicate lives in it.
    bool whole_groups = true;
    for (int i = 0; i < params_.size(); ++i) whole_groups &= !params_.info(i).shared;
    if (whole_groups) {
      for (const auto& group : params_.groups()) total += core::sum_of_squares(group.grads);
      return total;
    }
  }
  for (int i = 0; i < params_.size(); ++i) {
    if (params_.info(i).shared) continue;  // a tied duplicate is counted once, on its owner
    total += on_gpu() ? core::sum_of_squares(params_.grad(i)) : optim::sum_of_squares(flat(params_.grad(i)));
  }
  return total;
}

bool Optimizer::grads_have_nan_or_inf() const {
  for (const auto& group : params_.groups()) {
#ifdef MCPP_HAVE_CUDA
    if (on_gpu() && optim::cuda::has_nan_or_inf(group.grads)) return true;
#endif
    if (!on_gpu() && optim::has_nan_or_inf(flat(group.grads))) return true;
  }
  return false;
}

void Optimizer::scale_grads(float factor) {
  for (const auto& group : params_.groups()) {
    if (on_gpu())
      core::scale(group.grads, factor);
    else
      optim::scale_in_place(flat(group.grads), factor);
  }
}

void Optimizer::step(double lr, double weight_decay, float grad_scale) {
  ++steps_;
  if (on_gpu()) {
    // One fused pass per group: clip scaling, the update and the compute copy.
    for (size_t g = 0; g < params_.groups().size(); ++g) step_on_gpu(g, lr, weight_decay, grad_scale);
    return;
  }
  if (grad_scale != 1.0f) scale_grads(grad_scale);
  const auto& groups = params_.groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    if (settings_.kind == "adam") {
      const optim::AdamStep step{static_cast<float>(lr), static_cast<float>(weight_decay), steps_};
      optim::adamw_update(settings_.adam, step, flat(groups[g].params), flat(groups[g].grads),
                          flat(group_states_[g][0]), flat(group_states_[g][1]), no_decay_[g]);
    } else {
      const optim::SgdStep step{static_cast<float>(lr), static_cast<float>(weight_decay),
                                settings_.sgd_momentum, steps_};
      optim::sgd_update(step, flat(groups[g].params), flat(groups[g].grads),
                        flat(group_states_[g][0]), no_decay_[g]);
    }
  }
  params_.sync_compute_params();  // the layers' bf16/fp16 copy (mixed precision)
}

void Optimizer::step_on_gpu(size_t g, double lr, double weight_decay, float grad_scale) {
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("optimizer_step");
  const auto& group = params_.groups()[g];
  if (settings_.kind == "adam") {
    const optim::AdamStep step{static_cast<float>(lr), static_cast<float>(weight_decay), steps_};
    const DType copy_dtype = group.compute_params.defined() ? group.compute_params.dtype() : DType::F32;
    const bool half_copy = copy_dtype == DType::BF16 || copy_dtype == DType::F16;
    optim::cuda::adamw_update(settings_.adam, step, group.params, group.grads, group_states_[g][0],
                              group_states_[g][1], decay_masks_[g], grad_scale,
                              half_copy ? group.compute_params : Tensor());
    if (group.compute_params.defined() && !half_copy) group.compute_params.copy_from(group.params);
  } else {
    if (grad_scale != 1.0f) core::scale(group.grads, grad_scale);
    const optim::SgdStep step{static_cast<float>(lr), static_cast<float>(weight_decay), settings_.sgd_momentum,
                              steps_};
    optim::cuda::sgd_update(step, group.params, group.grads, group_states_[g][0], decay_masks_[g]);
    if (group.compute_params.defined()) group.compute_params.copy_from(group.params);
  }
#else
  (void)g, (void)lr, (void)weight_decay, (void)grad_scale;
  throw Error("internal: a CUDA optimizer step in a build without CUDA");
#endif
}

}  // namespace mcpp::app
