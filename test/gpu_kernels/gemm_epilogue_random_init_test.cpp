// The cuBLASLt wrapper's fused epilogues (GELU_AUX_BIAS, DGELU, BGRADB) against CPU ops, and
// Philox initialisation on the GPU against the CPU's values.
#include <cmath>

#include "core/kernels/cuda/gemm.h"
#include "core/kernels/gelu.h"
#include "core/kernels/linear.h"
#include "core/kernels/random_init.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;
using mcpp::core::gpu::GemmEpilogue;
using mcpp::core::gpu::GemmOptions;

namespace {
constexpr int64_t kRows = 24, kIn = 40, kOut = 56;
}

TEST_CASE("gemm epilogues GELU_AUX_BIAS and DGELU and BGRADB match the CPU ops (f32)") {
  Tensor x = host_random(Shape{kRows, kIn}, 90, DType::F32);
  Tensor w = host_random(Shape{kOut, kIn}, 91, DType::F32, -0.4f, 0.4f);
  Tensor b = host_random(Shape{kOut}, 92, DType::F32);
  Tensor gx = to_device(x, DType::F32), gw = to_device(w, DType::F32), gb = to_device(b, DType::F32);

  // Forward: pre = x·Wᵀ + b (aux), y = gelu(pre).
  Tensor pre = Tensor::empty(Shape{kRows, kOut}), y = Tensor::empty(Shape{kRows, kOut});
  core::linear_forward(x, w, b, pre);
  core::gelu_forward(pre, Tensor(), y);
  Tensor gpre = device_poisoned(pre.shape(), DType::F32), gy = device_poisoned(y.shape(), DType::F32);
  GemmOptions f;
  f.m = kOut;
  f.n = kRows;
  f.k = kIn;
  f.transpose_a = true;
  f.a = gw.raw_data();
  f.lda = kIn;
  f.b = gx.raw_data();
  f.ldb = kIn;
  f.d = gy.raw_data();
  f.ldd = kOut;
  f.epilogue = GemmEpilogue::kGeluAuxBias;
  f.bias = gb.raw_data();
  f.aux = gpre.raw_data();
  core::gpu::gemm(f);
  require_close_to_cpu(gpre, pre, tolerance(DType::F32, kIn), "aux (pre-activation)");
  // cuBLASLt's GELU need not be the tanh form bit for bit: 1e-3 of the output scale.
  require_close_to_cpu(gy, y, Tolerance{1e-3, 1e-3}, "gelu output");

  // Backward into the pre-activation: dpre = (dy·W) · gelu'(pre), with W here [kOut2, kOut].
  const int64_t kNext = 32;
  Tensor w2 = host_random(Shape{kNext, kOut}, 93, DType::F32, -0.4f, 0.4f);
  Tensor dy = host_random(Shape{kRows, kNext}, 94, DType::F32);
  Tensor dact = Tensor::empty(Shape{kRows, kOut}), dpre = Tensor::empty(Shape{kRows, kOut});
  core::linear_backward(y, w2, dy, dact, Tensor(), Tensor());
  core::gelu_backward(pre, Tensor(), dact, dpre, Tensor());
  Tensor gw2 = to_device(w2, DType::F32), gdy = to_device(dy, DType::F32);
  Tensor gdpre = device_poisoned(dpre.shape(), DType::F32);
  Tensor gpre_cpu = to_device(pre, DType::F32);
  GemmOptions d;
  d.m = kOut;
  d.n = kRows;
  d.k = kNext;
  d.a = gw2.raw_data();
  d.lda = kOut;
  d.b = gdy.raw_data();
  d.ldb = kNext;
  d.d = gdpre.raw_data();
  d.ldd = kOut;
  d.epilogue = GemmEpilogue::kDGelu;
  d.aux = gpre_cpu.raw_data();
  core::gpu::gemm(d);
  require_close_to_cpu(gdpre, dpre, Tolerance{1e-3, 1e-3}, "dgelu");

  // Weight gradient with the bias gradient fused: dWᵀ = xᵀ·dpre, dbias = Σ_rows dpre.
  Tensor dw = Tensor::zeros(w.shape()), db = Tensor::zeros(Shape{kOut});
  core::linear_backward(x, w, dpre, Tensor(), dw, db);
  Tensor gdw = Tensor::zeros(w.shape(), DType::F32, Device::CUDA);
  Tensor gdb = device_poisoned(Shape{kOut}, DType::F32);
  Tensor gdpre_cpu = to_device(dpre, DType::F32);
  GemmOptions g;
  g.m = kIn;
  g.n = kOut;
  g.k = kRows;
  g.transpose_b = true;
  g.a = gx.raw_data();
  g.lda = kIn;
  g.b = gdpre_cpu.raw_data();
  g.ldb = kOut;
  g.d = gdw.raw_data();
  g.ldd = kIn;
  g.epilogue = GemmEpilogue::kBGradB;
  g.bias = gdb.raw_data();
  core::gpu::gemm(g);
  require_close_to_cpu(gdw, dw, tolerance(DType::F32, kRows), "dweight");
  require_close_to_cpu(gdb, db, tolerance(DType::F32, kRows), "dbias (BGRADB)");
}

TEST_CASE("Philox init on the GPU gives the CPU's values for a shard of the full tensor") {
  PhiloxStream rng{2024, 5, 3};
  Shape full{6, 10}, shard_shape{3, 4}, start{2, 5};
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_label(dtype));
    Tensor normal = Tensor::empty(shard_shape), uniform = Tensor::empty(shard_shape);
    core::init_normal(normal, 0.5f, 0.02f, rng, full, start);
    core::init_uniform(uniform, -0.1f, 0.3f, rng, full, start);
    Tensor gnormal = device_poisoned(shard_shape, dtype), guniform = device_poisoned(shard_shape, dtype);
    core::init_normal(gnormal, 0.5f, 0.02f, rng, full, start);
    core::init_uniform(guniform, -0.1f, 0.3f, rng, full, start);
    // Uniforms are exact arithmetic on both sides; normals go through fp64 log/cos/sin whose
    // host and device results agree to far below an fp32 ulp (allow 2 ulps).
    Tolerance tol = dtype == DType::F32 ? Tolerance{0.0, 2.5e-7} : tolerance(dtype);
    require_close_to_cpu(gnormal, normal, tol, "init_normal");
    require_close_to_cpu(guniform, uniform, dtype == DType::F32 ? Tolerance{0.0, 0.0} : tol,
                         "init_uniform");
  }
}
