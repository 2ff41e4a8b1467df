#include "core/kernels/dropout.h"

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y) {
  switch (detail::common_device("dropout_forward", {&x, &y})) {
    case Device::CPU: return cpu::dropout_forward(x, p, rng, y);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("dropout_forward");
}

void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx) {
  switch (detail::common_device("dropout_backward", {&dy, &dx})) {
    case Device::CPU: return cpu::dropout_backward(dy, p, rng, dx);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("dropout_backward");
}

}  // namespace mcpp::core
