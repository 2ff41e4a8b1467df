#include "core/kernels/linear.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"
#include "core/kernels/gelu.h"

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

void linear_residual_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                             const Tensor& y) {
  const char* op = "linear_residual_forward";
  check(residual.defined() && y.defined() && residual.shape() == y.shape() && residual.dtype() == y.dtype(),
        std::string(op) + ": residual " + residual.describe() + " must match y " + y.describe());
  check(!residual.overlaps(y), std::string(op) + ": residual must not overlap y");
  switch (detail::common_device(op, {&x, &weight, &bias, &residual, &y})) {
    case Device::CPU:
      cpu::linear_forward(x, weight, bias, y);
      return cpu::add(y, residual, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("linear_forward");
      return gpu::linear_residual_forward(x, weight, bias, residual, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel(op);
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

void linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& pre,
                         const Tensor& y) {
  switch (detail::common_device("linear_gelu_forward", {&x, &weight, &bias, &pre, &y})) {
    case Device::CPU:
      cpu::linear_forward(x, weight, bias, pre);
      return gelu_forward(pre, Tensor(), y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("linear_gelu_forward");
      return gpu::linear_gelu_forward(x, weight, bias, pre, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("linear_gelu_forward");
}

void linear_backward_dgelu(const Tensor& dy, const Tensor& weight, const Tensor& pre, const Tensor& dpre) {
  switch (detail::common_device("linear_backward_dgelu", {&dy, &weight, &pre, &dpre})) {
    case Device::CPU:
      cpu::linear_backward(pre, weight, dy, dpre, Tensor(), Tensor());
      return gelu_backward(pre, Tensor(), dpre, dpre, Tensor());
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("linear_backward_dgelu");
      return gpu::linear_backward_dgelu(dy, weight, pre, dpre);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("linear_backward_dgelu");
}

}  // namespace mcpp::core
