#include "core/kernels/swiglu.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void swiglu_forward(const Tensor& x, const Tensor& y) {
  switch (detail::common_device("swiglu_forward", {&x, &y})) {
    case Device::CPU: return cpu::swiglu_forward(x, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("swiglu_forward");
      return gpu::swiglu_forward(x, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("swiglu_forward");
}

void swiglu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  switch (detail::common_device("swiglu_backward", {&x, &dy, &dx})) {
    case Device::CPU: return cpu::swiglu_backward(x, dy, dx);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("swiglu_backward");
      return gpu::swiglu_backward(x, dy, dx);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("swiglu_backward");
}

}  // namespace mcpp::core
