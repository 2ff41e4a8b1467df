// Reference attention on the GPU, unfused: scores through batched cuBLASLt GEMMs into an fp32
// [b·n_q, s_q, s_kv] buffer, a masked softmax kernel (causal, kv_offset, document boundaries,
// dropout with the CPU's Philox indexing), then batched GEMMs for the output; backward mirrors
// it. Everything runs in fp32 (bf16/fp16 inputs are widened first), so it is the accuracy yardstick
// for fused kernels. Memory is O(b·n_q·s_q·s_kv): meant for tests and short sequences.
//
// GQA with the [s, b, n, d] layout: query head h = kv_head·group + gi. For a fixed gi, the pairs
// (batch r, kv head) form a strided batch u = r·n_kv + kv_head: q rows start at (u·group + gi)·d,
// k/v rows at u·d, score matrices at (u·group + gi)·s_q·s_kv. So each GEMM is `group` strided
// batched calls of b·n_kv products.
#include <algorithm>
#include <vector>

#include "core/base/philox.h"
#include "core/kernels/attention.h"
#include "core/kernels/cuda/cuda_util.cuh"
#include "core/kernels/cuda/gemm.h"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

using Geometry = AttentionGeometry;

// Document id of every query and key row on the device (I32 [b, s_q] and [b, s_kv]), or
// undefined tensors without document boundaries. Validated on the host like the CPU reference.
void document_ids(const char* op, const AttentionOptions& options, const Geometry& g,
                  Tensor& q_doc, Tensor& kv_doc) {
  const Tensor& offsets = options.doc_offsets;
  if (!offsets.defined()) return;
  require(op, "doc_offsets", offsets, DType::I64);
  check(offsets.rank() == 2 && offsets.dim(0) == g.batch && offsets.dim(1) >= 2,
        std::string(op) + ": doc_offsets must be [b, m + 1], got " + offsets.describe());
  Tensor host = Tensor::empty(offsets.shape(), DType::I64);
  host.copy_from(offsets);
  int64_t width = offsets.dim(1);
  const int64_t* table = host.data<int64_t>();
  Tensor q_host = Tensor::empty(Shape{g.batch, g.s_q}, DType::I32);
  Tensor kv_host = Tensor::empty(Shape{g.batch, g.s_kv}, DType::I32);
  for (int64_t r = 0; r < g.batch; ++r) {
    const int64_t* row = table + r * width;
    check(row[0] == 0 && std::is_sorted(row, row + width),
          std::string(op) + ": doc_offsets rows must start at 0 and be ascending");
    auto doc_of = [&](int64_t position) {
      if (position < 0 || position >= row[width - 1]) {  // built only on failure: called per position
        throw Error(std::string(op) + ": position " + std::to_string(position) +
                    " lies outside the documents of doc_offsets");
      }
      return int32_t(std::upper_bound(row, row + width, position) - row - 1);
    };
    for (int64_t i = 0; i < g.s_q; ++i) q_host.data<int32_t>()[r * g.s_q + i] = doc_of(options.q_position + i);
    for (int64_t j = 0; j < g.s_kv; ++j) {
      kv_host.data<int32_t>()[r * g.s_kv + j] = doc_of(options.q_position + options.kv_offset + j);
    }
  }
  q_doc = Tensor::empty(q_host.shape(), DType::I32, Device::CUDA);
  kv_doc = Tensor::empty(kv_host.shape(), DType::I32, Device::CUDA);
  q_doc.copy_from(q_host);
  kv_doc.copy_from(kv_host);
}

// What the row kernels need to decide visibility and dropout of (r, head, i, j).
struct MaskParams {
  int64_t s_q, s_kv, heads_q;
  bool causal;
  int64_t kv_offset, q_position;
  const int32_t* q_doc;   // nullptr without document boundaries
  const int32_t* kv_doc;
  float dropout_p;
  uint64_t seed, stream, offset;

  __device__ bool visible(int64_t r, int64_t i, int64_t j) const {
    if (causal && j + kv_offset > i) return false;
    if (q_doc && q_doc[r * s_q + i] != kv_doc[r * s_kv + j]) return false;
    return true;
  }
  __device__ float keep_scale(int64_t r, int64_t head, int64_t i, int64_t j) const {
    if (dropout_p == 0.0f) return 1.0f;
    uint64_t query = uint64_t(q_position + i);
    uint64_t key = uint64_t(q_position + kv_offset + j);
    uint64_t index = (uint64_t(r * heads_q + head) << 40) | (query << 20) | key;
    float u = philox_uniform(seed, stream, offset + index);
    return u >= dropout_p ? 1.0f / (1.0f - dropout_p) : 0.0f;
  }
};

