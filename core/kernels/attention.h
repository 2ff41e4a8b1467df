#pragma once
// Core (scaled dot-product) attention on sequence-first tensors, the interface shared by the CPU
// reference, the cuDNN fused path and context-parallel ring attention.
//
//   q [s_q, b, n_q, d], k and v [s_kv, b, n_kv, d]; GQA: n_q is a multiple of n_kv and query head
//   h reads kv head h / (n_q / n_kv).
//   scores[i, j] = scale · q_i · k_j over the visible keys j of query i; P = softmax(scores);
//   out_i = Σ_j P_ij · dropout(v_j); lse_i = log Σ_j exp(scores[i, j]) (natural log).
//
// Visibility. Query row i sits at global position q_position + i and key row j at
// q_position + kv_offset + j. Key j is visible to query i when
//   - causal is off, or (j + kv_offset <= i), and
//   - with document boundaries, both positions fall in the same document.
// A query with no visible key gets lse = −inf and out = 0 (and contributes no gradient), so
// partial results over blocks of keys merge exactly:
//   lse = log(e^lse₁ + e^lse₂),  out = out₁·e^(lse₁−lse) + out₂·e^(lse₂−lse).
#include <cstdint>

#include "core/base/philox.h"
#include "core/base/tensor.h"

namespace mcpp::core {

struct AttentionOptions {
  float softmax_scale = 1.0f;  // usually 1/sqrt(d)
  bool causal = true;
  int64_t kv_offset = 0;       // global position of k row 0 minus global position of q row 0
  int64_t q_position = 0;      // global position of q row 0 (only used with doc_offsets)
  // Document boundaries, optional: I64 [b, m + 1], row r = ascending global start positions of
  // the documents of batch element r, starting at 0 and ending with the sequence length; pad a
  // row with repeats of its last value. Attention stays inside one document.
  Tensor doc_offsets;
  // Dropout on the attention probabilities (kept entries scaled by 1/(1−p)). The mask element of
  // (batch r, query head h, query position i, key position j) (global positions) is Philox index
  //   ((r·n_q + h) << 40) | (i << 20) | j     (so positions < 2^20, r·n_q + h < 2^24),
  // drawn from `dropout_rng` (its offset is added), identical on every device and CP layout.
  float dropout_p = 0.0f;
  PhiloxStream dropout_rng;
};

// The sizes of one attention call, validated once for every backend.
struct AttentionGeometry {
  int64_t s_q, s_kv, batch, heads_q, heads_kv, head_dim;
  int64_t group;  // query heads per key/value head
};

// Checks q, k, v shapes, GQA head counts, the dropout probability and (with dropout) the position
// bounds of the mask indexing above; throws mcpp::Error naming `op`. Dtypes are each backend's.
AttentionGeometry attention_geometry(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                                     const AttentionOptions& options);

// Writes out [s_q, b, n_q, d] and lse F32 [b, n_q, s_q].
void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse);

// Gradients from the forward's out and lse (probabilities are recomputed as exp(score − lse)).
// out and lse may be the merged results over all key blocks (ring attention): then dq/dk/dv are
// this block's exact contributions. dq, dk, dv are overwritten.
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv);

// Attention straight on the fused QKV projection's output of multi-head attention (one query head
// per group): qkv [s, b, n·3·d] holds per head [q | k | v], each d wide. A backend that reads
// q/k/v (and writes their gradients) in place in that layout skips the split and merge copies.
//
// attention_reads_fused_qkv says whether this call has such a kernel (the cuDNN path, with its
// eligibility rules; never on the CPU). Only then may the two calls below be used; their results
// equal attention_forward/backward on the split q, k, v (out [s, b, n, d], lse [b, n, s]; dqkv
// [s, b, n·3·d] overwritten in the same fused layout).
bool attention_reads_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options);
void attention_forward_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options,
                                 const Tensor& out, const Tensor& lse);
void attention_backward_fused_qkv(const Tensor& qkv, int64_t heads, const Tensor& out, const Tensor& lse,
                                  const Tensor& dout, const AttentionOptions& options, const Tensor& dqkv);

}  // namespace mcpp::core
