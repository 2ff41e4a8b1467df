#pragma once
// Fully connected layer with Megatron's weight layout: weight [out, in], y = x · weightᵀ + bias.
// Any leading dimensions are flattened: x [..., in] is N = numel / in rows.
#include "core/base/tensor.h"

namespace mcpp::core {

// y [..., out] = x [..., in] · weightᵀ (+ bias [out] when defined).
void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y);

// dx [..., in] = dy · weight (overwritten; skipped when dx is undefined).
// dweight [out, in] += dyᵀ · x and dbias [out] += Σ_rows dy (fp32 gradients that ACCUMULATE
// across micro-batches; each skipped when undefined).
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias);

}  // namespace mcpp::core
