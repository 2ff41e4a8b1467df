// fp32 reference core attention: explicit O(s_q · s_kv) scores per (batch, head), OpenMP over
// (batch, head). Visibility, dropout indexing and the lse convention are specified in
// core/kernels/attention.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels/attention.h"
#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

using Geometry = AttentionGeometry;

// The CPU reference computes in fp32 only.
Geometry check_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                      const AttentionOptions& options) {
  require(op, "q", q, DType::F32);
  require(op, "k", k, DType::F32);
  require(op, "v", v, DType::F32);
  return attention_geometry(op, q, k, v, options);
}

// Document id of every query row and key row ([batch, s_q] and [batch, s_kv]); empty without
// document boundaries.
void document_ids(const char* op, const AttentionOptions& options, const Geometry& g,
                  std::vector<int32_t>& q_doc, std::vector<int32_t>& kv_doc) {
  q_doc.clear();
  kv_doc.clear();
  const Tensor& offsets = options.doc_offsets;
  if (!offsets.defined()) return;
  require(op, "doc_offsets", offsets, DType::I64);
  check(offsets.rank() == 2 && offsets.dim(0) == g.batch && offsets.dim(1) >= 2,
        std::string(op) + ": doc_offsets must be [b, m + 1], got " + offsets.describe());
  int64_t width = offsets.dim(1);
  const int64_t* table = offsets.data<int64_t>();
  q_doc.resize(g.batch * g.s_q);
  kv_doc.resize(g.batch * g.s_kv);
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
    for (int64_t i = 0; i < g.s_q; ++i) q_doc[r * g.s_q + i] = doc_of(options.q_position + i);
    for (int64_t j = 0; j < g.s_kv; ++j) {
      kv_doc[r * g.s_kv + j] = doc_of(options.q_position + options.kv_offset + j);
    }
  }
}

// Everything the inner loops need to decide visibility and dropout of (i, j).
struct Mask {
  const AttentionOptions& options;
  const Geometry& g;
  const std::vector<int32_t>& q_doc;
  const std::vector<int32_t>& kv_doc;

  bool visible(int64_t r, int64_t i, int64_t j) const {
    if (options.causal && j + options.kv_offset > i) return false;
    if (!q_doc.empty() && q_doc[r * g.s_q + i] != kv_doc[r * g.s_kv + j]) return false;
    return true;
  }
  // Dropout multiplier of probability (r, head, i, j): 0 or 1/(1−p).
  float keep_scale(int64_t r, int64_t head, int64_t i, int64_t j) const {
    if (options.dropout_p == 0.0f) return 1.0f;
    uint64_t query = uint64_t(options.q_position + i);
    uint64_t key = uint64_t(options.q_position + options.kv_offset + j);
    uint64_t index = (uint64_t(r * g.heads_q + head) << 40) | (query << 20) | key;
    const PhiloxStream& rng = options.dropout_rng;
    float u = philox_uniform(rng.seed, rng.stream, rng.offset + index);
    return u >= options.dropout_p ? 1.0f / (1.0f - options.dropout_p) : 0.0f;
  }
};

float dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

}  // namespace

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse) {
  const char* op = "attention_forward";
  Geometry g = check_inputs(op, q, k, v, options);
  require(op, "out", out, DType::F32);
  require(op, "lse", lse, DType::F32);
  require_shape(op, "out", out, q.shape());
  require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  std::vector<int32_t> q_doc, kv_doc;
  document_ids(op, options, g, q_doc, kv_doc);
  Mask mask{options, g, q_doc, kv_doc};

  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op_out = out.data<float>();
  float* lse_out = lse.data<float>();
  const int64_t d = g.head_dim;
#pragma omp parallel if (worth_parallel(g.batch * g.heads_q * g.s_q * g.s_kv * g.head_dim))
  {
    std::vector<float> scores(g.s_kv);
    std::vector<float> acc(d);
#pragma omp for collapse(2) schedule(static)
    for (int64_t r = 0; r < g.batch; ++r) {
      for (int64_t head = 0; head < g.heads_q; ++head) {
        int64_t kv_head = head / g.group;
        for (int64_t i = 0; i < g.s_q; ++i) {
          const float* qi = qp + ((i * g.batch + r) * g.heads_q + head) * d;
          float* oi = op_out + ((i * g.batch + r) * g.heads_q + head) * d;
          float max_score = kNegInf;
          for (int64_t j = 0; j < g.s_kv; ++j) {
            if (!mask.visible(r, i, j)) {
              scores[j] = kNegInf;
              continue;
            }
            const float* kj = kp + ((j * g.batch + r) * g.heads_kv + kv_head) * d;
            scores[j] = options.softmax_scale * dot(qi, kj, d);
            max_score = std::max(max_score, scores[j]);
          }
          float& row_lse = lse_out[(r * g.heads_q + head) * g.s_q + i];
          if (max_score == kNegInf) {
            row_lse = kNegInf;
            std::fill(oi, oi + d, 0.0f);
            continue;
          }
          double sum = 0.0;
          for (int64_t j = 0; j < g.s_kv; ++j) {
            if (scores[j] != kNegInf) sum += std::exp(double(scores[j]) - max_score);
          }
          row_lse = float(max_score + std::log(sum));
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t j = 0; j < g.s_kv; ++j) {
            if (scores[j] == kNegInf) continue;
            float weight = float(std::exp(double(scores[j]) - max_score) / sum) *
                           mask.keep_scale(r, head, i, j);
            if (weight == 0.0f) continue;
            const float* vj = vp + ((j * g.batch + r) * g.heads_kv + kv_head) * d;
            for (int64_t c = 0; c < d; ++c) acc[c] += weight * vj[c];
          }
          std::copy(acc.begin(), acc.end(), oi);
        }
      }
    }
  }
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  const char* op = "attention_backward";
  Geometry g = check_inputs(op, q, k, v, options);
  require(op, "out", out, DType::F32);
  require(op, "lse", lse, DType::F32);
  require(op, "dout", dout, DType::F32);
  require(op, "dq", dq, DType::F32);
  require(op, "dk", dk, DType::F32);
  require(op, "dv", dv, DType::F32);
  require_shape(op, "out", out, q.shape());
  require_shape(op, "dout", dout, q.shape());
  require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  require_shape(op, "dq", dq, q.shape());
  require_shape(op, "dk", dk, k.shape());
  require_shape(op, "dv", dv, k.shape());
  std::vector<int32_t> q_doc, kv_doc;
  document_ids(op, options, g, q_doc, kv_doc);
  Mask mask{options, g, q_doc, kv_doc};

  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  const float* outp = out.data<float>();
  const float* lsep = lse.data<float>();
  const float* doutp = dout.data<float>();
  float* dqp = dq.data<float>();
  float* dkp = dk.data<float>();
  float* dvp = dv.data<float>();
  const int64_t d = g.head_dim;
  const float scale = options.softmax_scale;
  // One task per (batch, kv head): it owns that kv head's dk/dv rows and its query heads' dq
  // rows, so no two threads write the same element.
#pragma omp parallel if (worth_parallel(g.batch * g.heads_q * g.s_q * g.s_kv * g.head_dim))
  {
    std::vector<float> dq_row(d);
#pragma omp for collapse(2) schedule(static)
    for (int64_t r = 0; r < g.batch; ++r) {
      for (int64_t kv_head = 0; kv_head < g.heads_kv; ++kv_head) {
        for (int64_t j = 0; j < g.s_kv; ++j) {
          int64_t at = ((j * g.batch + r) * g.heads_kv + kv_head) * d;
          std::fill(dkp + at, dkp + at + d, 0.0f);
          std::fill(dvp + at, dvp + at + d, 0.0f);
        }
        for (int64_t head = kv_head * g.group; head < (kv_head + 1) * g.group; ++head) {
          for (int64_t i = 0; i < g.s_q; ++i) {
            int64_t qi_at = ((i * g.batch + r) * g.heads_q + head) * d;
            const float* qi = qp + qi_at;
            const float* doi = doutp + qi_at;
            float row_lse = lsep[(r * g.heads_q + head) * g.s_q + i];
            std::fill(dq_row.begin(), dq_row.end(), 0.0f);
            if (row_lse != kNegInf) {
              // D_i = Σ_c dO_ic · O_ic = Σ_j dP_ij · P_ij (holds with dropout too).
              float delta = dot(doi, outp + qi_at, d);
              for (int64_t j = 0; j < g.s_kv; ++j) {
                if (!mask.visible(r, i, j)) continue;
                int64_t kj_at = ((j * g.batch + r) * g.heads_kv + kv_head) * d;
                const float* kj = kp + kj_at;
                float p = std::exp(scale * dot(qi, kj, d) - row_lse);
                float keep = mask.keep_scale(r, head, i, j);
                float dp = keep == 0.0f ? 0.0f : dot(doi, vp + kj_at, d) * keep;
                float ds = p * (dp - delta);
                float pv = p * keep;
                for (int64_t c = 0; c < d; ++c) {
                  dq_row[c] += scale * ds * kj[c];
                  dkp[kj_at + c] += scale * ds * qi[c];
                  dvp[kj_at + c] += pv * doi[c];
                }
              }
            }
            std::copy(dq_row.begin(), dq_row.end(), dqp + qi_at);
          }
        }
      }
    }
  }
}

}  // namespace mcpp::core::cpu
