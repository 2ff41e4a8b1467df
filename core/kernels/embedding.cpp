#include "core/kernels/embedding.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void embedding_forward(const Tensor& ids, const Tensor& weight, int64_t vocab_start,
                       const Tensor& out) {
  switch (detail::common_device("embedding_forward", {&ids, &weight, &out})) {
    case Device::CPU: return cpu::embedding_forward(ids, weight, vocab_start, out);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("embedding_forward");
      return gpu::embedding_forward(ids, weight, vocab_start, out);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("embedding_forward");
}

void embedding_backward(const Tensor& ids, const Tensor& dout, int64_t vocab_start,
                        const Tensor& dweight) {
  switch (detail::common_device("embedding_backward", {&ids, &dout, &dweight})) {
    case Device::CPU: return cpu::embedding_backward(ids, dout, vocab_start, dweight);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("embedding_backward");
      return gpu::embedding_backward(ids, dout, vocab_start, dweight);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("embedding_backward");
}

}  // namespace mcpp::core
