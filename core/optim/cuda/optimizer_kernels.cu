#include "core/optim/cuda/optimizer_kernels.h"

#include <cmath>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"
#include "core/base/dtype.h"
#include "core/kernels/cuda/cuda_util.cuh"

namespace mcpp::optim::cuda {

namespace {

using core::gpu::elementwise_blocks;
using core::gpu::from_float;

// Copy is the compute copy's element type (bf16 or f16; unused when compute_copy is null).
template <typename Copy>
__global__ void adamw_kernel(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                             const uint8_t* decay_mask, int64_t n, float lr, float weight_decay, float b1,
                             float b2, float eps, float bc1, float bc2, float grad_scale, Copy* compute_copy) {
  MCPP_GRID_STRIDE(i, n) {
    const float wd = (decay_mask == nullptr || decay_mask[i]) ? weight_decay : 0.0f;
    const float g = grad_scale == 1.0f ? grad[i] : __fmul_rn(grad[i], grad_scale);
    // __fmul_rn/__fadd_rn keep nvcc from contracting into FMAs, so the result equals the CPU's.
    const float m = __fadd_rn(__fmul_rn(b1, exp_avg[i]), __fmul_rn(1.0f - b1, g));
    const float v = __fadd_rn(__fmul_rn(b2, exp_avg_sq[i]), __fmul_rn(__fmul_rn(1.0f - b2, g), g));
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const float denom = __fadd_rn(__fsqrt_rn(__fdiv_rn(v, bc2)), eps);
    const float update = __fadd_rn(__fdiv_rn(__fdiv_rn(m, bc1), denom), __fmul_rn(wd, param[i]));
    const float updated = __fsub_rn(param[i], __fmul_rn(lr, update));
    param[i] = updated;
    if (compute_copy != nullptr) compute_copy[i] = from_float<Copy>(updated);
  }
}

__global__ void sgd_kernel(float* param, const float* grad, float* momentum_buffer, const uint8_t* decay_mask,
                           int64_t n, float lr, float weight_decay, float momentum, bool first_step) {
  MCPP_GRID_STRIDE(i, n) {
    const float wd = (decay_mask == nullptr || decay_mask[i]) ? weight_decay : 0.0f;
    float d = __fadd_rn(grad[i], __fmul_rn(wd, param[i]));
    if (momentum_buffer != nullptr) {
      d = first_step ? d : __fadd_rn(__fmul_rn(momentum, momentum_buffer[i]), d);
      momentum_buffer[i] = d;
    }
    param[i] = __fsub_rn(param[i], __fmul_rn(lr, d));
  }
}

__global__ void nonfinite_kernel(const float* values, int64_t n, int* found) {
  MCPP_GRID_STRIDE(i, n) {
    if (!isfinite(values[i])) {
      *found = 1;
      return;
    }
  }
}

void require_f32(const char* op, const char* name, const Tensor& t, int64_t n) {
  check(t.defined() && t.dtype() == DType::F32 && t.device() == Device::CUDA && t.numel() == n,
        std::string(op) + ": " + name + " must be an fp32 CUDA tensor of " + std::to_string(n) + " elements, got " +
            (t.defined() ? t.describe() : std::string("undefined")));
}

const uint8_t* mask_pointer(const char* op, const Tensor& mask, int64_t n) {
  if (!mask.defined()) return nullptr;
  check(mask.dtype() == DType::U8 && mask.device() == Device::CUDA && mask.numel() == n,
        std::string(op) + ": decay_mask must be a U8 CUDA tensor of " + std::to_string(n) + " elements");
  return mask.data<uint8_t>();
}

}  // namespace

void adamw_update(const AdamConfig& config, const AdamStep& step, const Tensor& param, const Tensor& grad,
                  const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& decay_mask, float grad_scale,
                  const Tensor& compute_copy) {
  const char* op = "adamw_update";
  const int64_t n = param.numel();
  require_f32(op, "param", param, n);
  require_f32(op, "grad", grad, n);
  require_f32(op, "exp_avg", exp_avg, n);
  require_f32(op, "exp_avg_sq", exp_avg_sq, n);
  check(step.step >= 1, "internal: AdamW step numbers start at 1");
  const bool half_copy = compute_copy.defined() &&
                         (compute_copy.dtype() == DType::BF16 || compute_copy.dtype() == DType::F16);
  check(!compute_copy.defined() || (half_copy && compute_copy.numel() == n && compute_copy.device() == Device::CUDA),
        "adamw_update: compute_copy must be a BF16 or F16 CUDA tensor like param");
  if (n == 0) return;
  // Bias corrections in double on the host, then used in fp32 (as the CPU code does).
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(config.beta1), step.step));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(config.beta2), step.step));
  auto launch = [&](auto* copy) {
    adamw_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(
        param.data<float>(), grad.data<float>(), exp_avg.data<float>(), exp_avg_sq.data<float>(),
        mask_pointer(op, decay_mask, n), n, step.lr, step.weight_decay, config.beta1, config.beta2, config.eps, bc1,
        bc2, grad_scale, copy);
  };
  if (compute_copy.defined() && compute_copy.dtype() == DType::F16) {
    launch(compute_copy.data<f16>());
  } else {
    launch(compute_copy.defined() ? compute_copy.data<bf16>() : static_cast<bf16*>(nullptr));
  }
  MCPP_CUDA_CHECK_LAUNCH();
}

void sgd_update(const SgdStep& step, const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const Tensor& decay_mask) {
  const char* op = "sgd_update";
  const int64_t n = param.numel();
  require_f32(op, "param", param, n);
  require_f32(op, "grad", grad, n);
  const bool use_momentum = step.momentum != 0.0f;
  if (use_momentum) require_f32(op, "momentum_buffer", momentum_buffer, n);
  check(step.step >= 1, "internal: SGD step numbers start at 1");
  if (n == 0) return;
  sgd_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(
      param.data<float>(), grad.data<float>(), use_momentum ? momentum_buffer.data<float>() : nullptr,
      mask_pointer(op, decay_mask, n), n, step.lr, step.weight_decay, step.momentum, step.step == 1);
  MCPP_CUDA_CHECK_LAUNCH();
}

bool has_nan_or_inf(const Tensor& values) {
  const int64_t n = values.numel();
  require_f32("has_nan_or_inf", "values", values, n);
  if (n == 0) return false;
  Tensor found = Tensor::zeros({1}, DType::I32, Device::CUDA);
  nonfinite_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(values.data<float>(), n, found.data<int32_t>());
  MCPP_CUDA_CHECK_LAUNCH();
  Tensor host = Tensor::empty({1}, DType::I32);
  host.copy_from(found);
  return host.data<int32_t>()[0] != 0;
}

}  // namespace mcpp::optim::cuda
