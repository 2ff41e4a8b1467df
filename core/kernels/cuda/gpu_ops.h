#pragma once
// The CUDA implementations behind the op front-ends in core/kernels/<op>.h (same contracts).
// Dtypes: activations (and the parameters they meet: weight, bias, gamma, beta) are all F32, all
// BF16 or all F16, taken from the tensors; arithmetic and accumulation are fp32; parameter gradients
// (dweight, dbias, dgamma, dbeta), statistics (mean, rstd, lse) and losses are F32.
#include <cuda_runtime.h>

#include <span>

#include "core/kernels/attention.h"
#include "core/kernels/cross_entropy.h"
#include "core/kernels/layernorm.h"
#include "core/kernels/rope.h"

namespace mcpp::core::gpu {

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y);
void linear_residual_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                             const Tensor& y);
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                     const Tensor& dweight, const Tensor& dbias);

// Fused linear + GELU (GELU_AUX_BIAS epilogue) and its input gradient (DGELU epilogue); without
// a bias, or when the epilogue's alignment rules are not met, the separate kernels.
void linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& pre,
                         const Tensor& y);
void linear_backward_dgelu(const Tensor& dy, const Tensor& weight, const Tensor& pre, const Tensor& dpre);

void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const NormOptions& options, const Tensor& y, const Tensor& mean,
                       const Tensor& rstd);
void add_layernorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, const NormOptions& options, const Tensor& sum,
                           const Tensor& y, const Tensor& mean, const Tensor& rstd);
void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                        const Tensor& rstd, const Tensor& dy, const NormOptions& options,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dresidual = Tensor());

void rmsnorm_forward(const Tensor& x, const Tensor& gamma, const NormOptions& options,
                     const Tensor& y, const Tensor& rstd);
void add_rmsnorm_forward(const Tensor& residual, const Tensor& x, const Tensor& gamma,
                         const NormOptions& options, const Tensor& sum, const Tensor& y,
                         const Tensor& rstd);
void rmsnorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& rstd, const Tensor& dy,
                      const NormOptions& options, const Tensor& dx, const Tensor& dgamma,
                      const Tensor& dresidual = Tensor());

void gelu_forward(const Tensor& x, const Tensor& bias, const Tensor& y);
void gelu_backward(const Tensor& x, const Tensor& bias, const Tensor& dy, const Tensor& dx,
                   const Tensor& dbias);

void swiglu_forward(const Tensor& x, const Tensor& y);
void swiglu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx);

void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y);
void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx);

// Attention: cuDNN's fused kernels when the call is eligible, else the unfused reference path
// (attention_cudnn.h says which calls are eligible; MCPP_ATTENTION=unfused forces the latter).
void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse);
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv);
// The unfused path (attention_unfused.cu): every option, fp32 arithmetic, O(s_q·s_kv) memory.
void attention_forward_unfused(const Tensor& q, const Tensor& k, const Tensor& v,
                               const AttentionOptions& options, const Tensor& out,
                               const Tensor& lse);
void attention_backward_unfused(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& out, const Tensor& lse, const Tensor& dout,
                                const AttentionOptions& options, const Tensor& dq,
                                const Tensor& dk, const Tensor& dv);

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                           const CrossEntropyOptions& options, const Tensor& losses,
                           const Tensor& lse, const Tensor& totals);
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& loss_mask,
                            const Tensor& lse, float grad_scale,
                            const CrossEntropyOptions& options, const Tensor& dlogits);

void embedding_forward(const Tensor& ids, const Tensor& weight, int64_t vocab_start,
                       const Tensor& out);
void embedding_backward(const Tensor& ids, const Tensor& dout, int64_t vocab_start,
                        const Tensor& dweight);

void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y);
void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx);

void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng,
                 const Shape& full_shape, const Shape& shard_start);
void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng,
                  const Shape& full_shape, const Shape& shard_start);

void add(const Tensor& a, const Tensor& b, const Tensor& out);
void axpy(float alpha, const Tensor& x, const Tensor& y);
void scale(const Tensor& x, float alpha);
// The same on another stream (the communicator's, after a collective).
void scale(const Tensor& x, float alpha, cudaStream_t stream);
void bias_add(const Tensor& x, const Tensor& bias, const Tensor& out);
void bias_grad(const Tensor& dy, const Tensor& dbias);
double sum_of_squares(const Tensor& x);
double sum_of_squares(std::span<const Tensor> parts);

}  // namespace mcpp::core::gpu
