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
  // `gemm` writes the gradients in `written` (views into the parameter buffers).
  void add(std::function<void()> gemm, std::vector<Tensor> written) {
    entries_.push_back({std::move(gemm), std::move(written)});
  }
  // Runs the deferred GEMMs in the order they were set aside, reports each gradient a GEMM wrote
  // to `on_final` (when set) right after that GEMM, and forgets them (and the operands they kept
  // alive).
  void run(const std::function<void(const Tensor& grad)>& on_final = {}) {
    for (Entry& entry : entries_) {
      entry.gemm();
      if (on_final)
        for (const Tensor& grad : entry.written) on_final(grad);
    }
    entries_.clear();
  }

 private:
  struct Entry {
    std::function<void()> gemm;
    std::vector<Tensor> written;
  };
  std::vector<Entry> entries_;
};

// core::linear_backward, with the weight (and bias) gradient computed now when `deferred` is
// null, else set aside into it (the tensors are kept alive until it runs). dx, when defined, is
// always computed now.
void linear_backward_deferrable(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                const Tensor& dweight, const Tensor& dbias, DeferredWeightGrads* deferred);

}  // namespace mcpp::model
