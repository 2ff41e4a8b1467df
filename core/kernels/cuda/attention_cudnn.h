#pragma once
// Fused flash attention through cuDNN's backend graph API (forward and backward), and the choice
// between it and the unfused reference path (attention_unfused.cu) for each call.
//
// The graphs are the composite SDPA pattern cuDNN's runtime-fusion engine recognises on Hopper:
// Q·Kᵀ, scale, causal select, softmax with log-sum-exp statistics, P·V (and the matching
// backward with the dQ/dK/dV products). Tensor descriptors carry our sequence-first strides, so
// q/k/v/out/grads are read and written in place (no transposes); GQA is native (cuDNN sums dK/dV
// over each group); the statistics are exactly our lse [b, n_q, s_q] (natural log).
//
// Execution plans are built once per (shape, dtype, causal, scale, deterministic) on each
// (thread, device) and cached; plan building may JIT-compile and takes up to seconds.
//
// Eligible calls (otherwise the unfused path runs): BF16 or F16 tensors, no document boundaries,
// no dropout, kv_offset 0 with s_q == s_kv >= 2, head dim a multiple of 8 up to 128, 16-byte
// aligned data, an sm_80+ GPU, and (cuDNN <= 9.15, whose backward needs a padding mask
// otherwise) s a multiple of 128. MCPP_ATTENTION=unfused in the environment forces the unfused
// path (A/B comparisons).
#include <cstdint>
#include <string>

#include "core/kernels/attention.h"

namespace mcpp::core::gpu {

// Process-wide: request cuDNN's deterministic backward (dQ accumulated without atomics).
void set_deterministic(bool deterministic);
bool deterministic();

enum class AttentionPath : uint8_t { kCudnn, kUnfused };

// The path a forward/backward call with these tensors takes; when it is the unfused one and
// `why` is given, *why says what made the call ineligible for cuDNN.
AttentionPath choose_attention_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options, std::string* why = nullptr);

// The fused implementations (same contracts as attention_forward/backward; the call must be
// eligible). Throw mcpp::Error when the cuDNN runtime is too old or rejects the graph.
void cudnn_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                             const AttentionOptions& options, const Tensor& out, const Tensor& lse);
void cudnn_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const Tensor& dout,
                              const AttentionOptions& options, const Tensor& dq, const Tensor& dk,
                              const Tensor& dv);

// Multi-head attention read in place from the fused QKV output (core/kernels/attention.h): the
// tensor descriptors take the fused layout's strides, so no split/merge copies. True when the
// call is eligible (as above, for the q/k/v it holds) and cuDNN built both plans for it; a
// runtime that rejects the strided graphs gives false (logged once) and the caller splits.
bool cudnn_reads_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options);
void cudnn_attention_forward_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options,
                                       const Tensor& out, const Tensor& lse);
void cudnn_attention_backward_fused_qkv(const Tensor& qkv, int64_t heads, const Tensor& out,
                                        const Tensor& lse, const Tensor& dout,
                                        const AttentionOptions& options, const Tensor& dqkv);

// cuDNN runtime version (cudnnGetVersion(), e.g. 91400 for 9.14.0).
int64_t cudnn_runtime_version();

// Counters for tests and diagnostics: execution plans built so far (cache misses) and fused
// forward/backward executions.
int64_t cudnn_attention_plans_built();
int64_t cudnn_attention_executions();

}  // namespace mcpp::core::gpu
