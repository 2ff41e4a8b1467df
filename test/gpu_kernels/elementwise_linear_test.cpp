// Elementwise helpers and the linear layer (cuBLASLt) against the CPU reference, f32, bf16 and f16.
#include <cstring>
#include <utility>
#include <vector>

#include "core/kernels/elementwise.h"
#include "core/kernels/cuda/gemm.h"
#include "core/kernels/linear.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;

TEST_CASE("elementwise helpers and bias_grad and sum_of_squares match the CPU") {
  for (DType dtype : kActivationDTypes) {
    INFO(dtype_label(dtype));
    Shape shape{7, 3, 33};
    Tensor a = host_random(shape, 1, dtype), b = host_random(shape, 2, dtype);
    Tensor bias = host_random(Shape{33}, 3, dtype);
    Tensor da = to_device(a, dtype), db = to_device(b, dtype), dbias = to_device(bias, dtype);

    Tensor sum = Tensor::empty(shape);
    core::add(a, b, sum);
    Tensor dsum = device_poisoned(shape, dtype);
    core::add(da, db, dsum);
    require_close_to_cpu(dsum, sum, tolerance(dtype), "add");

    Tensor y = host_copy(b);
    core::axpy(0.75f, a, y);
    Tensor dy = to_device(b, dtype);
    core::axpy(0.75f, da, dy);
    require_close_to_cpu(dy, y, tolerance(dtype), "axpy");

    core::scale(y, -1.25f);
    core::scale(dy, -1.25f);
    require_close_to_cpu(dy, y, tolerance(dtype), "scale");

    Tensor biased = Tensor::empty(shape);
    core::bias_add(a, bias, biased);
    Tensor dbiased = device_poisoned(shape, dtype);
    core::bias_add(da, dbias, dbiased);
    require_close_to_cpu(dbiased, biased, tolerance(dtype), "bias_add");

    Tensor grad = host_random(Shape{33}, 4, DType::F32);
    Tensor dgrad = to_device(grad, DType::F32);
    core::bias_grad(a, grad);
    core::bias_grad(da, dgrad);
    require_close_to_cpu(dgrad, grad, tolerance(DType::F32, 21), "bias_grad");

    double expected = core::sum_of_squares(a);
    double actual = core::sum_of_squares(da);
    REQUIRE(std::fabs(actual - expected) <= 1e-9 * expected);

    // Several views (one empty) summed in one device pass: the CPU sum of the same elements, and
    // the same bits when repeated.
    const Tensor flat_device = da.view({da.numel()});
    const Tensor flat_host = a.view({a.numel()});
    const std::vector<std::pair<int64_t, int64_t>> views = {{0, 5}, {7, 0}, {9, 40}, {60, da.numel() - 60}};
    std::vector<Tensor> parts;
    double parts_expected = 0.0;
    for (const auto& [begin, n] : views) {
      parts.push_back(flat_device.sub(begin, {n}));
      parts_expected += core::sum_of_squares(flat_host.sub(begin, {n}));
    }
    const double parts_actual = core::sum_of_squares(parts);
    REQUIRE(std::fabs(parts_actual - parts_expected) <= 1e-9 * parts_expected);
    REQUIRE(core::sum_of_squares(parts) == parts_actual);
  }
}

