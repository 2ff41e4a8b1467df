#include "core/kernels/layernorm.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const NormOptions& options, const Tensor& y, const Tensor& mean,
                       const Tensor& rstd) {
  switch (detail::common_device("layernorm_forward", {&x, &gamma, &beta, &y, &mean, &rstd})) {
    case Device::CPU: return cpu::layernorm_forward(x, gamma, beta, options, y, mean, rstd);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("layernorm_forward");
      return gpu::layernorm_forward(x, gamma, beta, options, y, mean, rstd);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("layernorm_forward");
}

void add_layernorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, const NormOptions& options, const Tensor& sum,
                           const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  detail::check_residual_sum("add_layernorm_forward", residual, x, sum, y);
  switch (detail::common_device("add_layernorm_forward",
                                {&residual, &x, &gamma, &beta, &sum, &y, &mean, &rstd})) {
    case Device::CPU:
      cpu::add(residual, x, sum);
      return cpu::layernorm_forward(sum, gamma, beta, options, y, mean, rstd);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("add_layernorm_forward");
      return gpu::add_layernorm_forward(residual, x, gamma, beta, options, sum, y, mean, rstd);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("add_layernorm_forward");
}

void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                        const Tensor& rstd, const Tensor& dy, const NormOptions& options,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta, const Tensor& dresidual) {
  detail::check_residual_grad("layernorm_backward", dx, dresidual);
  switch (detail::common_device("layernorm_backward",
                                {&x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta, &dresidual})) {
    case Device::CPU:
      cpu::layernorm_backward(x, gamma, mean, rstd, dy, options, dx, dgamma, dbeta);
      if (dresidual.defined()) cpu::add(dx, dresidual, dx);
      return;
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("layernorm_backward");
      return gpu::layernorm_backward(x, gamma, mean, rstd, dy, options, dx, dgamma, dbeta, dresidual);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("layernorm_backward");
}

}  // namespace mcpp::core
