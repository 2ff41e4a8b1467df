#pragma once
// Fully connected layer with Megatron's weight layout: weight [out, in], y = x · weightᵀ + bias.
// Any leading dimensions are flattened: x [..., in] is N = numel / in rows.
#include "core/base/tensor.h"

namespace mcpp::core {

// y [..., out] = x [..., in] · weightᵀ (+ bias [out] when defined).
void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y);

// y = x · weightᵀ (+ bias) + residual: a linear layer whose output joins a residual stream
// (residual of y's shape and dtype, not overlapping y: cuBLASLt's in-place C = D rounds
// differently). On the GPU the residual enters the GEMM as its C (beta = 1: one rounding, no
// separate add); on the CPU linear_forward, then the add.
void linear_residual_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                             const Tensor& y);

// dx [..., in] = dy · weight (overwritten; skipped when dx is undefined).
// dweight [out, in] += dyᵀ · x and dbias [out] += Σ_rows dy (fp32 gradients that ACCUMULATE
// across micro-batches; each skipped when undefined).
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias);

// A linear layer followed by GELU (tanh form, core/kernels/gelu.h), the MLP's fc1 + activation:
// pre [..., out] = x · weightᵀ + bias (kept for backward), y = gelu(pre). On the GPU one GEMM
// whose epilogue adds the bias, stores pre and applies GELU; on the CPU the two ops in turn.
void linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& pre,
                         const Tensor& y);

// The gradient reaching `pre` through gelu(pre) → linear(weight): dpre = (dy · weight) ⊙ gelu'(pre)
// (dy [..., out], weight [out, in], pre and dpre [..., in]; dpre overwritten). On the GPU one GEMM
// with the dGELU epilogue; on the CPU linear_backward's input gradient, then gelu_backward.
void linear_backward_dgelu(const Tensor& dy, const Tensor& weight, const Tensor& pre, const Tensor& dpre);

}  // namespace mcpp::core
