#include "core/kernels/dropout.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y) {
  switch (detail::common_device("dropout_forward", {&x, &y})) {
    case Device::CPU: return cpu::dropout_forward(x, p, rng, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("dropout_forward");
      return gpu::dropout_forward(x, p, rng, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("dropout_forward");
}

void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx) {
  switch (detail::common_device("dropout_backward", {&dy, &dx})) {
    case Device::CPU: return cpu::dropout_backward(dy, p, rng, dx);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("dropout_backward");
      return gpu::dropout_backward(dy, p, rng, dx);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("dropout_backward");
}

}  // namespace mcpp::core
