#include "core/kernels/linear.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  switch (detail::common_device("linear_forward", {&x, &weight, &bias, &y})) {
    case Device::CPU: return cpu::linear_forward(x, weight, bias, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("linear_forward");
      return gpu::linear_forward(x, weight, bias, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("linear_forward");
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias) {
  switch (detail::common_device("linear_backward", {&x, &weight, &dy, &dx, &dweight, &dbias})) {
    case Device::CPU: return cpu::linear_backward(x, weight, dy, dx, dweight, dbias);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("linear_backward");
      return gpu::linear_backward(x, weight, dy, dx, dweight, dbias);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("linear_backward");
}

}  // namespace mcpp::core
