#include "core/model/mlp_layer.h"

#include "core/kernels/elementwise.h"
#include "core/kernels/gelu.h"
#include "core/kernels/linear.h"
#include "core/kernels/swiglu.h"
#include "core/model/tp_mappings.h"

namespace mcpp::model {

MlpLayer::MlpLayer(const ModelConfig& config, const ParallelContext& parallel, MlpParams params)
    : parallel_(parallel), swiglu_(config.swiglu), params_(std::move(params)) {}

Tensor MlpLayer::forward(const Tensor& x) {
  x_ = enter_column_parallel(parallel_, x);
  const int64_t s = x_.dim(0), b = x_.dim(1), h = x_.dim(2);
  const int64_t rows = params_.fc1_weight.value.dim(0);
  const int64_t width = swiglu_ ? rows / 2 : rows;
  fc1_out_ = Tensor::empty({s, b, rows}, x.dtype(), x.device());
  core::linear_forward(x_, params_.fc1_weight.value, params_.fc1_bias.value, fc1_out_);
  activation_ = Tensor::empty({s, b, width}, x.dtype(), x.device());
  if (swiglu_)
    core::swiglu_forward(fc1_out_, activation_);
  else
    core::gelu_forward(fc1_out_, Tensor(), activation_);
  Tensor partial = Tensor::empty({s, b, h}, x.dtype(), x.device());
  core::linear_forward(activation_, params_.fc2_weight.value, Tensor(), partial);
  Tensor out = leave_row_parallel(parallel_, partial);
  if (params_.fc2_bias.defined()) core::bias_add(out, params_.fc2_bias.value, out);
  return out;
}

Tensor MlpLayer::backward(const Tensor& dy_local) {
  if (params_.fc2_bias.defined()) core::bias_grad(dy_local, params_.fc2_bias.grad);
  const Tensor dy = leave_row_parallel_backward(parallel_, dy_local);
  Tensor dactivation = Tensor::empty(activation_.shape(), dy.dtype(), dy.device());
  core::linear_backward(activation_, params_.fc2_weight.value, dy, dactivation,
                        params_.fc2_weight.grad, Tensor());
  Tensor dfc1 = Tensor::empty(fc1_out_.shape(), dy.dtype(), dy.device());
  if (swiglu_)
    core::swiglu_backward(fc1_out_, dactivation, dfc1);
  else
    core::gelu_backward(fc1_out_, Tensor(), dactivation, dfc1, Tensor());
  Tensor dx = Tensor::empty(x_.shape(), dy.dtype(), dy.device());
  core::linear_backward(x_, params_.fc1_weight.value, dfc1, dx, params_.fc1_weight.grad,
                        params_.fc1_bias.grad);
  return enter_column_parallel_backward(parallel_, dx);
}

void MlpLayer::release() { x_ = fc1_out_ = activation_ = Tensor(); }

}  // namespace mcpp::model
