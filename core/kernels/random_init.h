#pragma once
// Parameter initialisation from Philox: a tensor that is a shard of a larger "full" tensor gets
// exactly the values the full tensor would have at its elements, whatever the device or layout.
// Element at full-tensor coordinates (c₀, …) draws Philox index = its row-major flat index in
// full_shape (+ rng.offset).
#include "core/base/philox.h"
#include "core/base/tensor.h"

namespace mcpp::core {

// out = mean + std · N(0, 1). out is the block of full_shape starting at shard_start
// (per-dimension start coordinates; same rank as full_shape). For an unsharded tensor pass
// full_shape = out.shape() and shard_start all zeros (or use the overload below).
void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng,
                 const Shape& full_shape, const Shape& shard_start);
void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng);

// out = low + (high − low) · U[0, 1), same shard rule.
void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng,
                  const Shape& full_shape, const Shape& shard_start);
void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng);

}  // namespace mcpp::core
