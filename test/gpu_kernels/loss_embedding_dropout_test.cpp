// Cross-entropy, embedding and dropout against the CPU reference; dropout bit for bit.
#include <cstring>

#include "core/kernels/cross_entropy.h"
#include "core/kernels/dropout.h"
#include "core/kernels/embedding.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;

namespace {
Tensor device_copy(const Tensor& host) {
  Tensor t = Tensor::empty(host.shape(), host.dtype(), Device::CUDA);
  t.copy_from(host);
  return t;
}
}  // namespace

TEST_CASE("fused cross-entropy forward and backward match the CPU (mask and label smoothing)") {
  for (DType dtype : kActivationDTypes) {
    for (float smoothing : {0.0f, 0.1f}) {
      INFO(dtype_label(dtype) << " label smoothing " << smoothing);
      const int64_t rows = 10, vocab = 1000;
      Tensor logits = host_random(Shape{2, 5, vocab}, 50, dtype, -6.0f, 6.0f);
      Tensor labels = Tensor::empty(Shape{rows}, DType::I64);
      Tensor mask = Tensor::empty(Shape{rows});
      for (int64_t n = 0; n < rows; ++n) {
        labels.data<int64_t>()[n] = (n * 379 + 11) % vocab;
        mask.data<float>()[n] = n % 3 == 0 ? 0.0f : 1.0f;
      }
      core::CrossEntropyOptions options;
      options.label_smoothing = smoothing;
      Tensor losses = Tensor::empty(Shape{rows}), lse = Tensor::empty(Shape{rows}),
             totals = Tensor::empty(Shape{2});
      core::cross_entropy_forward(logits, labels, mask, options, losses, lse, totals);
      Tensor glogits = to_device(logits, dtype), glabels = device_copy(labels),
             gmask = device_copy(mask);
      Tensor glosses = device_poisoned(Shape{rows}, DType::F32),
             glse = device_poisoned(Shape{rows}, DType::F32),
             gtotals = device_poisoned(Shape{2}, DType::F32);
      core::cross_entropy_forward(glogits, glabels, gmask, options, glosses, glse, gtotals);
      Tolerance tol = tolerance(DType::F32, vocab);  // identical inputs, fp32 arithmetic
      require_close_to_cpu(glosses, losses, tol, "losses");
      require_close_to_cpu(glse, lse, tol, "lse");
      require_close_to_cpu(gtotals, totals, tol, "totals");

      Tensor dlogits = Tensor::empty(logits.shape());
      core::cross_entropy_backward(logits, labels, mask, lse, 0.37f, options, dlogits);
      Tensor gdlogits = device_poisoned(logits.shape(), dtype);
      core::cross_entropy_backward(glogits, glabels, gmask, glse, 0.37f, options, gdlogits);
      require_close_to_cpu(gdlogits, dlogits, tolerance(dtype, 10), "dlogits");
      // In place: dlogits overwrites the logits.
      core::cross_entropy_backward(glogits, glabels, gmask, glse, 0.37f, options, glogits);
      require_close_to_cpu(glogits, dlogits, tolerance(dtype, 10), "dlogits in place");
    }
  }
}

TEST_CASE("cross-entropy on the device rejects a label outside the vocabulary") {
  Tensor logits = Tensor::zeros(Shape{2, 8}, DType::F32, Device::CUDA);
  Tensor labels = Tensor::empty(Shape{2}, DType::I64, Device::CUDA);
  labels.fill(8);
  Tensor losses = Tensor::empty(Shape{2}, DType::F32, Device::CUDA);
  Tensor lse = Tensor::empty(Shape{2}, DType::F32, Device::CUDA);
  Tensor totals = Tensor::empty(Shape{2}, DType::F32, Device::CUDA);
  REQUIRE_THROWS_WITH(core::cross_entropy_forward(logits, labels, Tensor(), {}, losses, lse, totals),
                      Catch::Contains("outside the vocabulary"));
}

