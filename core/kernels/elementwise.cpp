#include "core/kernels/elementwise.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void add(const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (detail::common_device("add", {&a, &b, &out})) {
    case Device::CPU: return cpu::add(a, b, out);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("add");
      return gpu::add(a, b, out);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("add");
}

void axpy(float alpha, const Tensor& x, const Tensor& y) {
  switch (detail::common_device("axpy", {&x, &y})) {
    case Device::CPU: return cpu::axpy(alpha, x, y);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("axpy");
      return gpu::axpy(alpha, x, y);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("axpy");
}

void scale(const Tensor& x, float alpha) {
  switch (detail::common_device("scale", {&x})) {
    case Device::CPU: return cpu::scale(x, alpha);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("scale");
      return gpu::scale(x, alpha);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("scale");
}

void bias_add(const Tensor& x, const Tensor& bias, const Tensor& out) {
  switch (detail::common_device("bias_add", {&x, &bias, &out})) {
    case Device::CPU: return cpu::bias_add(x, bias, out);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("bias_add");
      return gpu::bias_add(x, bias, out);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("bias_add");
}

void bias_grad(const Tensor& dy, const Tensor& dbias) {
  switch (detail::common_device("bias_grad", {&dy, &dbias})) {
    case Device::CPU: return cpu::bias_grad(dy, dbias);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("bias_grad");
      return gpu::bias_grad(dy, dbias);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("bias_grad");
}

double sum_of_squares(const Tensor& x) { return sum_of_squares(std::span<const Tensor>(&x, 1)); }

double sum_of_squares(std::span<const Tensor> parts) {
  if (parts.empty()) return 0.0;
  for (const Tensor& part : parts) detail::common_device("sum_of_squares", {&parts.front(), &part});
  switch (parts.front().device()) {
    case Device::CPU: {
      double total = 0.0;
      for (const Tensor& part : parts) total += cpu::sum_of_squares(part);
      return total;
    }
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("sum_of_squares");
      return gpu::sum_of_squares(parts);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("sum_of_squares");
}

}  // namespace mcpp::core

namespace mcpp::core {

// Tensor::copy_from dispatches on device itself (it also converts between float dtypes).
void copy(const Tensor& src, const Tensor& dst) { dst.copy_from(src); }

}  // namespace mcpp::core