MaskParams mask_params(const AttentionOptions& options, const Geometry& g, const Tensor& q_doc,
                       const Tensor& kv_doc) {
  return MaskParams{g.s_q, g.s_kv, g.heads_q, options.causal, options.kv_offset,
                    options.q_position, cptr<int32_t>(q_doc), cptr<int32_t>(kv_doc),
                    options.dropout_p, options.dropout_rng.seed, options.dropout_rng.stream,
                    options.dropout_rng.offset};
}

constexpr int kThreads = 128;

// Row (bh, i) of the scaled scores -> dropped-out probabilities in place; writes lse.
__global__ void softmax_forward_kernel(float* scores, float* lse, MaskParams mask) {
  int64_t row = blockIdx.x;  // (r·n_q + head)·s_q + i
  int64_t i = row % mask.s_q, bh = row / mask.s_q;
  int64_t r = bh / mask.heads_q, head = bh % mask.heads_q;
  float* s = scores + row * mask.s_kv;
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < mask.s_kv; j += blockDim.x) {
    if (mask.visible(r, i, j)) local_max = fmaxf(local_max, s[j]);
  }
  float row_max = block_max(local_max);
  float local_sum = 0.0f;
  if (row_max != -INFINITY) {
    for (int64_t j = threadIdx.x; j < mask.s_kv; j += blockDim.x) {
      if (mask.visible(r, i, j)) local_sum += expf(s[j] - row_max);
    }
  }
  float sum = block_sum(local_sum);
  if (threadIdx.x == 0) lse[row] = row_max == -INFINITY ? -INFINITY : row_max + logf(sum);
  for (int64_t j = threadIdx.x; j < mask.s_kv; j += blockDim.x) {
    float p = 0.0f;
    if (row_max != -INFINITY && mask.visible(r, i, j)) {
      p = expf(s[j] - row_max) / sum * mask.keep_scale(r, head, i, j);
    }
    s[j] = p;
  }
}

// Row (bh, i): scores -> dS·scale (in `scores`), dP -> dropped-out P (in `dprob`).
__global__ void softmax_backward_kernel(float* scores, float* dprob, const float* lse,
                                        const float* out, const float* dout, int64_t batch,
                                        int64_t head_dim, float scale, MaskParams mask) {
  int64_t row = blockIdx.x;
  int64_t i = row % mask.s_q, bh = row / mask.s_q;
  int64_t r = bh / mask.heads_q, head = bh % mask.heads_q;
  // δ_i = Σ_c dO_ic · O_ic
  int64_t at = ((i * batch + r) * mask.heads_q + head) * head_dim;
  float local = 0.0f;
  for (int64_t c = threadIdx.x; c < head_dim; c += blockDim.x) local += dout[at + c] * out[at + c];
  float delta = block_sum(local);
  float row_lse = lse[row];
  float* s = scores + row * mask.s_kv;
  float* dp = dprob + row * mask.s_kv;
  for (int64_t j = threadIdx.x; j < mask.s_kv; j += blockDim.x) {
    float ds = 0.0f, kept = 0.0f;
    if (row_lse != -INFINITY && mask.visible(r, i, j)) {
      float p = expf(s[j] - row_lse);
      float keep = mask.keep_scale(r, head, i, j);
      ds = p * (dp[j] * keep - delta) * scale;
      kept = p * keep;
    }
    s[j] = ds;
    dp[j] = kept;
  }
}

// The fp32 version of t (t itself when already fp32).
Tensor as_f32(const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  Tensor wide = Tensor::empty(t.shape(), DType::F32, Device::CUDA);
  wide.copy_from(t);
  return wide;
}

// An fp32 buffer for output t (t itself when fp32).
Tensor f32_output(const Tensor& t) {
  return t.dtype() == DType::F32 ? t : Tensor::empty(t.shape(), DType::F32, Device::CUDA);
}

