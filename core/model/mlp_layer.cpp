#include "core/model/mlp_layer.h"

#include <utility>

#include "core/kernels/elementwise.h"
#include "core/kernels/gelu.h"
#include "core/kernels/linear.h"
#include "core/kernels/swiglu.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

MlpLayer::MlpLayer(const ModelConfig& config, const ParallelContext& parallel, MlpParams params)
    : parallel_(parallel), swiglu_(config.swiglu), params_(std::move(params)) {}

Tensor MlpLayer::forward(const Tensor& x, const Tensor& residual) {
  saved_.x = enter_column_parallel(parallel_, x);
  const int64_t s = saved_.x.dim(0), b = saved_.x.dim(1), h = saved_.x.dim(2);
  const int64_t rows = params_.fc1_weight.value.dim(0);
  const int64_t width = swiglu_ ? rows / 2 : rows;
  saved_.fc1_out = Tensor::empty({s, b, rows}, x.dtype(), x.device());
  saved_.activation = Tensor::empty({s, b, width}, x.dtype(), x.device());
  if (swiglu_) {
    core::linear_forward(saved_.x, params_.fc1_weight.value, params_.fc1_bias.value, saved_.fc1_out);
    core::swiglu_forward(saved_.fc1_out, saved_.activation);
  } else {
    core::linear_gelu_forward(saved_.x, params_.fc1_weight.value, params_.fc1_bias.value, saved_.fc1_out,
                              saved_.activation);
  }
  Tensor partial = Tensor::empty({s, b, h}, x.dtype(), x.device());
  const Tensor& fc2_bias = params_.fc2_bias.value;
  const bool fold_bias = fold_row_parallel_bias(parallel_, partial);
  if (fold_bias && residual.defined()) {
    core::linear_residual_forward(saved_.activation, params_.fc2_weight.value, fc2_bias, residual, partial);
    return leave_row_parallel(parallel_, partial);
  }
  core::linear_forward(saved_.activation, params_.fc2_weight.value, fold_bias ? fc2_bias : Tensor(), partial);
  Tensor out = leave_row_parallel(parallel_, partial);
  if (fc2_bias.defined() && !fold_bias) core::bias_add(out, fc2_bias, out);
  if (residual.defined()) core::add(residual, out, out);
  return out;
}

Tensor MlpLayer::backward(const Tensor& dy_local, DeferredWeightGrads* deferred) {
  // Where the forward folded the bias into the GEMM, its gradient comes from the weight-gradient
  // GEMM (one pass over dy).
  const bool bias_grad_in_linear = fold_row_parallel_bias(parallel_, dy_local);
  if (params_.fc2_bias.defined() && !bias_grad_in_linear) core::bias_grad(dy_local, params_.fc2_bias.grad);
  const Tensor fc2_bias_grad = bias_grad_in_linear ? params_.fc2_bias.grad : Tensor();
  const Tensor dy = leave_row_parallel_backward(parallel_, dy_local);
  Tensor dfc1 = Tensor::empty(saved_.fc1_out.shape(), dy.dtype(), dy.device());
  if (swiglu_) {
    Tensor dactivation = Tensor::empty(saved_.activation.shape(), dy.dtype(), dy.device());
    linear_backward_deferrable(saved_.activation, params_.fc2_weight.value, dy, dactivation,
                               params_.fc2_weight.grad, fc2_bias_grad, deferred);
    core::swiglu_backward(saved_.fc1_out, dactivation, dfc1);
  } else {
    // fc2's weight gradient, then its input gradient fused with GELU's derivative.
    linear_backward_deferrable(saved_.activation, params_.fc2_weight.value, dy, Tensor(), params_.fc2_weight.grad,
                               fc2_bias_grad, deferred);
    core::linear_backward_dgelu(dy, params_.fc2_weight.value, saved_.fc1_out, dfc1);
  }
  Tensor dx = Tensor::empty(saved_.x.shape(), dy.dtype(), dy.device());
  linear_backward_deferrable(saved_.x, params_.fc1_weight.value, dfc1, dx, params_.fc1_weight.grad,
                             params_.fc1_bias.grad, deferred);
  return enter_column_parallel_backward(parallel_, dx);
}

void MlpLayer::swap_saved(Saved& other) { std::swap(saved_, other); }

void MlpLayer::release() { saved_ = Saved{}; }

}  // namespace mcpp::model
