// cuDNN fused attention (bf16 and f16) against the CPU reference: causal and not, MHA/GQA/MQA, head dims
// 64 and 128, sequences 128..1024; forward (out, lse) and backward (dq, dk, dv) into NaN-poisoned
// outputs. Also: the plan cache, the deterministic backward, and which path a call takes.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/kernels/attention.h"
#include "core/kernels/cuda/attention_cudnn.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;
using core::gpu::AttentionPath;

namespace {

struct Case {
  const char* name;
  int64_t s, batch, heads_q, heads_kv, head_dim;
  bool causal;
};

// Largest |gpu − cpu| over max|cpu| (printed so runs show the actual error level).
double relative_error(const Tensor& device, const Tensor& expected) {
  Tensor actual = to_host_f32(device);
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  double scale = 0.0, worst = 0.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    scale = std::max(scale, std::fabs(double(e[i])));
    worst = std::max(worst, std::fabs(double(a[i]) - double(e[i])));
  }
  return scale > 0.0 ? worst / scale : worst;
}

// The device tensor's bytes on the host, in its own dtype (for bitwise comparisons).
Tensor host_bytes(const Tensor& device) {
  Tensor t = Tensor::empty(device.shape(), device.dtype());
  t.copy_from(device);
  return t;
}

struct Inputs {
  Tensor q, k, v, dout;          // host f32, representable in the device dtype
  Tensor gq, gk, gv, gdout;      // device bf16 or f16
  core::AttentionOptions options;
};

Inputs make_inputs(const Case& c, uint32_t seed, DType dtype = DType::BF16) {
  Inputs in;
  // q in [-2, 2) makes the softmax peaked enough that masking and scaling errors show.
  in.q = host_random(Shape{c.s, c.batch, c.heads_q, c.head_dim}, seed, dtype, -2.0f, 2.0f);
  in.k = host_random(Shape{c.s, c.batch, c.heads_kv, c.head_dim}, seed + 1, dtype);
  in.v = host_random(in.k.shape(), seed + 2, dtype);
  in.dout = host_random(in.q.shape(), seed + 3, dtype);
  in.gq = to_device(in.q, dtype);
  in.gk = to_device(in.k, dtype);
  in.gv = to_device(in.v, dtype);
  in.gdout = to_device(in.dout, dtype);
  in.options.softmax_scale = 1.0f / std::sqrt(float(c.head_dim));
  in.options.causal = c.causal;
  return in;
}

void check_case(const Case& c, DType dtype) {
  INFO(c.name << " " << dtype_label(dtype));
  Inputs in = make_inputs(c, 7, dtype);
  REQUIRE(core::gpu::choose_attention_path(in.gq, in.gk, in.gv, in.options) ==
          AttentionPath::kCudnn);

  Tensor out = Tensor::empty(in.q.shape());
  Tensor lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s});
  core::attention_forward(in.q, in.k, in.v, in.options, out, lse);
  Tensor gout = device_poisoned(in.q.shape(), dtype);
  Tensor glse = device_poisoned(lse.shape(), DType::F32);
  const int64_t executions = core::gpu::cudnn_attention_executions();
  core::attention_forward(in.gq, in.gk, in.gv, in.options, gout, glse);
  REQUIRE(core::gpu::cudnn_attention_executions() == executions + 1);
  const double length = double(c.s * c.head_dim);
  require_close_to_cpu(gout, out, tolerance(dtype, length), "cuDNN attention out");
  require_close_to_cpu(glse, lse, tolerance(DType::F32, length), "cuDNN attention lse");

  Tensor dq = Tensor::empty(in.q.shape()), dk = Tensor::empty(in.k.shape()),
         dv = Tensor::empty(in.k.shape());
  core::attention_backward(in.q, in.k, in.v, out, lse, in.dout, in.options, dq, dk, dv);
  Tensor gdq = device_poisoned(in.q.shape(), dtype), gdk = device_poisoned(in.k.shape(), dtype),
         gdv = device_poisoned(in.k.shape(), dtype);
  core::attention_backward(in.gq, in.gk, in.gv, to_device(out, dtype), to_device(lse, DType::F32),
                           in.gdout, in.options, gdq, gdk, gdv);
  REQUIRE(core::gpu::cudnn_attention_executions() == executions + 2);
  require_close_to_cpu(gdq, dq, tolerance(dtype, length), "cuDNN attention dq");
  require_close_to_cpu(gdk, dk, tolerance(dtype, length), "cuDNN attention dk");
  require_close_to_cpu(gdv, dv, tolerance(dtype, length), "cuDNN attention dv");
  std::printf("cuDNN %lld attention %s %s: max error / max|ref|: out %.2e lse %.2e dq %.2e "
              "dk %.2e dv %.2e\n",
              static_cast<long long>(core::gpu::cudnn_runtime_version()), c.name, dtype_label(dtype),
              relative_error(gout, out), relative_error(glse, lse), relative_error(gdq, dq),
              relative_error(gdk, dk), relative_error(gdv, dv));
}

}  // namespace