// Operand of the per-group batched GEMMs: base pointer, leading dimension, batch stride.
struct Operand {
  const float* base;
  int64_t ld, stride;
};

// For each gi < group: D_gi = alpha · op(A_gi) · op(B_gi) + beta_gi · D_gi, where the operand
// of group member gi starts at base + gi·gi_step (gi_step 0 for k/v operands shared by the group).
void grouped_gemm(const Geometry& g, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                  Operand a, int64_t a_step, Operand b, int64_t b_step, float* d, int64_t ldd,
                  int64_t d_stride, int64_t d_step, float alpha, bool accumulate_over_group) {
  for (int64_t gi = 0; gi < g.group; ++gi) {
    GemmOptions o;
    o.m = m;
    o.n = n;
    o.k = k;
    o.transpose_a = ta;
    o.transpose_b = tb;
    o.a = a.base + gi * a_step;
    o.lda = a.ld;
    o.stride_a = a.stride;
    o.b = b.base + gi * b_step;
    o.ldb = b.ld;
    o.stride_b = b.stride;
    o.d = d + gi * d_step;
    o.ldd = ldd;
    o.stride_d = d_stride;
    o.batch = int(g.batch * g.heads_kv);
    o.alpha = alpha;
    o.beta = accumulate_over_group && gi > 0 ? 1.0f : 0.0f;
    gemm(o);
  }
}

}  // namespace

void attention_forward_unfused(const Tensor& q, const Tensor& k, const Tensor& v,
                               const AttentionOptions& options, const Tensor& out,
                               const Tensor& lse) {
  const char* op = "attention_forward";
  activation_dtype(op, {&q, &k, &v, &out});
  Geometry g = attention_geometry(op, q, k, v, options);
  require(op, "lse", lse, DType::F32);
  require_shape(op, "out", out, q.shape());
  require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  check(g.batch * g.heads_kv < (int64_t(1) << 31), std::string(op) + ": too many heads");
  if (g.s_q == 0 || g.batch == 0 || g.heads_q == 0) return;
  check(g.head_dim > 0, std::string(op) + ": head dim must be positive");
  if (g.s_kv == 0) {  // no keys: every query sees nothing
    out.fill(0.0);
    lse.fill(-INFINITY);
    return;
  }
  Tensor q_doc, kv_doc;
  document_ids(op, options, g, q_doc, kv_doc);
  Tensor q32 = as_f32(q), k32 = as_f32(k), v32 = as_f32(v), out32 = f32_output(out);
  const int64_t d = g.head_dim, ldq = g.batch * g.heads_q * d, ldk = g.batch * g.heads_kv * d;
  const int64_t score_size = g.s_q * g.s_kv;
  Tensor scores = Tensor::empty(Shape{g.batch * g.heads_q, g.s_q, g.s_kv}, DType::F32, Device::CUDA);
  float* s = scores.data<float>();
  // Sᵀ [s_kv, s_q] = K [s_kv, d] · Qᵀ [d, s_q] (scaled).
  grouped_gemm(g, g.s_kv, g.s_q, d, true, false, {k32.data<float>(), ldk, d}, 0,
               {q32.data<float>(), ldq, g.group * d}, d, s, g.s_kv, g.group * score_size,
               score_size, options.softmax_scale, false);
  MaskParams mask = mask_params(options, g, q_doc, kv_doc);
  softmax_forward_kernel<<<unsigned(g.batch * g.heads_q * g.s_q), kThreads, 0, current_stream()>>>(
      s, lse.data<float>(), mask);
  MCPP_CUDA_CHECK_LAUNCH();
  // Oᵀ [d, s_q] = Vᵀ [d, s_kv] · Pᵀ [s_kv, s_q].
  grouped_gemm(g, d, g.s_q, g.s_kv, false, false, {v32.data<float>(), ldk, d}, 0,
               {s, g.s_kv, g.group * score_size}, score_size, out32.data<float>(), ldq,
               g.group * d, d, 1.0f, false);
  if (out32.raw_data() != out.raw_data()) out.copy_from(out32);
}

