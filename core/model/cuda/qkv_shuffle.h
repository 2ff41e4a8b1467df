#pragma once
// The fused-QKV layout shuffle of core/model/tensor_layout.h on CUDA tensors (any 2- or 4-byte
// dtype: the elements are moved, not converted).
#include "core/base/tensor.h"

namespace mcpp::model::cuda {

// to_fused = false: qkv -> q, k, v; true: q, k, v -> qkv. Shapes are checked by the caller.
void shuffle_qkv(const Tensor& qkv, const Tensor& q, const Tensor& k, const Tensor& v, int heads_per_group,
                 bool to_fused);

}  // namespace mcpp::model::cuda
