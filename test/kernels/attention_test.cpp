// Core attention: naive forward, finite-difference backward, and the identities the parallel
// forms rely on (documents, key-block merging via lse, query blocks, GQA, dropout indexing).
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels/attention.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::poisoned;
using test::random_tensor;
using test::require_close;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Result {
  Tensor out, lse;
};

Result forward(const Tensor& q, const Tensor& k, const Tensor& v, const core::AttentionOptions& options) {
  Result r{poisoned(q.shape()), poisoned({q.dim(1), q.dim(2), q.dim(0)})};
  core::attention_forward(q, k, v, options, r.out, r.lse);
  return r;
}

struct Grads {
  Tensor dq, dk, dv;
};

Grads backward(const Tensor& q, const Tensor& k, const Tensor& v, const Result& fwd,
               const Tensor& dout, const core::AttentionOptions& options) {
  Grads g{poisoned(q.shape()), poisoned(k.shape()), poisoned(v.shape())};
  core::attention_backward(q, k, v, fwd.out, fwd.lse, dout, options, g.dq, g.dk, g.dv);
  return g;
}

// Batch element r of a [s, b, ...] tensor as [s, 1, ...].
Tensor batch_element(const Tensor& t, int64_t r) {
  Shape shape = t.shape();
  int64_t s = shape[0], b = shape[1], inner = t.numel() / (s * b);
  shape[1] = 1;
  Tensor out = Tensor::empty(shape);
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t c = 0; c < inner; ++c) out.data<float>()[i * inner + c] = t.data<float>()[(i * b + r) * inner + c];
  }
  return out;
}

// Query rows [begin, end) of lse [b, n, s].
Tensor lse_rows(const Tensor& lse, int64_t begin, int64_t end) {
  int64_t b = lse.dim(0), n = lse.dim(1), s = lse.dim(2);
  Tensor out = Tensor::empty({b, n, end - begin});
  for (int64_t bn = 0; bn < b * n; ++bn) {
    for (int64_t i = begin; i < end; ++i) out.data<float>()[bn * (end - begin) + i - begin] = lse.data<float>()[bn * s + i];
  }
  return out;
}

// The ring-attention merge of two partial results over disjoint key blocks.
Result merge(const Result& a, const Result& b) {
  Result m{Tensor::empty(a.out.shape()), Tensor::empty(a.lse.shape())};
  int64_t s = a.out.dim(0), batch = a.out.dim(1), n = a.out.dim(2), d = a.out.dim(3);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t h = 0; h < n; ++h) {
      for (int64_t i = 0; i < s; ++i) {
        int64_t at = (r * n + h) * s + i;
        double la = a.lse.data<float>()[at], lb = b.lse.data<float>()[at];
        double l = std::max(la, lb);
        if (l != -INFINITY) l += std::log(std::exp(la - l) + std::exp(lb - l));
        m.lse.data<float>()[at] = float(l);
        for (int64_t c = 0; c < d; ++c) {
          int64_t o = ((i * batch + r) * n + h) * d + c;
          double value = 0;
          if (la != -INFINITY) value += a.out.data<float>()[o] * std::exp(la - l);
          if (lb != -INFINITY) value += b.out.data<float>()[o] * std::exp(lb - l);
          m.out.data<float>()[o] = float(value);
        }
      }
    }
  }
  return m;
}

core::AttentionOptions options_for(int64_t d, bool causal) {
  core::AttentionOptions options;
  options.softmax_scale = float(1.0 / std::sqrt(double(d)));
  options.causal = causal;
  return options;
}

Tensor doc_offsets(std::initializer_list<std::vector<int64_t>> rows) {
  int64_t width = int64_t(rows.begin()->size());
  Tensor t = Tensor::empty({int64_t(rows.size()), width}, DType::I64);
  int64_t r = 0;
  for (const auto& row : rows) {
    for (int64_t c = 0; c < width; ++c) t.data<int64_t>()[r * width + c] = row[c];
    ++r;
  }
  return t;
}

}  // namespace

TEST_CASE("attention forward matches a naive masked softmax") {
  const int64_t s = 5, b = 2, n = 2, d = 4;
  Tensor q = random_tensor({s, b, n, d}, 1, -2, 2), k = random_tensor({s, b, n, d}, 2, -2, 2);
  Tensor v = random_tensor({s, b, n, d}, 3);
  for (bool causal : {true, false}) {
    auto options = options_for(d, causal);
    Result res = forward(q, k, v, options);
    for (int64_t r = 0; r < b; ++r) {
      for (int64_t h = 0; h < n; ++h) {
        for (int64_t i = 0; i < s; ++i) {
          std::vector<double> p(s, 0.0);
          double z = 0;
          for (int64_t j = 0; j < s; ++j) {
            if (causal && j > i) continue;
            double dot = 0;
            for (int64_t c = 0; c < d; ++c) {
              dot += double(q.data<float>()[((i * b + r) * n + h) * d + c]) * k.data<float>()[((j * b + r) * n + h) * d + c];
            }
            p[j] = std::exp(dot / std::sqrt(double(d)));
            z += p[j];
          }
          REQUIRE(res.lse.data<float>()[(r * n + h) * s + i] == Approx(std::log(z)).epsilon(1e-5));
          for (int64_t c = 0; c < d; ++c) {
            double expected = 0;
            for (int64_t j = 0; j < s; ++j) expected += p[j] / z * v.data<float>()[((j * b + r) * n + h) * d + c];
            REQUIRE(res.out.data<float>()[((i * b + r) * n + h) * d + c] == Approx(expected).margin(1e-5));
          }
        }
      }
    }
  }
}