TEST_CASE("embedding forward and backward match the CPU (owned vocab range and repeated ids)") {
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_label(dtype));
    const int64_t rows = 10, hidden = 24, vocab_start = 5;
    Tensor ids = Tensor::empty(Shape{3, 7}, DType::I64);
    for (int64_t t = 0; t < 21; ++t) ids.data<int64_t>()[t] = (t * 7 + 3) % 20;  // some outside
    Tensor weight = host_random(Shape{rows, hidden}, 60, dtype);
    Tensor out = Tensor::empty(Shape{3, 7, hidden});
    core::embedding_forward(ids, weight, vocab_start, out);
    Tensor gids = device_copy(ids), gweight = to_device(weight, dtype);
    Tensor gout = device_poisoned(out.shape(), dtype);
    core::embedding_forward(gids, gweight, vocab_start, gout);
    require_close_to_cpu(gout, out, Tolerance{0.0, 0.0}, "embedding out");  // a copy: exact

    Tensor dout = host_random(out.shape(), 61, dtype);
    Tensor dweight = host_random(Shape{rows, hidden}, 62, DType::F32);
    Tensor gdweight = to_device(dweight, DType::F32);
    core::embedding_backward(ids, dout, vocab_start, dweight);
    core::embedding_backward(gids, to_device(dout, dtype), vocab_start, gdweight);
    require_close_to_cpu(gdweight, dweight, tolerance(DType::F32, 21), "embedding dweight");
  }
}

TEST_CASE("embedding backward sorts on the device: long runs of one id match the CPU and repeat bit for bit") {
  // 4096 tokens over a 1000-row shard of a larger vocabulary: id 7 on every third token (one
  // run of 1366), the rest spread, some owned by another rank.
  const int64_t tokens = 4096, rows = 1000, hidden = 200, vocab_start = 1000;
  Tensor ids = Tensor::empty(Shape{tokens}, DType::I64);
  for (int64_t t = 0; t < tokens; ++t)
    ids.data<int64_t>()[t] = t % 3 == 0 ? vocab_start + 7 : (t * 7919) % 2500;
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_label(dtype));
    Tensor dout = host_random(Shape{tokens, hidden}, 63, dtype);
    Tensor dweight = host_random(Shape{rows, hidden}, 64, DType::F32);
    Tensor gids = device_copy(ids), gdout = to_device(dout, dtype);
    Tensor first = to_device(dweight, DType::F32), second = to_device(dweight, DType::F32);
    core::embedding_backward(ids, dout, vocab_start, dweight);
    core::embedding_backward(gids, gdout, vocab_start, first);
    core::embedding_backward(gids, gdout, vocab_start, second);
    require_close_to_cpu(first, dweight, tolerance(DType::F32, double(tokens) / 3), "embedding dweight");
    require_close_to_cpu(second, to_host_f32(first), Tolerance{0.0, 0.0}, "embedding dweight repeat");
  }
}

TEST_CASE("dropout masks and values are bit-identical to the CPU") {
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_label(dtype));
    PhiloxStream rng{0x1234abcdULL, 7, 5};  // offset not a multiple of 4
    Tensor x = host_random(Shape{1001}, 70, dtype);
    Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
    core::dropout_forward(x, 0.3f, rng, y);
    core::dropout_backward(x, 0.3f, rng, dx);
    Tensor gx = to_device(x, dtype);
    Tensor gy = device_poisoned(x.shape(), dtype), gdx = device_poisoned(x.shape(), dtype);
    core::dropout_forward(gx, 0.3f, rng, gy);
    core::dropout_backward(gx, 0.3f, rng, gdx);
    for (const auto& [gpu, cpu] : {std::pair{gy, y}, std::pair{gdx, dx}}) {
      Tensor expected = Tensor::empty(cpu.shape(), dtype);
      expected.copy_from(cpu);  // the CPU result stored as dtype
      Tensor actual = Tensor::empty(cpu.shape(), dtype);
      actual.copy_from(gpu);
      REQUIRE(std::memcmp(actual.raw_data(), expected.raw_data(), expected.nbytes()) == 0);
    }
    int64_t dropped = 0;
    for (int64_t i = 0; i < 1001; ++i) dropped += y.data<float>()[i] == 0.0f;
    REQUIRE(dropped > 200);
    REQUIRE(dropped < 400);
  }
}
