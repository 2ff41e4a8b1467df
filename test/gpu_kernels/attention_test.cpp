// The unfused GPU attention against the CPU reference: causal GQA, kv_offset with queries that
// see no key, document boundaries and dropout; forward (out, lse) and backward (dq, dk, dv).
#include <cmath>

#include "core/kernels/attention.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;

namespace {

struct Case {
  const char* name;
  int64_t s_q, s_kv, batch, heads_q, heads_kv, head_dim;
  bool causal;
  int64_t kv_offset;
  bool documents;
  float dropout;
};

void check_case(const Case& c, DType dtype) {
  INFO(c.name << " " << dtype_label(dtype));
  Tensor q = host_random(Shape{c.s_q, c.batch, c.heads_q, c.head_dim}, 80, dtype);
  Tensor k = host_random(Shape{c.s_kv, c.batch, c.heads_kv, c.head_dim}, 81, dtype);
  Tensor v = host_random(k.shape(), 82, dtype);
  Tensor dout = host_random(q.shape(), 83, dtype);
  core::AttentionOptions options;
  options.softmax_scale = 1.0f / std::sqrt(float(c.head_dim));
  options.causal = c.causal;
  options.kv_offset = c.kv_offset;
  options.dropout_p = c.dropout;
  options.dropout_rng = PhiloxStream{99, 3, 0};
  core::AttentionOptions gpu_options = options;
  if (c.documents) {
    // batch 0: documents [0, 3) [3, 8); batch 1: [0, 5) [5, 8) (padded with the last value).
    Tensor offsets = Tensor::empty(Shape{2, 4}, DType::I64);
    int64_t table[8] = {0, 3, 8, 8, 0, 5, 8, 8};
    std::copy(table, table + 8, offsets.data<int64_t>());
    options.doc_offsets = offsets;
    gpu_options.doc_offsets = Tensor::empty(offsets.shape(), DType::I64, Device::CUDA);
    gpu_options.doc_offsets.copy_from(offsets);
  }
  Tensor out = Tensor::empty(q.shape()), lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s_q});
  core::attention_forward(q, k, v, options, out, lse);
  Tensor gq = to_device(q, dtype), gk = to_device(k, dtype), gv = to_device(v, dtype);
  Tensor gout = device_poisoned(q.shape(), dtype), glse = device_poisoned(lse.shape(), DType::F32);
  core::attention_forward(gq, gk, gv, gpu_options, gout, glse);
  double length = double(c.s_kv * c.head_dim);
  require_close_to_cpu(gout, out, tolerance(dtype, length), "attention out");
  require_close_to_cpu(glse, lse, tolerance(DType::F32, length), "attention lse");

  // Backward from the CPU's forward results (the same out/lse on both sides).
  Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(k.shape());
  core::attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
  Tensor gdq = device_poisoned(q.shape(), dtype), gdk = device_poisoned(k.shape(), dtype),
         gdv = device_poisoned(k.shape(), dtype);
  Tensor gout_cpu = to_device(out, dtype), glse_cpu = to_device(lse, DType::F32);
  core::attention_backward(gq, gk, gv, gout_cpu, glse_cpu, to_device(dout, dtype), gpu_options,
                           gdq, gdk, gdv);
  require_close_to_cpu(gdq, dq, tolerance(dtype, length), "attention dq");
  require_close_to_cpu(gdk, dk, tolerance(dtype, length), "attention dk");
  require_close_to_cpu(gdv, dv, tolerance(dtype, length), "attention dv");
}

}  // namespace

TEST_CASE("unfused GPU attention matches the CPU reference") {
  const Case cases[] = {
      {"causal GQA", 7, 7, 2, 4, 2, 16, true, 0, false, 0.0f},
      {"non-causal MQA", 6, 9, 2, 3, 1, 8, false, 0, false, 0.0f},
      {"causal with kv_offset (first queries see no key)", 5, 9, 1, 3, 3, 8, true, 2, false, 0.0f},
      {"documents, causal", 8, 8, 2, 2, 1, 8, true, 0, true, 0.0f},
      {"dropout, causal GQA", 8, 8, 2, 4, 2, 8, true, 0, false, 0.2f},
  };
  for (DType dtype : kActivationDTypes) {
    for (const Case& c : cases) check_case(c, dtype);
  }
}
