#include "app/optimizer.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/optim/grad_norm.h"
#include "core/optim/sgd.h"

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
    check(groups[g].params.dtype() == DType::F32,
          "internal: the CPU optimizer expects fp32 parameters");
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
  for (int i = 0; i < params_.size(); ++i) {
    if (params_.info(i).shared) continue;  // a tied duplicate is counted once, on its owner
    total += optim::sum_of_squares(flat(params_.grad(i)));
  }
  return total;
}

bool Optimizer::grads_have_nan_or_inf() const {
  for (const auto& group : params_.groups()) {
    if (optim::has_nan_or_inf(flat(group.grads))) return true;
  }
  return false;
}

void Optimizer::scale_grads(float factor) {
  for (const auto& group : params_.groups()) optim::scale_in_place(flat(group.grads), factor);
}

void Optimizer::step(double lr, double weight_decay) {
  ++steps_;
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
}

}  // namespace mcpp::app
