#include "core/model/norm_layer.h"

#include <utility>

#include "core/kernels/layernorm.h"
#include "core/kernels/rmsnorm.h"

namespace mcpp::model {

NormLayer::NormLayer(const ModelConfig& config, ParamRef weight, ParamRef bias)
    : kind_(config.normalization),
      eps_(static_cast<float>(config.norm_epsilon)),
      weight_(std::move(weight)),
      bias_(std::move(bias)) {}

Tensor NormLayer::forward(const Tensor& x) { return run(Tensor(), x); }

std::pair<Tensor, Tensor> NormLayer::forward_add(const Tensor& residual, const Tensor& x) {
  Tensor y = run(residual, x);
  return {x_, y};
}

Tensor NormLayer::run(const Tensor& residual, const Tensor& x) {
  const int64_t rows = x.numel() / x.dim(-1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  x_ = residual.defined() ? Tensor::empty(x.shape(), x.dtype(), x.device()) : x;
  rstd_ = Tensor::empty({rows}, DType::F32, x.device());
  core::NormOptions options{eps_, false};
  if (kind_ == Normalization::LayerNorm) {
    mean_ = Tensor::empty({rows}, DType::F32, x.device());
    if (residual.defined())
      core::add_layernorm_forward(residual, x, weight_.value, bias_.value, options, x_, y, mean_, rstd_);
    else
      core::layernorm_forward(x, weight_.value, bias_.value, options, y, mean_, rstd_);
  } else if (residual.defined()) {
    core::add_rmsnorm_forward(residual, x, weight_.value, options, x_, y, rstd_);
  } else {
    core::rmsnorm_forward(x, weight_.value, options, y, rstd_);
  }
  return y;
}

Tensor NormLayer::backward(const Tensor& dy, const Tensor& dresidual) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  core::NormOptions options{eps_, false};
  if (kind_ == Normalization::LayerNorm)
    core::layernorm_backward(x_, weight_.value, mean_, rstd_, dy, options, dx, weight_.grad, bias_.grad, dresidual);
  else
    core::rmsnorm_backward(x_, weight_.value, rstd_, dy, options, dx, weight_.grad, dresidual);
  return dx;
}

void NormLayer::swap_saved(Saved& other) {
  std::swap(x_, other.x);
  std::swap(mean_, other.mean);
  std::swap(rstd_, other.rstd);
}

void NormLayer::release() {
  x_ = Tensor();
  mean_ = Tensor();
  rstd_ = Tensor();
}

}  // namespace mcpp::model
