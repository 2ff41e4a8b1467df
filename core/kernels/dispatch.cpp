#include "core/kernels/dispatch.h"

#include <string>

namespace mcpp::core::detail {

Device common_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  bool found = false;
  Device device = Device::CPU;
  for (const Tensor* tensor : tensors) {
    if (!tensor->defined()) continue;
    if (!found) {
      device = tensor->device();
      found = true;
    }
    check(tensor->device() == device, std::string(op) + ": tensors live on different devices");
  }
  return device;
}

void no_cuda_kernel(const char* op) {
  throw Error(std::string(op) + ": no CUDA kernel in this build (CPU tensors only for now)");
}

void check_residual_grad(const char* op, const Tensor& dx, const Tensor& dresidual) {
  if (!dresidual.defined()) return;
  check(dx.defined() && dresidual.shape() == dx.shape() && dresidual.dtype() == dx.dtype(),
        std::string(op) + ": dresidual " + dresidual.describe() + " must match dx" +
            (dx.defined() ? " " + dx.describe() : std::string(" (which is undefined)")));
  check(!dresidual.overlaps(dx), std::string(op) + ": dresidual must not alias dx");
}

void check_residual_sum(const char* op, const Tensor& residual, const Tensor& x, const Tensor& sum,
                        const Tensor& y) {
  for (const Tensor* t : {&residual, &sum}) {
    check(t->defined() && x.defined() && t->shape() == x.shape() && t->dtype() == x.dtype(),
          std::string(op) + ": residual and sum must match x " + x.describe() + ", got " + t->describe());
  }
  check(!sum.overlaps(y), std::string(op) + ": sum must not alias y");
}

}  // namespace mcpp::core::detail
