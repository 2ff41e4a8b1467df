#include "core/kernels/rope.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y) {
  switch (detail::common_device("rope_forward", {&x, &positions, &y})) {
    case Device::CPU: return cpu::rope_forward(x, positions, options, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("rope_forward");
      return gpu::rope_forward(x, positions, options, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("rope_forward");
}

void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx) {
  switch (detail::common_device("rope_backward", {&dy, &positions, &dx})) {
    case Device::CPU: return cpu::rope_backward(dy, positions, options, dx);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("rope_backward");
      return gpu::rope_backward(dy, positions, options, dx);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("rope_backward");
}

}  // namespace mcpp::core
