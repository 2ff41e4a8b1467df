#pragma once
// Elementwise helpers of a transformer step. Tensors have the same numel unless said otherwise;
// an output may alias an input.
#include <span>

#include "core/base/tensor.h"

namespace mcpp::core {

// out = a + b (residual connections).
void add(const Tensor& a, const Tensor& b, const Tensor& out);

// y += alpha · x (gradient accumulation into an existing buffer).
void axpy(float alpha, const Tensor& x, const Tensor& y);

// x *= alpha, in place.
void scale(const Tensor& x, float alpha);

// dst = src (same numel and dtype, or a float conversion; see Tensor::copy_from).
void copy(const Tensor& src, const Tensor& dst);

// out [..., h] = x [..., h] + bias [h] (broadcast over rows).
void bias_add(const Tensor& x, const Tensor& bias, const Tensor& out);

// dbias [h] += Σ_rows dy [..., h].
void bias_grad(const Tensor& dy, const Tensor& dbias);

// Σ x² accumulated in fp64 (gradient norm).
double sum_of_squares(const Tensor& x);
// Σ over parts of sum_of_squares(part), added in order: the same value as calling it per part,
// with one device synchronisation instead of one per part.
double sum_of_squares(std::span<const Tensor> parts);

}  // namespace mcpp::core