TEST_CASE("cuDNN fused attention matches the CPU reference (bf16 and f16)") {
  const Case cases[] = {
      {"causal GQA 8/2 d64 s512", 512, 2, 8, 2, 64, true},
      {"causal MHA 4/4 d128 s1024", 1024, 2, 4, 4, 128, true},
      {"non-causal GQA 8/2 d128 s256", 256, 2, 8, 2, 128, false},
      {"non-causal MQA 4/1 d64 s128", 128, 2, 4, 1, 64, false},
      {"causal GQA 8/2 d128 s128", 128, 2, 8, 2, 128, true},
  };
  for (DType dtype : {DType::BF16, DType::F16}) {
    for (const Case& c : cases) check_case(c, dtype);
  }
}

TEST_CASE("cuDNN attention builds one plan per configuration and reuses it") {
  const Case c{"plan cache", 256, 2, 4, 2, 64, true};
  Inputs in = make_inputs(c, 11);
  Tensor out = Tensor::empty(in.q.shape(), DType::BF16, Device::CUDA);
  Tensor lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s}, DType::F32, Device::CUDA);
  const int64_t before = core::gpu::cudnn_attention_plans_built();
  core::attention_forward(in.gq, in.gk, in.gv, in.options, out, lse);
  const int64_t after_first = core::gpu::cudnn_attention_plans_built();
  CHECK(after_first <= before + 1);
  for (int i = 0; i < 3; ++i) core::attention_forward(in.gq, in.gk, in.gv, in.options, out, lse);
  CHECK(core::gpu::cudnn_attention_plans_built() == after_first);
  // A different scale is another graph, hence another plan.
  core::AttentionOptions other = in.options;
  other.softmax_scale *= 0.5f;
  core::attention_forward(in.gq, in.gk, in.gv, other, out, lse);
  CHECK(core::gpu::cudnn_attention_plans_built() == after_first + 1);
}

TEST_CASE("cuDNN deterministic attention backward is bitwise repeatable and correct") {
  const Case c{"deterministic causal GQA 8/2 d128 s384", 384, 2, 8, 2, 128, true};
  Inputs in = make_inputs(c, 21);
  Tensor out = Tensor::empty(in.q.shape()), lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s});
  core::attention_forward(in.q, in.k, in.v, in.options, out, lse);
  Tensor dq = Tensor::empty(in.q.shape()), dk = Tensor::empty(in.k.shape()),
         dv = Tensor::empty(in.k.shape());
  core::attention_backward(in.q, in.k, in.v, out, lse, in.dout, in.options, dq, dk, dv);

  core::gpu::set_deterministic(true);
  Tensor gout = to_device(out, DType::BF16), glse = to_device(lse, DType::F32);
  Tensor first[3], second[3];
  for (Tensor* grads : {first, second}) {
    for (int i = 0; i < 3; ++i) {
      grads[i] = device_poisoned(i == 0 ? in.q.shape() : in.k.shape(), DType::BF16);
    }
    core::attention_backward(in.gq, in.gk, in.gv, gout, glse, in.gdout, in.options, grads[0],
                             grads[1], grads[2]);
  }
  core::gpu::set_deterministic(false);
  const double length = double(c.s * c.head_dim);
  require_close_to_cpu(first[0], dq, tolerance(DType::BF16, length), "deterministic dq");
  require_close_to_cpu(first[1], dk, tolerance(DType::BF16, length), "deterministic dk");
  require_close_to_cpu(first[2], dv, tolerance(DType::BF16, length), "deterministic dv");
  for (int i = 0; i < 3; ++i) {
    Tensor a = host_bytes(first[i]), b = host_bytes(second[i]);
    CHECK(std::memcmp(a.raw_data(), b.raw_data(), size_t(a.numel()) * dtype_size(a.dtype())) == 0);
  }
}