TEST_CASE("attention backward matches finite differences (GQA, offsets, documents, dropout)") {
  const int64_t s_q = 4, s_kv = 5, b = 2, n_q = 4, n_kv = 2, d = 3;
  Tensor q = random_tensor({s_q, b, n_q, d}, 4, -2, 2), k = random_tensor({s_kv, b, n_kv, d}, 5, -2, 2);
  Tensor v = random_tensor({s_kv, b, n_kv, d}, 6);
  Tensor weights = random_tensor({s_q, b, n_q, d}, 7);

  std::vector<core::AttentionOptions> cases;
  cases.push_back(options_for(d, true));
  auto with_offset = options_for(d, true);
  with_offset.kv_offset = -1;
  with_offset.q_position = 1;
  with_offset.doc_offsets = doc_offsets({{0, 3, 6}, {0, 6, 6}});
  cases.push_back(with_offset);
  auto late_keys = options_for(d, true);
  late_keys.kv_offset = 2;  // queries 0 and 1 see no key
  cases.push_back(late_keys);
  auto dropout = options_for(d, false);
  dropout.dropout_p = 0.25f;
  dropout.dropout_rng = PhiloxStream{3, 9, 0};
  cases.push_back(dropout);

  for (const auto& options : cases) {
    Result res = forward(q, k, v, options);
    Grads g = backward(q, k, v, res, weights, options);
    auto loss = [&] {
      Result probe = forward(q, k, v, options);
      return test::weighted_sum(probe.out, weights);
    };
    test::check_gradient(q, g.dq, loss, "attention dq");
    test::check_gradient(k, g.dk, loss, "attention dk");
    test::check_gradient(v, g.dv, loss, "attention dv");
  }

  // Rows with no visible key: lse = -inf, out = 0, dq = 0.
  Result res = forward(q, k, v, late_keys);
  Grads g = backward(q, k, v, res, weights, late_keys);
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t h = 0; h < n_q; ++h) {
      for (int64_t i = 0; i < 2; ++i) {
        REQUIRE(res.lse.data<float>()[(r * n_q + h) * s_q + i] == kNegInf);
        for (int64_t c = 0; c < d; ++c) {
          REQUIRE(res.out.data<float>()[((i * b + r) * n_q + h) * d + c] == 0.0f);
          REQUIRE(g.dq.data<float>()[((i * b + r) * n_q + h) * d + c] == 0.0f);
        }
      }
    }
  }
}

TEST_CASE("attention with document boundaries equals attention per document") {
  const int64_t s = 7, b = 2, n = 2, d = 4;
  Tensor q = random_tensor({s, b, n, d}, 8), k = random_tensor({s, b, n, d}, 9), v = random_tensor({s, b, n, d}, 10);
  auto options = options_for(d, true);
  options.doc_offsets = doc_offsets({{0, 3, 7}, {0, 7, 7}});
  Result full = forward(q, k, v, options);

  // Batch element 0: documents [0, 3) and [3, 7) run separately.
  Tensor q0 = batch_element(q, 0), k0 = batch_element(k, 0), v0 = batch_element(v, 0);
  Tensor out0 = batch_element(full.out, 0);
  auto plain = options_for(d, true);
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 3}, {3, 7}}) {
    Result doc = forward(q0.slice(begin, end), k0.slice(begin, end), v0.slice(begin, end), plain);
    require_close(doc.out, out0.slice(begin, end), 1e-6, 1e-5, "document out");
    for (int64_t h = 0; h < n; ++h) {
      for (int64_t i = begin; i < end; ++i) {
        REQUIRE(doc.lse.data<float>()[h * (end - begin) + i - begin] ==
                Approx(full.lse.data<float>()[(0 * n + h) * s + i]).epsilon(1e-6));
      }
    }
  }
  // Batch element 1: a single document = plain causal attention.
  Result one = forward(batch_element(q, 1), batch_element(k, 1), batch_element(v, 1), plain);
  require_close(one.out, batch_element(full.out, 1), 1e-6, 1e-5, "single document");
}

