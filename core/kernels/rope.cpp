#include "core/kernels/rope.h"

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y) {
  switch (detail::common_device("rope_forward", {&x, &positions, &y})) {
    case Device::CPU: return cpu::rope_forward(x, positions, options, y);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("rope_forward");
}

void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx) {
  switch (detail::common_device("rope_backward", {&dy, &positions, &dx})) {
    case Device::CPU: return cpu::rope_backward(dy, positions, options, dx);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("rope_backward");
}

}  // namespace mcpp::core