TEST_CASE("attention dispatch picks cuDNN for eligible calls and the unfused path otherwise") {
  const Case c{"dispatch", 128, 2, 4, 2, 64, true};
  Inputs in = make_inputs(c, 31);
  std::string why;
  CHECK(core::gpu::choose_attention_path(in.gq, in.gk, in.gv, in.options, &why) ==
        AttentionPath::kCudnn);

  core::AttentionOptions dropout = in.options;
  dropout.dropout_p = 0.1f;
  CHECK(core::gpu::choose_attention_path(in.gq, in.gk, in.gv, dropout, &why) ==
        AttentionPath::kUnfused);
  CHECK(why == "attention dropout");
  core::AttentionOptions offset = in.options;
  offset.kv_offset = 4;
  CHECK(core::gpu::choose_attention_path(in.gq, in.gk, in.gv, offset, &why) ==
        AttentionPath::kUnfused);
  Tensor q32 = to_device(in.q, DType::F32), k32 = to_device(in.k, DType::F32),
         v32 = to_device(in.v, DType::F32);
  CHECK(core::gpu::choose_attention_path(q32, k32, v32, in.options, &why) ==
        AttentionPath::kUnfused);
  CHECK(why == "tensors are not bf16 or f16");

  // An ineligible call runs (correctly) without touching cuDNN; an eligible one runs on cuDNN.
  const int64_t executions = core::gpu::cudnn_attention_executions();
  Tensor out = Tensor::empty(in.q.shape(), DType::BF16, Device::CUDA);
  Tensor lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s}, DType::F32, Device::CUDA);
  core::attention_forward(in.gq, in.gk, in.gv, offset, out, lse);
  CHECK(core::gpu::cudnn_attention_executions() == executions);
  core::attention_forward(in.gq, in.gk, in.gv, in.options, out, lse);
  CHECK(core::gpu::cudnn_attention_executions() == executions + 1);

  // MCPP_ATTENTION=unfused forces the fallback (for A/B comparisons).
  setenv("MCPP_ATTENTION", "unfused", 1);
  CHECK(core::gpu::choose_attention_path(in.gq, in.gk, in.gv, in.options, &why) ==
        AttentionPath::kUnfused);
  core::attention_forward(in.gq, in.gk, in.gv, in.options, out, lse);
  unsetenv("MCPP_ATTENTION");
  CHECK(core::gpu::cudnn_attention_executions() == executions + 1);
}

namespace {

// Per head [q | k | v] rows of the fused QKV output <-> separate [s, b, n, d] tensors (host f32).
// part 0/1/2 = q/k/v; to_fused copies the part into qkv.
void fused_part(const Tensor& qkv, const Tensor& part_tensor, int part, bool to_fused) {
  const int64_t n = part_tensor.dim(2), d = part_tensor.dim(3);
  const int64_t rows = part_tensor.dim(0) * part_tensor.dim(1);
  float* fused = qkv.data<float>();
  float* separate = part_tensor.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < n; ++h) {
      for (int64_t c = 0; c < d; ++c) {
        float& f = fused[(r * n + h) * 3 * d + part * d + c];
        float& p = separate[(r * n + h) * d + c];
        if (to_fused)
          f = p;
        else
          p = f;
      }
    }
  }
}

}  // namespace

