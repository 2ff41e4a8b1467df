#pragma once
// LayerNorm or RMSNorm over the hidden dimension (--normalization), caching its input and
// statistics for backward.
#include <utility>

#include "core/base/tensor.h"
#include "core/model/model_config.h"
#include "core/model/param_buffer.h"

namespace mcpp::model {

class NormLayer {
 public:
  NormLayer(const ModelConfig& config, ParamRef weight, ParamRef bias);
  // x [..., h] -> new tensor [..., h].
  Tensor forward(const Tensor& x);
  // The residual add before the norm in the same pass: sum = residual + x (a new tensor, the
  // norm's input for backward), returns {sum, norm(sum)}.
  std::pair<Tensor, Tensor> forward_add(const Tensor& residual, const Tensor& x);
  // dy -> dx (new tensor); weight/bias gradients accumulate.
  // dresidual (optional): the gradient reaching the norm's input through a residual connection,
  // added to the returned input gradient.
  Tensor backward(const Tensor& dy, const Tensor& dresidual = Tensor());
  void release();

  // What forward keeps for backward. A pipeline stage holds several micro-batches' at once and
  // swaps them in and out (GPTModel::swap_activations).
  struct Saved {
    Tensor x, mean, rstd;
  };
  void swap_saved(Saved& other);

 private:
  // residual undefined: the plain norm of x.
  Tensor run(const Tensor& residual, const Tensor& x);

  Normalization kind_;
  float eps_;
  ParamRef weight_, bias_;
  Saved saved_;  // what the last forward kept for its backward
};

}  // namespace mcpp::model
