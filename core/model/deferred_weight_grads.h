#pragma once
// Weight-gradient GEMMs set aside during a layer's backward, to run later in the same backward.
// The input gradient a layer hands down needs only the dgrad GEMMs; the wgrad GEMMs can wait.
// GPTModel defers the first layer's wgrads past the embedding backward, so the embedding's
// gradient bucket (final only at the very end of backward) starts its data-parallel reduction
// while those GEMMs still run, instead of after everything. Same GEMMs on the same operands:
// the gradients are bit-identical either way.
#include <functional>
#include <utility>
#include <vector>

#include "core/base/tensor.h"

namespace mcpp::model {

class DeferredWeightGrads {
 public:
  void add(std::function<void()> gemm) { gemms_.push_back(std::move(gemm)); }
  // Runs the deferred GEMMs in the order they were set aside and forgets them (and the operands
  // they kept alive).
  void run() {
    for (auto& gemm : gemms_) gemm();
    gemms_.clear();
  }

 private:
  std::vector<std::function<void()>> gemms_;
};

// core::linear_backward, with the weight (and bias) gradient computed now when `deferred` is
// null, else set aside into it (the tensors are kept alive until it runs). dx, when defined, is
// always computed now.
void linear_backward_deferrable(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                const Tensor& dweight, const Tensor& dbias, DeferredWeightGrads* deferred);

}  // namespace mcpp::model
