// GPU pieces of the model and optimizer against their CPU references: the fused-QKV layout
// shuffle, AdamW and SGD on flat buffers (bit-identical: same fp32 operations in the same order),
// the non-finite check and the bf16/fp16 compute copy of the parameter buffer.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/kernels/layernorm.h"
#include "core/kernels/linear.h"
#include "core/kernels/rmsnorm.h"
#include "core/model/param_buffer.h"
#include "core/model/tensor_layout.h"
#include "core/optim/adamw.h"
#include "core/optim/cuda/optimizer_kernels.h"
#include "core/optim/sgd.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using mcpp::test::device_poisoned;
using mcpp::test::host_random;
using mcpp::test::kActivationDTypes;
using mcpp::test::representable;
using mcpp::test::to_device;
using mcpp::test::require_close_to_cpu;
using mcpp::test::tolerance;
using mcpp::test::to_host_f32;

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

std::span<float> flat(const Tensor& t) { return {t.data<float>(), static_cast<size_t>(t.numel())}; }

}  // namespace

TEST_CASE("QKV split and merge on the GPU move exactly the CPU's elements (packed and scalar paths)") {
  struct Case {
    int64_t s, b, groups, heads_per_group, d;
  };
  // d = 64: 16-byte packs in every dtype; d = 6: 12 / 24 bytes per head, element by element.
  for (const Case c : {Case{5, 3, 2, 4, 64}, Case{7, 2, 3, 1, 6}, Case{4, 2, 1, 12, 8}}) {
    for (DType dtype : kActivationDTypes) {
      INFO("d " << c.d << " heads/group " << c.heads_per_group << " " << dtype_name(dtype));
      const Shape fused{c.s, c.b, c.groups * (c.heads_per_group + 2) * c.d};
      const Shape q_shape{c.s, c.b, c.groups * c.heads_per_group, c.d}, kv_shape{c.s, c.b, c.groups, c.d};
      const Tensor qkv = host_random(fused, 11, dtype);
      Tensor q = Tensor::empty(q_shape), k = Tensor::empty(kv_shape), v = Tensor::empty(kv_shape);
      model::split_qkv(qkv, int(c.heads_per_group), q, k, v);

      Tensor dq = device_poisoned(q_shape, dtype), dk = device_poisoned(kv_shape, dtype),
             dv = device_poisoned(kv_shape, dtype);
      model::split_qkv(to_device(qkv, dtype), int(c.heads_per_group), dq, dk, dv);
      CHECK(bitwise_equal(to_host_f32(dq), q));
      CHECK(bitwise_equal(to_host_f32(dk), k));
      CHECK(bitwise_equal(to_host_f32(dv), v));

      Tensor merged = device_poisoned(fused, dtype);
      model::merge_qkv(dq, dk, dv, int(c.heads_per_group), merged);
      CHECK(bitwise_equal(to_host_f32(merged), qkv));
    }
  }
}

TEST_CASE("AdamW and SGD on the GPU are bit-identical to the CPU update, with no-decay ranges") {
  const int64_t n = 100003;
  const std::vector<optim::ElementRange> no_decay = {{10, 500}, {70000, 70001}, {99000, 100003}};
  Tensor mask_host = Tensor::empty({n}, DType::U8);
  for (int64_t i = 0; i < n; ++i) mask_host.data<uint8_t>()[i] = 1;
  for (const auto& r : no_decay)
    for (size_t i = r.begin; i < r.end; ++i) mask_host.data<uint8_t>()[i] = 0;
  Tensor mask = Tensor::empty({n}, DType::U8, Device::CUDA);
  mask.copy_from(mask_host);

  SECTION("AdamW over three steps") {
    Tensor p = host_random({n}, 1, DType::F32), m = Tensor::zeros({n}), v = Tensor::zeros({n});
    Tensor dp = to_device(p, DType::F32), dm = to_device(m, DType::F32), dv = to_device(v, DType::F32);
    const optim::AdamConfig config{0.9f, 0.95f, 1e-8f};
    for (int64_t step = 1; step <= 3; ++step) {
      const Tensor g = host_random({n}, uint32_t(100 + step), DType::F32, -0.1f, 0.1f);
      const optim::AdamStep values{3e-3f, 0.1f, step};
      optim::adamw_update(config, values, flat(p), flat(g), flat(m), flat(v), no_decay);
      optim::cuda::adamw_update(config, values, dp, to_device(g, DType::F32), dm, dv, mask);
    }
    CHECK(bitwise_equal(to_host_f32(dp), p));
    CHECK(bitwise_equal(to_host_f32(dm), m));
    CHECK(bitwise_equal(to_host_f32(dv), v));
  }
  SECTION("SGD with momentum over three steps") {
    Tensor p = host_random({n}, 2, DType::F32), buf = Tensor::zeros({n});
    Tensor dp = to_device(p, DType::F32), dbuf = to_device(buf, DType::F32);
    for (int64_t step = 1; step <= 3; ++step) {
      const Tensor g = host_random({n}, uint32_t(200 + step), DType::F32, -0.1f, 0.1f);
      const optim::SgdStep values{1e-2f, 0.01f, 0.9f, step};
      optim::sgd_update(values, flat(p), flat(g), flat(buf), no_decay);
      optim::cuda::sgd_update(values, dp, to_device(g, DType::F32), dbuf, mask);
    }
    CHECK(bitwise_equal(to_host_f32(dp), p));
    CHECK(bitwise_equal(to_host_f32(dbuf), buf));
  }
}

