#include "core/kernels/attention.h"

#include <string>

#include "core/base/error.h"
#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/attention_cudnn.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

AttentionGeometry attention_geometry(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                                     const AttentionOptions& options) {
  check(q.rank() == 4 && k.rank() == 4,
        std::string(op) + ": q and k must be [s, b, n, d], got " + q.describe() + " and " + k.describe());
  cpu::require_shape(op, "v", v, k.shape());
  AttentionGeometry g{q.dim(0), k.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), 0};
  check(k.dim(1) == g.batch && k.dim(3) == g.head_dim,
        std::string(op) + ": k/v batch or head dim differ from q: " + q.describe() + " vs " + k.describe());
  check(g.heads_kv > 0 && g.heads_q % g.heads_kv == 0,
        std::string(op) + ": query heads must be a multiple of key/value heads");
  g.group = g.heads_q / g.heads_kv;
  check(options.dropout_p >= 0.0f && options.dropout_p < 1.0f,
        std::string(op) + ": attention dropout must be in [0, 1)");
  if (options.dropout_p > 0.0f) {
    const int64_t first_key = options.q_position + options.kv_offset;
    check(options.q_position >= 0 && first_key >= 0 && options.q_position + g.s_q <= (1 << 20) &&
              first_key + g.s_kv <= (1 << 20) && g.batch * g.heads_q <= (1 << 24),
          std::string(op) + ": attention dropout needs global positions in [0, 2^20) and "
                            "batch × heads < 2^24 (set q_position to the global position of q row 0)");
  }
  return g;
}

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse) {
  switch (detail::common_device("attention_forward", {&q, &k, &v, &options.doc_offsets, &out, &lse})) {
    case Device::CPU: return cpu::attention_forward(q, k, v, options, out, lse);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("attention_forward");
      return gpu::attention_forward(q, k, v, options, out, lse);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("attention_forward");
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  switch (detail::common_device("attention_backward", {&q, &k, &v, &out, &lse, &dout, &options.doc_offsets, &dq, &dk, &dv})) {
    case Device::CPU: return cpu::attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("attention_backward");
      return gpu::attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("attention_backward");
}

bool attention_reads_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options) {
  if (!qkv.defined() || qkv.device() != Device::CUDA) return false;
#ifdef MCPP_HAVE_CUDA
  return gpu::cudnn_reads_fused_qkv(qkv, heads, options);
#else
  (void)heads;
  (void)options;
  return false;
#endif
}

void attention_forward_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options,
                                 const Tensor& out, const Tensor& lse) {
  check(attention_reads_fused_qkv(qkv, heads, options),
        "attention_forward_fused_qkv: no in-place kernel for this call (check attention_reads_fused_qkv first)");
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("attention_forward");
  gpu::cudnn_attention_forward_fused_qkv(qkv, heads, options, out, lse);
#else
  (void)out;
  (void)lse;
#endif
}

void attention_backward_fused_qkv(const Tensor& qkv, int64_t heads, const Tensor& out, const Tensor& lse,
                                  const Tensor& dout, const AttentionOptions& options, const Tensor& dqkv) {
  check(attention_reads_fused_qkv(qkv, heads, options),
        "attention_backward_fused_qkv: no in-place kernel for this call (check attention_reads_fused_qkv first)");
#ifdef MCPP_HAVE_CUDA
  const profile::Scope timed("attention_backward");
  gpu::cudnn_attention_backward_fused_qkv(qkv, heads, out, lse, dout, options, dqkv);
#else
  (void)out;
  (void)lse;
  (void)dout;
  (void)dqkv;
#endif
}

}  // namespace mcpp::core