TEST_CASE("cuDNN attention reads q, k, v in place from the fused QKV output and writes dqkv in its layout") {
  const Case cases[] = {
      {"GPT-2 shape causal MHA 12 heads d64 s1024", 1024, 2, 12, 12, 64, true},
      {"non-causal MHA 4 heads d128 s256", 256, 1, 4, 4, 128, false},
  };
  const DType bf16 = DType::BF16;
  for (const Case& c : cases) {
    INFO(c.name);
    Inputs in = make_inputs(c, 41);
    Tensor qkv = Tensor::empty(Shape{c.s, c.batch, c.heads_q * 3 * c.head_dim});
    fused_part(qkv, in.q, 0, true);
    fused_part(qkv, in.k, 1, true);
    fused_part(qkv, in.v, 2, true);
    Tensor gqkv = to_device(qkv, bf16);
    REQUIRE(core::attention_reads_fused_qkv(gqkv, c.heads_q, in.options));
    CHECK_FALSE(core::attention_reads_fused_qkv(qkv, c.heads_q, in.options));  // never on the CPU

    // CPU reference on the split tensors.
    Tensor out = Tensor::empty(in.q.shape()), lse = Tensor::empty(Shape{c.batch, c.heads_q, c.s});
    core::attention_forward(in.q, in.k, in.v, in.options, out, lse);
    Tensor dq = Tensor::empty(in.q.shape()), dk = Tensor::empty(in.k.shape()), dv = Tensor::empty(in.k.shape());
    core::attention_backward(in.q, in.k, in.v, out, lse, in.dout, in.options, dq, dk, dv);

    const int64_t executions = core::gpu::cudnn_attention_executions();
    Tensor gout = device_poisoned(in.q.shape(), bf16), glse = device_poisoned(lse.shape(), DType::F32);
    core::attention_forward_fused_qkv(gqkv, c.heads_q, in.options, gout, glse);
    Tensor gdqkv = device_poisoned(gqkv.shape(), bf16);
    core::attention_backward_fused_qkv(gqkv, c.heads_q, gout, glse, in.gdout, in.options, gdqkv);
    REQUIRE(core::gpu::cudnn_attention_executions() == executions + 2);

    const double length = double(c.s * c.head_dim);
    require_close_to_cpu(gout, out, tolerance(bf16, length), "fused-QKV out");
    require_close_to_cpu(glse, lse, tolerance(DType::F32, length), "fused-QKV lse");
    Tensor dqkv = to_host_f32(gdqkv);
    Tensor parts[3] = {Tensor::empty(dq.shape()), Tensor::empty(dk.shape()), Tensor::empty(dv.shape())};
    for (int part = 0; part < 3; ++part) fused_part(dqkv, parts[part], part, false);
    require_close_to_cpu(parts[0], dq, tolerance(bf16, length), "fused-QKV dq");
    require_close_to_cpu(parts[1], dk, tolerance(bf16, length), "fused-QKV dk");
    require_close_to_cpu(parts[2], dv, tolerance(bf16, length), "fused-QKV dv");
    std::printf("cuDNN fused-QKV attention %s: max error / max|ref|: out %.2e dq %.2e dk %.2e dv %.2e\n", c.name,
                relative_error(gout, out), relative_error(to_device(parts[0], DType::F32), dq),
                relative_error(to_device(parts[1], DType::F32), dk), relative_error(to_device(parts[2], DType::F32), dv));
  }

  // Not eligible: fp32, or options the fused path does not take.
  const Case c{"ineligible", 128, 1, 2, 2, 64, true};
  Inputs in = make_inputs(c, 43);
  Tensor qkv32 = Tensor::zeros(Shape{c.s, c.batch, 2 * 3 * 64}, DType::F32, Device::CUDA);
  CHECK_FALSE(core::attention_reads_fused_qkv(qkv32, 2, in.options));
  Tensor qkv = Tensor::zeros(Shape{c.s, c.batch, 2 * 3 * 64}, bf16, Device::CUDA);
  core::AttentionOptions dropout = in.options;
  dropout.dropout_p = 0.1f;
  CHECK_FALSE(core::attention_reads_fused_qkv(qkv, 2, dropout));
  CHECK_FALSE(core::attention_reads_fused_qkv(qkv, 5, in.options));  // width not heads·3·d
  Tensor out = Tensor::empty(Shape{c.s, c.batch, 2, 64}, bf16, Device::CUDA);
  Tensor lse = Tensor::empty(Shape{c.batch, 2, c.s}, DType::F32, Device::CUDA);
  CHECK_THROWS_WITH(core::attention_forward_fused_qkv(qkv, 2, dropout, out, lse), Catch::Contains("no in-place kernel"));
}
