#include "core/kernels/rmsnorm.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd) {
  switch (detail::common_device("rmsnorm_forward", {&x, &gamma, &y, &rstd})) {
    case Device::CPU: return cpu::rmsnorm_forward(x, gamma, options, y, rstd);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("rmsnorm_forward");
      return gpu::rmsnorm_forward(x, gamma, options, y, rstd);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("rmsnorm_forward");
}

void add_rmsnorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                         const NormOptions& options, const Tensor& sum, const Tensor& y,
                         const Tensor& rstd) {
  detail::check_residual_sum("add_rmsnorm_forward", residual, x, sum, y);
  switch (detail::common_device("add_rmsnorm_forward", {&residual, &x, &gamma, &sum, &y, &rstd})) {
    case Device::CPU:
      cpu::add(residual, x, sum);
      return cpu::rmsnorm_forward(sum, gamma, options, y, rstd);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("add_rmsnorm_forward");
      return gpu::add_rmsnorm_forward(residual, x, gamma, options, sum, y, rstd);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("add_rmsnorm_forward");
}

void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma, const Tensor& dresidual) {
  detail::check_residual_grad("rmsnorm_backward", dx, dresidual);
  switch (detail::common_device("rmsnorm_backward", {&x, &gamma, &rstd, &dy, &dx, &dgamma, &dresidual})) {
    case Device::CPU:
      cpu::rmsnorm_backward(x, gamma, rstd, dy, options, dx, dgamma);
      if (dresidual.defined()) cpu::add(dx, dresidual, dx);
      return;
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("rmsnorm_backward");
      return gpu::rmsnorm_backward(x, gamma, rstd, dy, options, dx, dgamma, dresidual);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("rmsnorm_backward");
}

}  // namespace mcpp::core