TEST_CASE("the GPU non-finite check finds one NaN or Inf among a million values") {
  Tensor host = host_random({1 << 20}, 3, DType::F32);
  CHECK_FALSE(optim::cuda::has_nan_or_inf(to_device(host, DType::F32)));
  host.data<float>()[777777] = std::numeric_limits<float>::infinity();
  CHECK(optim::cuda::has_nan_or_inf(to_device(host, DType::F32)));
  host.data<float>()[777777] = std::numeric_limits<float>::quiet_NaN();
  CHECK(optim::cuda::has_nan_or_inf(to_device(host, DType::F32)));
}

TEST_CASE("a bf16 or fp16 parameter buffer hands the layers half copies of the fp32 main parameters") {
  for (DType half : {DType::BF16, DType::F16}) {
    INFO(dtype_name(half));
    model::ParamInfo info;
    info.key = "w";
    info.global_shape = {3, 5};
    info.local_shape = {3, 5};
    info.offsets = {0, 0};
    model::ParamBuffer buffer({info}, DType::F32, Device::CUDA, model::BufferLayout{}, half);
    const Tensor values = host_random({3, 5}, 4, DType::F32);
    buffer.param(0).copy_from(values);
    buffer.sync_compute_params();
    const model::ParamRef ref = buffer.ref("w");
    REQUIRE(ref.value.dtype() == half);
    REQUIRE(ref.grad.dtype() == DType::F32);
    const Tensor back = to_host_f32(ref.value);
    for (int64_t i = 0; i < 15; ++i) CHECK(back.data<float>()[i] == representable(values.data<float>()[i], half));
  }
}

TEST_CASE("fused linear + GELU and its dGELU input gradient on the GPU match the CPU ops") {
  const int64_t rows = 96, in = 64, out = 256;  // out % 8 == 0: the cuBLASLt epilogue path
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_name(dtype));
    const Tensor x = host_random({rows, in}, 21, dtype), w = host_random({out, in}, 22, dtype, -0.2f, 0.2f);
    const Tensor bias = host_random({out}, 23, dtype), dy = host_random({rows, in}, 24, dtype);
    const Tensor w2 = host_random({in, out}, 25, dtype, -0.2f, 0.2f);
    Tensor pre = Tensor::empty({rows, out}), y = Tensor::empty({rows, out}), dpre = Tensor::empty({rows, out});
    core::linear_gelu_forward(x, w, bias, pre, y);
    core::linear_backward_dgelu(dy, w2, pre, dpre);

    Tensor gpu_pre = device_poisoned({rows, out}, dtype), gpu_y = device_poisoned({rows, out}, dtype);
    core::linear_gelu_forward(to_device(x, dtype), to_device(w, dtype), to_device(bias, dtype), gpu_pre, gpu_y);
    require_close_to_cpu(gpu_pre, pre, tolerance(dtype, double(in)), "pre-activation");
    require_close_to_cpu(gpu_y, y, tolerance(dtype, double(in)), "gelu output");
    // The backward from the CPU's pre-activation (rounded to the dtype), so only the op differs.
    Tensor gpu_dpre = device_poisoned({rows, out}, dtype);
    const Tensor pre_in = to_device(pre, dtype);
    core::linear_backward_dgelu(to_device(dy, dtype), to_device(w2, dtype), pre_in, gpu_dpre);
    Tensor expected = Tensor::empty({rows, out});
    core::linear_backward_dgelu(dy, w2, to_host_f32(pre_in), expected);
    require_close_to_cpu(gpu_dpre, expected, tolerance(dtype, double(in)), "dgelu input gradient");
  }
}