void attention_backward_unfused(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& out, const Tensor& lse, const Tensor& dout,
                                const AttentionOptions& options, const Tensor& dq,
                                const Tensor& dk, const Tensor& dv) {
  const char* op = "attention_backward";
  activation_dtype(op, {&q, &k, &v, &out, &dout, &dq, &dk, &dv});
  Geometry g = attention_geometry(op, q, k, v, options);
  require(op, "lse", lse, DType::F32);
  require_shape(op, "out", out, q.shape());
  require_shape(op, "dout", dout, q.shape());
  require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  require_shape(op, "dq", dq, q.shape());
  require_shape(op, "dk", dk, k.shape());
  require_shape(op, "dv", dv, k.shape());
  check(g.batch * g.heads_kv < (int64_t(1) << 31), std::string(op) + ": too many heads");
  if (g.s_q == 0 || g.s_kv == 0 || g.batch == 0 || g.heads_q == 0 || g.head_dim == 0) {
    dq.fill(0.0);
    dk.fill(0.0);
    dv.fill(0.0);
    return;
  }
  Tensor q_doc, kv_doc;
  document_ids(op, options, g, q_doc, kv_doc);
  Tensor q32 = as_f32(q), k32 = as_f32(k), v32 = as_f32(v), out32 = as_f32(out),
         dout32 = as_f32(dout);
  Tensor dq32 = f32_output(dq), dk32 = f32_output(dk), dv32 = f32_output(dv);
  const int64_t d = g.head_dim, ldq = g.batch * g.heads_q * d, ldk = g.batch * g.heads_kv * d;
  const int64_t score_size = g.s_q * g.s_kv;
  Shape score_shape{g.batch * g.heads_q, g.s_q, g.s_kv};
  Tensor scores = Tensor::empty(score_shape, DType::F32, Device::CUDA);
  Tensor dprob = Tensor::empty(score_shape, DType::F32, Device::CUDA);
  float* s = scores.data<float>();
  float* dp = dprob.data<float>();
  Operand q_op{q32.data<float>(), ldq, g.group * d}, k_op{k32.data<float>(), ldk, d},
      v_op{v32.data<float>(), ldk, d}, do_op{dout32.data<float>(), ldq, g.group * d};
  Operand s_op{s, g.s_kv, g.group * score_size}, dp_op{dp, g.s_kv, g.group * score_size};
  // Recomputed scaled scores, and dPᵀ [s_kv, s_q] = V [s_kv, d] · dOᵀ [d, s_q].
  grouped_gemm(g, g.s_kv, g.s_q, d, true, false, k_op, 0, q_op, d, s, g.s_kv,
               g.group * score_size, score_size, options.softmax_scale, false);
  grouped_gemm(g, g.s_kv, g.s_q, d, true, false, v_op, 0, do_op, d, dp, g.s_kv,
               g.group * score_size, score_size, 1.0f, false);
  MaskParams mask = mask_params(options, g, q_doc, kv_doc);
  softmax_backward_kernel<<<unsigned(g.batch * g.heads_q * g.s_q), kThreads, 0, current_stream()>>>(
      s, dp, lse.data<float>(), out32.data<float>(), dout32.data<float>(), g.batch, d,
      options.softmax_scale, mask);
  MCPP_CUDA_CHECK_LAUNCH();
  // dVᵀ [d, s_kv] = dOᵀ [d, s_q] · P̃ [s_q, s_kv], summed over the query heads of the group.
  grouped_gemm(g, d, g.s_kv, g.s_q, false, true, do_op, d, dp_op, score_size, dv32.data<float>(),
               ldk, d, 0, 1.0f, true);
  // dKᵀ [d, s_kv] = Qᵀ [d, s_q] · dS [s_q, s_kv], likewise summed over the group.
  grouped_gemm(g, d, g.s_kv, g.s_q, false, true, q_op, d, s_op, score_size, dk32.data<float>(),
               ldk, d, 0, 1.0f, true);
  // dQᵀ [d, s_q] = Kᵀ [d, s_kv] · dSᵀ [s_kv, s_q].
  grouped_gemm(g, d, g.s_q, g.s_kv, false, false, k_op, 0, s_op, score_size, dq32.data<float>(),
               ldq, g.group * d, d, 1.0f, false);
  if (dq32.raw_data() != dq.raw_data()) dq.copy_from(dq32);
  if (dk32.raw_data() != dk.raw_data()) dk.copy_from(dk32);
  if (dv32.raw_data() != dv.raw_data()) dv.copy_from(dv32);
}

}  // namespace mcpp::core::gpu
