#pragma once
// Device dispatch shared by the op front-ends: every op runs on the device its tensors live on.
#include <initializer_list>

#include "core/base/tensor.h"

namespace mcpp::core::detail {

// The device of the defined tensors among `tensors` (undefined ones are optional arguments);
// throws naming `op` when they live on different devices.
Device common_device(const char* op, std::initializer_list<const Tensor*> tensors);

// A norm backward's optional residual gradient: defined only with dx, of dx's shape and dtype,
// and not dx itself (it is read while dx is written).
void check_residual_grad(const char* op, const Tensor& dx, const Tensor& dresidual);

// A fused residual-add norm's operands: residual, x and sum of one shape and dtype, and sum not
// overlapping y (the norm reads sum while writing y).
void check_residual_sum(const char* op, const Tensor& residual, const Tensor& x, const Tensor& sum,
                        const Tensor& y);

// Thrown for a CUDA tensor while the op has no CUDA kernel in this build.
[[noreturn]] void no_cuda_kernel(const char* op);

}  // namespace mcpp::core::detail