TEST_CASE("the fused GPU AdamW applies the clip factor like a scaled gradient and writes the bf16 or fp16 copy") {
  for (DType half : {DType::BF16, DType::F16}) {
    INFO(dtype_name(half));
    const int64_t n = 4099;
    const optim::AdamConfig config{0.9f, 0.95f, 1e-8f};
    const optim::AdamStep values{1e-3f, 0.1f, 1};
    const float clip = 0.37f;
    Tensor p = host_random({n}, 31, DType::F32), g = host_random({n}, 32, DType::F32);
    p.data<float>()[7] = 3e-6f;  // with no gradient it only decays: stays an fp16 subnormal
    g.data<float>()[7] = 0.0f;
    Tensor m = Tensor::zeros({n}), v = Tensor::zeros({n});
    Tensor dp = to_device(p, DType::F32), dm = to_device(m, DType::F32), dv = to_device(v, DType::F32);
    Tensor copy = device_poisoned({n}, half);
    optim::cuda::adamw_update(config, values, dp, to_device(g, DType::F32), dm, dv, Tensor(), clip, copy);
    for (float& value : flat(g)) value *= clip;  // what the CPU loop does before its update
    optim::adamw_update(config, values, flat(p), flat(g), flat(m), flat(v));
    CHECK(bitwise_equal(to_host_f32(dp), p));
    CHECK(bitwise_equal(to_host_f32(dm), m));
    const Tensor back = to_host_f32(copy);
    for (int64_t i = 0; i < n; ++i) REQUIRE(back.data<float>()[i] == representable(p.data<float>()[i], half));
  }
}

TEST_CASE("layernorm and rmsnorm backward on the GPU add the residual gradient like the CPU") {
  const int64_t rows = 40, h = 96;
  for (DType dtype : kActivationDTypes) {
    for (bool rms : {false, true}) {
      INFO(dtype_name(dtype) << (rms ? " rmsnorm" : " layernorm"));
      const Tensor x = host_random({rows, h}, 41, dtype), gamma = host_random({h}, 42, dtype);
      const Tensor beta = host_random({h}, 43, dtype), dy = host_random({rows, h}, 44, dtype);
      const Tensor residual = host_random({rows, h}, 45, dtype);
      const core::NormOptions options{1e-5f, false};
      Tensor y = Tensor::empty({rows, h}), mean = Tensor::empty({rows}), rstd = Tensor::empty({rows});
      Tensor dx = Tensor::empty({rows, h});
      const Tensor gx = to_device(x, dtype), ggamma = to_device(gamma, dtype), gbeta = to_device(beta, dtype);
      Tensor gy = device_poisoned({rows, h}, dtype), gmean = device_poisoned({rows}, DType::F32),
             grstd = device_poisoned({rows}, DType::F32), gdx = device_poisoned({rows, h}, dtype);
      if (rms) {
        core::rmsnorm_forward(x, gamma, options, y, rstd);
        core::rmsnorm_backward(x, gamma, rstd, dy, options, dx, Tensor(), residual);
        core::rmsnorm_forward(gx, ggamma, options, gy, grstd);
        core::rmsnorm_backward(gx, ggamma, grstd, to_device(dy, dtype), options, gdx, Tensor(),
                               to_device(residual, dtype));
      } else {
        core::layernorm_forward(x, gamma, beta, options, y, mean, rstd);
        core::layernorm_backward(x, gamma, mean, rstd, dy, options, dx, Tensor(), Tensor(), residual);
        core::layernorm_forward(gx, ggamma, gbeta, options, gy, gmean, grstd);
        core::layernorm_backward(gx, ggamma, gmean, grstd, to_device(dy, dtype), options, gdx, Tensor(), Tensor(),
                                 to_device(residual, dtype));
      }
      require_close_to_cpu(gdx, dx, tolerance(dtype, double(h)), "dx with the residual gradient");
    }
  }
}
