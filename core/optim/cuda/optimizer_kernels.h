#pragma once
// AdamW and SGD on flat fp32 CUDA buffers: the same per-element math as core/optim/adamw.h and
// sgd.h (fp32, same operation order), one kernel over a whole buffer group or a distributed-
// optimizer shard. Weight decay is selected per element by `decay_mask` (U8, 1 = decays; the
// CPU code's no-decay ranges as a mask, built once), or applied everywhere when it is undefined.
#include "core/base/tensor.h"
#include "core/optim/adamw.h"
#include "core/optim/sgd.h"

namespace mcpp::optim::cuda {

// Fused for speed (one pass over the parameters): the gradient is read as grad · grad_scale (the
// clip coefficient; the CPU code scales the buffer first, with the same fp32 product), and when
// `compute_copy` (BF16 or F16, same length) is defined the updated parameter is also written there,
// rounded as Tensor::copy_from rounds.
void adamw_update(const AdamConfig& config, const AdamStep& step, const Tensor& param, const Tensor& grad,
                  const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& decay_mask, float grad_scale = 1.0f,
                  const Tensor& compute_copy = Tensor());

void sgd_update(const SgdStep& step, const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const Tensor& decay_mask);

// True when any element is NaN or ±Inf (one device reduction, one 4-byte copy back).
bool has_nan_or_inf(const Tensor& values);

}  // namespace mcpp::optim::cuda
