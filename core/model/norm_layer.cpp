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
  return {saved_.x, y};
}

Tensor NormLayer::run(const Tensor& residual, const Tensor& x) {
  const int64_t rows = x.numel() / x.dim(-1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  saved_.x = residual.defined() ? Tensor::empty(x.shape(), x.dtype(), x.device()) : x;
  saved_.rstd = Tensor::empty({rows}, DType::F32, x.device());
  core::NormOptions options{eps_, false};
  if (kind_ == Normalization::LayerNorm) {
    saved_.mean = Tensor::empty({rows}, DType::F32, x.device());
    if (residual.defined())
      core::add_layernorm_forward(residual, x, weight_.value, bias_.value, options, saved_.x, y, saved_.mean,
                                  saved_.rstd);
    else
      core::layernorm_forward(x, weight_.value, bias_.value, options, y, saved_.mean, saved_.rstd);
  } else if (residual.defined()) {
    core::add_rmsnorm_forward(residual, x, weight_.value, options, saved_.x, y, saved_.rstd);
  } else {
    core::rmsnorm_forward(x, weight_.value, options, y, saved_.rstd);
  }
  return y;
}

Tensor NormLayer::backward(const Tensor& dy, const Tensor& dresidual) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  core::NormOptions options{eps_, false};
  if (kind_ == Normalization::LayerNorm)
    core::layernorm_backward(saved_.x, weight_.value, saved_.mean, saved_.rstd, dy, options, dx, weight_.grad,
                             bias_.grad, dresidual);
  else
    core::rmsnorm_backward(saved_.x, weight_.value, saved_.rstd, dy, options, dx, weight_.grad, dresidual);
  return dx;
}

void NormLayer::swap_saved(Saved& other) { std::swap(saved_, other); }

void NormLayer::release() { saved_ = Saved{}; }

}  // namespace mcpp::model
