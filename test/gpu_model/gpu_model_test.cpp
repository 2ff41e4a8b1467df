// GPU pieces of the model and optimizer against their CPU references: the fused-QKV layout
// shuffle, AdamW and SGD on flat buffers (bit-identical: same fp32 operations in the same order),
// the non-finite check and the bf16 compute copy of the parameter buffer.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/model/param_buffer.h"
#include "core/model/tensor_layout.h"
#include "core/optim/adamw.h"
#include "core/optim/cuda/optimizer_kernels.h"
#include "core/optim/sgd.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using mcpp::test::device_poisoned;
using mcpp::test::host_random;
using mcpp::test::to_device;
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
  // d = 64: 16-byte packs in fp32 and bf16; d = 6: 12 / 24 bytes per head, element by element.
  for (const Case c : {Case{5, 3, 2, 4, 64}, Case{7, 2, 3, 1, 6}, Case{4, 2, 1, 12, 8}}) {
    for (DType dtype : {DType::F32, DType::BF16}) {
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

TEST_CASE("a bf16 parameter buffer hands the layers bf16 copies of the fp32 main parameters") {
  model::ParamInfo info;
  info.key = "w";
  info.global_shape = {3, 5};
  info.local_shape = {3, 5};
  info.offsets = {0, 0};
  model::ParamBuffer buffer({info}, DType::F32, Device::CUDA, model::BufferLayout{}, DType::BF16);
  const Tensor values = host_random({3, 5}, 4, DType::F32);
  buffer.param(0).copy_from(values);
  buffer.sync_compute_params();
  const model::ParamRef ref = buffer.ref("w");
  REQUIRE(ref.value.dtype() == DType::BF16);
  REQUIRE(ref.grad.dtype() == DType::F32);
  const Tensor back = to_host_f32(ref.value);
  for (int64_t i = 0; i < 15; ++i)
    CHECK(back.data<float>()[i] == bf16_to_float(float_to_bf16(values.data<float>()[i])));
}
