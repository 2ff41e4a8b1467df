#pragma once
// Dropout without a stored mask: element i (flat index within the tensor, plus rng.offset) is
// kept when philox_uniform(seed, stream, index) >= p, and kept values are scaled by 1/(1−p).
// Backward regenerates the same mask from the same PhiloxStream.
#include "core/base/philox.h"
#include "core/base/tensor.h"

namespace mcpp::core {

// y = dropout(x); y may be x. p in [0, 1); p = 0 copies.
void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y);

// dx = dy · mask / (1−p); dx may be dy.
void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx);

}  // namespace mcpp::core
