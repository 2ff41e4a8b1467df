#include "core/kernels/gelu.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void gelu_forward(const Tensor& x, const Tensor& bias, const Tensor& y) {
  switch (detail::common_device("gelu_forward", {&x, &bias, &y})) {
    case Device::CPU: return cpu::gelu_forward(x, bias, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("gelu_forward");
      return gpu::gelu_forward(x, bias, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("gelu_forward");
}

void gelu_backward(const Tensor& x, const Tensor& bias, const Tensor& dy, const Tensor& dx,
                   const Tensor& dbias) {
  switch (detail::common_device("gelu_backward", {&x, &bias, &dy, &dx, &dbias})) {
    case Device::CPU: return cpu::gelu_backward(x, bias, dy, dx, dbias);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("gelu_backward");
      return gpu::gelu_backward(x, bias, dy, dx, dbias);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("gelu_backward");
}

}  // namespace mcpp::core