TEST_CASE("sum_of_squares over many parts of different sizes matches the CPU") {
  // Parts from 1 to ~1.5M elements: the large ones take many blocks each, the small ones one.
  const int64_t total = 3'000'000;
  Tensor host = host_random(Shape{total}, 77, DType::F32);
  Tensor device = to_device(host, DType::F32);
  std::vector<Tensor> parts;
  double expected = 0.0;
  int64_t begin = 0;
  for (int64_t n : {int64_t(1), int64_t(1'500'000), int64_t(3), int64_t(700'001), int64_t(0), int64_t(64)}) {
    parts.push_back(device.sub(begin, {n}));
    expected += core::sum_of_squares(host.sub(begin, {n}));
    begin += n + 17;
  }
  const double actual = core::sum_of_squares(parts);
  REQUIRE(std::fabs(actual - expected) <= 1e-12 * expected);
  REQUIRE(core::sum_of_squares(parts) == actual);
}

TEST_CASE("linear forward and backward match the CPU (with and without bias)") {
  for (DType dtype : kActivationDTypes) {
    for (bool with_bias : {true, false}) {
      INFO(dtype_label(dtype) << (with_bias ? " with bias" : " without bias"));
      const int64_t in = 48, out = 40;
      Tensor x = host_random(Shape{3, 5, in}, 10, dtype);
      Tensor w = host_random(Shape{out, in}, 11, dtype, -0.3f, 0.3f);
      Tensor bias = with_bias ? host_random(Shape{out}, 12, dtype) : Tensor();
      Tensor y = Tensor::empty(Shape{3, 5, out});
      core::linear_forward(x, w, bias, y);
      Tensor dx_ = to_device(x, dtype), dw_ = to_device(w, dtype);
      Tensor dbias_ = with_bias ? to_device(bias, dtype) : Tensor();
      Tensor dy_out = device_poisoned(y.shape(), dtype);
      core::linear_forward(dx_, dw_, dbias_, dy_out);
      require_close_to_cpu(dy_out, y, tolerance(dtype, in), "linear y");

      Tensor dy = host_random(y.shape(), 13, dtype);
      Tensor dx = Tensor::empty(x.shape());
      Tensor dweight = host_random(w.shape(), 14, DType::F32);  // gradients accumulate
      Tensor dbias = with_bias ? host_random(Shape{out}, 15, DType::F32) : Tensor();
      Tensor g_dy = to_device(dy, dtype);
      Tensor g_dx = device_poisoned(x.shape(), dtype);
      Tensor g_dweight = to_device(dweight, DType::F32);
      Tensor g_dbias = with_bias ? to_device(dbias, DType::F32) : Tensor();
      core::linear_backward(x, w, dy, dx, dweight, dbias);
      core::linear_backward(dx_, dw_, g_dy, g_dx, g_dweight, g_dbias);
      require_close_to_cpu(g_dx, dx, tolerance(dtype, out), "linear dx");
      require_close_to_cpu(g_dweight, dweight, tolerance(DType::F32, 15), "linear dweight");
      if (with_bias) require_close_to_cpu(g_dbias, dbias, tolerance(DType::F32, 15), "linear dbias");
    }
  }
}

TEST_CASE("linear with a residual input (beta = 1 in the GEMM) matches the CPU linear then add") {
  for (DType dtype : kActivationDTypes) {
    for (bool with_bias : {true, false}) {
      INFO(dtype_label(dtype) << (with_bias ? " with bias" : " without bias"));
      const int64_t in = 64, out = 48;
      Tensor x = host_random(Shape{4, 5, in}, 16, dtype);
      Tensor w = host_random(Shape{out, in}, 17, dtype, -0.3f, 0.3f);
      Tensor bias = with_bias ? host_random(Shape{out}, 18, dtype) : Tensor();
      Tensor residual = host_random(Shape{4, 5, out}, 19, dtype, -4.0f, 4.0f);
      Tensor y = Tensor::empty(residual.shape());
      core::linear_forward(x, w, bias, y);
      core::add(y, residual, y);
      Tensor gx = to_device(x, dtype), gw = to_device(w, dtype), gres = to_device(residual, dtype);
      Tensor gbias = with_bias ? to_device(bias, dtype) : Tensor();
      Tensor gy = device_poisoned(y.shape(), dtype);
      core::linear_residual_forward(gx, gw, gbias, gres, gy);
      require_close_to_cpu(gy, y, tolerance(dtype, in), "linear + residual");
      require_close_to_cpu(gres, residual, Tolerance{0.0, 0.0}, "residual untouched");
      // In place (C = D) is refused: cuBLASLt rounds it differently from C != D.
      CHECK_THROWS_WITH(core::linear_residual_forward(gx, gw, gbias, gres, gres), Catch::Contains("must not overlap y"));
      // The CPU op equals the CPU linear followed by the add.
      Tensor cy = Tensor::empty(y.shape());
      core::linear_residual_forward(x, w, bias, residual, cy);
      for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(cy.data<float>()[i] == y.data<float>()[i]);
    }
  }
}

TEST_CASE("weight gradients on the GPU are bitwise reproducible run to run") {
  const int64_t in = 64, out = 48;
  Tensor x = host_random(Shape{300, in}, 16, DType::F32);
  Tensor w = host_random(Shape{out, in}, 17, DType::F32);
  Tensor dy = host_random(Shape{300, out}, 18, DType::F32);
  Tensor gx = to_device(x, DType::F32), gw = to_device(w, DType::F32), gdy = to_device(dy, DType::F32);
  Tensor first_dw, first_db;
  for (int run = 0; run < 2; ++run) {
    Tensor dw = Tensor::zeros(w.shape(), DType::F32, Device::CUDA);
    Tensor db = Tensor::zeros(Shape{out}, DType::F32, Device::CUDA);
    core::linear_backward(gx, gw, gdy, Tensor(), dw, db);
    Tensor hdw = to_host_f32(dw), hdb = to_host_f32(db);
    if (run == 0) {
      first_dw = hdw;
      first_db = hdb;
    } else {
      REQUIRE(std::memcmp(hdw.raw_data(), first_dw.raw_data(), hdw.nbytes()) == 0);
      REQUIRE(std::memcmp(hdb.raw_data(), first_db.raw_data(), hdb.nbytes()) == 0);
    }
  }
}

TEST_CASE("linear forward planned for the SMs a concurrent collective leaves matches the CPU") {
  // GEMMs issued while announced communication lasts run with cuBLASLt's SM_COUNT_TARGET; the
  // results must be as correct as with every SM. Large enough for the Hopper persistent kernels.
  core::gpu::set_communication_sm_reserve(24);
  for (DType dtype : {DType::BF16, DType::F32}) {
    INFO(dtype_label(dtype));
    const int64_t rows = 512, in = 768, out = 1024;
    Tensor x = host_random(Shape{rows, in}, 21, dtype);
    Tensor w = host_random(Shape{out, in}, 22, dtype, -0.3f, 0.3f);
    Tensor y = Tensor::empty(Shape{rows, out});
    core::linear_forward(x, w, Tensor(), y);
    Tensor dx = to_device(x, dtype), dw = to_device(w, dtype);
    Tensor dy = device_poisoned(y.shape(), dtype);
    core::gpu::expect_concurrent_communication(1.0);  // every GEMM below counts as overlapped
    core::linear_forward(dx, dw, Tensor(), dy);
    require_close_to_cpu(dy, y, tolerance(dtype, in), "linear y beside communication");
  }
  core::gpu::set_communication_sm_reserve(0);
}
