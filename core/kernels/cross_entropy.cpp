#include "core/kernels/cross_entropy.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                           const CrossEntropyOptions& options, const Tensor& losses,
                           const Tensor& lse, const Tensor& totals) {
  switch (detail::common_device("cross_entropy_forward", {&logits, &labels, &loss_mask, &losses, &lse, &totals})) {
    case Device::CPU: return cpu::cross_entropy_forward(logits, labels, loss_mask, options, losses, lse, totals);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("cross_entropy_forward");
      return gpu::cross_entropy_forward(logits, labels, loss_mask, options, losses, lse, totals);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("cross_entropy_forward");
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                            const Tensor& lse, float grad_scale,
                            const CrossEntropyOptions& options, const Tensor& dlogits) {
  switch (detail::common_device("cross_entropy_backward", {&logits, &labels, &loss_mask, &lse, &dlogits})) {
    case Device::CPU: return cpu::cross_entropy_backward(logits, labels, loss_mask, lse, grad_scale, options, dlogits);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("cross_entropy_backward");
      return gpu::cross_entropy_backward(logits, labels, loss_mask, lse, grad_scale, options, dlogits);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("cross_entropy_backward");
}

}  // namespace mcpp::core
