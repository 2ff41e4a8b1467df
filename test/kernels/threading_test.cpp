// The OpenMP paths (taken only above a work threshold) give the same bits on one thread and on
// several: no races, and row/column reductions in a fixed order (the cross-entropy totals are
// fp64 sums rounded to fp32).
#include <omp.h>

#include <functional>
#include <vector>

#include "core/kernels/attention.h"
#include "core/kernels/cross_entropy.h"
#include "core/kernels/dropout.h"
#include "core/kernels/embedding.h"
#include "core/kernels/gelu.h"
#include "core/kernels/layernorm.h"
#include "core/kernels/linear.h"
#include "core/kernels/random_init.h"
#include "core/kernels/rmsnorm.h"
#include "core/kernels/rope.h"
#include "core/kernels/swiglu.h"
#include "test/kernels/kernel_test_util.h"

using namespace mcpp;
using test::poisoned;
using test::random_tensor;

namespace {

// Runs `compute` (which fills and returns its outputs) on 1 thread and on 4, comparing bits.
void require_thread_independent(const std::function<std::vector<Tensor>()>& compute, const char* what) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<Tensor> serial = compute();
  omp_set_num_threads(4);
  std::vector<Tensor> parallel = compute();
  omp_set_num_threads(saved);
  REQUIRE(serial.size() == parallel.size());
  for (size_t i = 0; i < serial.size(); ++i) test::require_close(parallel[i], serial[i], 0, 0, what);
}

}  // namespace

TEST_CASE("kernels give identical results on one thread and on several") {
  Tensor x = random_tensor({64, 2, 1024}, 1);
  Tensor gamma = random_tensor({1024}, 2), beta = random_tensor({1024}, 3);
  Tensor dy = random_tensor({64, 2, 1024}, 4);
  require_thread_independent([&] {
    Tensor y = poisoned(x.shape()), mean = poisoned({128}), rstd = poisoned({128});
    core::layernorm_forward(x, gamma, beta, {}, y, mean, rstd);
    Tensor dx = poisoned(x.shape()), dgamma = Tensor::zeros({1024}), dbeta = Tensor::zeros({1024});
    core::layernorm_backward(x, gamma, mean, rstd, dy, {}, dx, dgamma, dbeta);
    Tensor ry = poisoned(x.shape()), rrstd = poisoned({128}), rdx = poisoned(x.shape()), rdg = Tensor::zeros({1024});
    core::rmsnorm_forward(x, gamma, {}, ry, rrstd);
    core::rmsnorm_backward(x, gamma, rrstd, dy, {}, rdx, rdg);
    return std::vector<Tensor>{y, dx, dgamma, dbeta, ry, rdx, rdg};
  }, "norms");

  Tensor w = random_tensor({512, 1024}, 5), bias = random_tensor({512}, 6);
  Tensor dlin = random_tensor({64, 2, 512}, 7);
  require_thread_independent([&] {
    Tensor y = poisoned({64, 2, 512});
    core::linear_forward(x, w, bias, y);
    Tensor dx = poisoned(x.shape()), dw = Tensor::zeros(w.shape()), db = Tensor::zeros({512});
    core::linear_backward(x, w, dlin, dx, dw, db);
    return std::vector<Tensor>{y, dx, dw, db};
  }, "linear");

  require_thread_independent([&] {
    Tensor g = poisoned(x.shape()), dg = poisoned(x.shape()), dbias = Tensor::zeros({1024});
    core::gelu_forward(x, gamma, g);
    core::gelu_backward(x, gamma, dy, dg, dbias);
    Tensor s = poisoned({64, 2, 512}), ds = poisoned(x.shape());
    core::swiglu_forward(x, s);
    core::swiglu_backward(x, dlin, ds);
    Tensor d = poisoned(x.shape()), dd = poisoned(x.shape());
    core::dropout_forward(x, 0.1f, {1, 2, 3}, d);
    core::dropout_backward(dy, 0.1f, {1, 2, 3}, dd);
    Tensor init = poisoned({64, 1024});
    core::init_normal(init, 0.0f, 1.0f, {4, 5, 6});
    return std::vector<Tensor>{g, dg, dbias, s, ds, d, dd, init};
  }, "elementwise ops");

  Tensor heads = x.view({64, 2, 16, 64});
  require_thread_independent([&] {
    Tensor r = poisoned(heads.shape());
    core::rope_forward(heads, Tensor(), {}, r);
    return std::vector<Tensor>{r};
  }, "rope");

  Tensor q = random_tensor({64, 2, 4, 16}, 8), k = random_tensor({64, 2, 2, 16}, 9), v = random_tensor({64, 2, 2, 16}, 10);
  Tensor dout = random_tensor({64, 2, 4, 16}, 11);
  core::AttentionOptions options;
  options.softmax_scale = 0.25f;
  options.dropout_p = 0.1f;
  require_thread_independent([&] {
    Tensor out = poisoned(q.shape()), lse = poisoned({2, 4, 64});
    core::attention_forward(q, k, v, options, out, lse);
    Tensor dq = poisoned(q.shape()), dk = poisoned(k.shape()), dv = poisoned(v.shape());
    core::attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
    return std::vector<Tensor>{out, lse, dq, dk, dv};
  }, "attention");

  Tensor logits = random_tensor({32, 4000}, 12);
  Tensor labels = Tensor::empty({32}, DType::I64);
  Tensor ids = Tensor::empty({128}, DType::I64);
  for (int i = 0; i < 32; ++i) labels.data<int64_t>()[i] = (i * 131) % 4000;
  for (int i = 0; i < 128; ++i) ids.data<int64_t>()[i] = (i * 7) % 50;
  Tensor table = random_tensor({40, 1024}, 13);
  Tensor demb = random_tensor({128, 1024}, 14);
  require_thread_independent([&] {
    Tensor losses = poisoned({32}), lse = poisoned({32}), totals = poisoned({2}), dlogits = poisoned({32, 4000});
    core::cross_entropy_forward(logits, labels, Tensor(), {}, losses, lse, totals);
    core::cross_entropy_backward(logits, labels, Tensor(), lse, 0.5f, {}, dlogits);
    Tensor emb = poisoned({128, 1024}), dtable = Tensor::zeros({40, 1024});
    core::embedding_forward(ids, table, 5, emb);
    core::embedding_backward(ids, demb, 5, dtable);
    return std::vector<Tensor>{losses, lse, dlogits, emb, dtable};
  }, "cross-entropy and embedding");
}