TEST_CASE("attention over key blocks merges via lse into full attention (ring identity)") {
  const int64_t s = 8, b = 2, n = 2, d = 4, split = 3;
  Tensor q = random_tensor({s, b, n, d}, 11, -2, 2), k = random_tensor({s, b, n, d}, 12, -2, 2);
  Tensor v = random_tensor({s, b, n, d}, 13);
  Tensor dout = random_tensor({s, b, n, d}, 14);
  for (float p : {0.0f, 0.2f}) {
    auto options = options_for(d, true);
    options.dropout_p = p;
    options.dropout_rng = PhiloxStream{5, 1, 0};
    options.doc_offsets = doc_offsets({{0, 8, 8}, {0, 5, 8}});
    Result full = forward(q, k, v, options);
    Grads full_grads = backward(q, k, v, full, dout, options);

    auto first = options, second = options;
    second.kv_offset = split;
    Tensor k1 = k.slice(0, split), v1 = v.slice(0, split), k2 = k.slice(split, s), v2 = v.slice(split, s);
    Result merged = merge(forward(q, k1, v1, first), forward(q, k2, v2, second));
    require_close(merged.out, full.out, 1e-5, 1e-5, "merged out");
    require_close(merged.lse, full.lse, 1e-5, 1e-5, "merged lse");

    // Backward per block with the merged out and lse gives the blocks of the full gradient.
    Grads g1 = backward(q, k1, v1, merged, dout, first);
    Grads g2 = backward(q, k2, v2, merged, dout, second);
    Tensor dq = Tensor::empty(q.shape());
    for (int64_t i = 0; i < dq.numel(); ++i) dq.data<float>()[i] = g1.dq.data<float>()[i] + g2.dq.data<float>()[i];
    require_close(dq, full_grads.dq, 1e-5, 1e-4, "block dq sum");
    require_close(g1.dk, full_grads.dk.slice(0, split), 1e-5, 1e-4, "block 1 dk");
    require_close(g2.dk, full_grads.dk.slice(split, s), 1e-5, 1e-4, "block 2 dk");
    require_close(g1.dv, full_grads.dv.slice(0, split), 1e-5, 1e-4, "block 1 dv");
    require_close(g2.dv, full_grads.dv.slice(split, s), 1e-5, 1e-4, "block 2 dv");

    // A block of queries (rows 5..8 against all keys: kv_offset = -5) equals those rows.
    auto late = options;
    late.q_position = 5;
    late.kv_offset = -5;
    Result rows = forward(q.slice(5, s), k, v, late);
    require_close(rows.out, full.out.slice(5, s), 1e-6, 1e-5, "query block out");
    require_close(rows.lse, lse_rows(full.lse, 5, s), 1e-6, 1e-5, "query block lse");
  }
}

TEST_CASE("grouped-query attention equals multi-head attention with repeated KV") {
  const int64_t s = 6, b = 2, n_q = 6, n_kv = 2, d = 4, group = 3;
  Tensor q = random_tensor({s, b, n_q, d}, 15), k = random_tensor({s, b, n_kv, d}, 16);
  Tensor v = random_tensor({s, b, n_kv, d}, 17), dout = random_tensor({s, b, n_q, d}, 18);
  Tensor k_rep = Tensor::empty({s, b, n_q, d}), v_rep = Tensor::empty({s, b, n_q, d});
  for (int64_t sb = 0; sb < s * b; ++sb) {
    for (int64_t h = 0; h < n_q; ++h) {
      for (int64_t c = 0; c < d; ++c) {
        k_rep.data<float>()[(sb * n_q + h) * d + c] = k.data<float>()[(sb * n_kv + h / group) * d + c];
        v_rep.data<float>()[(sb * n_q + h) * d + c] = v.data<float>()[(sb * n_kv + h / group) * d + c];
      }
    }
  }
  auto options = options_for(d, true);
  Result gqa = forward(q, k, v, options);
  Result mha = forward(q, k_rep, v_rep, options);
  require_close(gqa.out, mha.out, 0, 0, "GQA out");
  require_close(gqa.lse, mha.lse, 0, 0, "GQA lse");
  Grads g = backward(q, k, v, gqa, dout, options);
  Grads g_rep = backward(q, k_rep, v_rep, mha, dout, options);
  require_close(g.dq, g_rep.dq, 1e-6, 1e-5, "GQA dq");
  Tensor dk_sum = Tensor::zeros(k.shape()), dv_sum = Tensor::zeros(v.shape());
  for (int64_t sb = 0; sb < s * b; ++sb) {
    for (int64_t h = 0; h < n_q; ++h) {
      for (int64_t c = 0; c < d; ++c) {
        dk_sum.data<float>()[(sb * n_kv + h / group) * d + c] += g_rep.dk.data<float>()[(sb * n_q + h) * d + c];
        dv_sum.data<float>()[(sb * n_kv + h / group) * d + c] += g_rep.dv.data<float>()[(sb * n_q + h) * d + c];
      }
    }
  }
  require_close(g.dk, dk_sum, 1e-6, 1e-5, "GQA dk");
  require_close(g.dv, dv_sum, 1e-6, 1e-5, "GQA dv");
  CHECK_THROWS_AS(forward(q, random_tensor({s, b, 4, d}, 1), random_tensor({s, b, 4, d}, 2), options), Error);
}
