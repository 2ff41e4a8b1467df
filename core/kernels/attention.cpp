#include "core/kernels/attention.h"

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse) {
  switch (detail::common_device("attention_forward", {&q, &k, &v, &options.doc_offsets, &out, &lse})) {
    case Device::CPU: return cpu::attention_forward(q, k, v, options, out, lse);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("attention_forward");
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  switch (detail::common_device("attention_backward", {&q, &k, &v, &out, &lse, &dout, &options.doc_offsets, &dq, &dk, &dv})) {
    case Device::CPU: return cpu::attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
    case Device::CUDA: break;
  }
  detail::no_cuda_kernel("attention_backward");
}

}  // namespace mcpp::core
