// LayerNorm, RMSNorm, GELU, SwiGLU and RoPE against the CPU reference, f32, bf16 and f16.
#include "core/kernels/elementwise.h"
#include "core/kernels/gelu.h"
#include "core/kernels/layernorm.h"
#include "core/kernels/rmsnorm.h"
#include "core/kernels/rope.h"
#include "core/kernels/swiglu.h"
#include "test/gpu_kernels/gpu_test_util.h"

using namespace mcpp;
using namespace mcpp::test;

TEST_CASE("layernorm and rmsnorm forward and backward match the CPU (warp-per-row and block-per-row kernels)") {
  for (DType dtype : kActivationDTypes) {
    for (int64_t h : {40, 300, 768, 2048}) {
      for (bool centered : {false, true}) {
        INFO(dtype_label(dtype) << " h=" << h << (centered ? " zero-centered gamma" : ""));
        core::NormOptions options;
        options.eps = 1e-5f;
        options.zero_centered_gamma = centered;
        // 72 rows: several warps of the warp-per-row backward, so its partial sums are combined.
        Shape shape{8, 9, h};
        const int64_t rows = 72;
        Tensor x = host_random(shape, 20, dtype, -2.0f, 3.0f);
        Tensor gamma = host_random(Shape{h}, 21, dtype, centered ? -0.5f : 0.5f, centered ? 0.5f : 1.5f);
        Tensor beta = host_random(Shape{h}, 22, dtype);
        Tensor dy = host_random(shape, 23, dtype);
        Tensor gx = to_device(x, dtype), ggamma = to_device(gamma, dtype),
               gbeta = to_device(beta, dtype), gdy = to_device(dy, dtype);

        // LayerNorm
        Tensor y = Tensor::empty(shape), mean = Tensor::empty(Shape{rows}), rstd = Tensor::empty(Shape{rows});
        core::layernorm_forward(x, gamma, beta, options, y, mean, rstd);
        Tensor gy = device_poisoned(shape, dtype), gmean = device_poisoned(Shape{rows}, DType::F32),
               grstd = device_poisoned(Shape{rows}, DType::F32);
        core::layernorm_forward(gx, ggamma, gbeta, options, gy, gmean, grstd);
        require_close_to_cpu(gy, y, tolerance(dtype, double(h)), "layernorm y");
        require_close_to_cpu(gmean, mean, tolerance(DType::F32, double(h)), "layernorm mean");
        require_close_to_cpu(grstd, rstd, tolerance(DType::F32, double(h)), "layernorm rstd");

        Tensor dx = Tensor::empty(shape);
        Tensor dgamma = host_random(Shape{h}, 24, DType::F32), dbeta = host_random(Shape{h}, 25, DType::F32);
        Tensor gdx = device_poisoned(shape, dtype);
        Tensor gdgamma = to_device(dgamma, DType::F32), gdbeta = to_device(dbeta, DType::F32);
        core::layernorm_backward(x, gamma, mean, rstd, dy, options, dx, dgamma, dbeta);
        core::layernorm_backward(gx, ggamma, gmean, grstd, gdy, options, gdx, gdgamma, gdbeta);
        require_close_to_cpu(gdx, dx, tolerance(dtype, double(h)), "layernorm dx");
        require_close_to_cpu(gdgamma, dgamma, tolerance(dtype, double(rows)), "layernorm dgamma");
        require_close_to_cpu(gdbeta, dbeta, tolerance(DType::F32, double(rows)), "layernorm dbeta");

        // RMSNorm
        Tensor ry = Tensor::empty(shape), rrstd = Tensor::empty(Shape{rows});
        core::rmsnorm_forward(x, gamma, options, ry, rrstd);
        Tensor gry = device_poisoned(shape, dtype), grrstd = device_poisoned(Shape{rows}, DType::F32);
        core::rmsnorm_forward(gx, ggamma, options, gry, grrstd);
        require_close_to_cpu(gry, ry, tolerance(dtype, double(h)), "rmsnorm y");
        require_close_to_cpu(grrstd, rrstd, tolerance(DType::F32, double(h)), "rmsnorm rstd");
        Tensor rdx = Tensor::empty(shape), rdgamma = host_random(Shape{h}, 26, DType::F32);
        Tensor grdx = device_poisoned(shape, dtype), grdgamma = to_device(rdgamma, DType::F32);
        core::rmsnorm_backward(x, gamma, rrstd, dy, options, rdx, rdgamma);
        core::rmsnorm_backward(gx, ggamma, grrstd, gdy, options, grdx, grdgamma);
        require_close_to_cpu(grdx, rdx, tolerance(dtype, double(h)), "rmsnorm dx");
        require_close_to_cpu(grdgamma, rdgamma, tolerance(dtype, double(rows)), "rmsnorm dgamma");
      }
    }
  }
}

TEST_CASE("residual-add norm forward matches the CPU add then norm, and the device add then norm bit for bit") {
  for (DType dtype : kActivationDTypes) {
    for (int64_t h : {40, 768}) {
      for (bool rms : {false, true}) {
        INFO(dtype_label(dtype) << " h=" << h << (rms ? " rmsnorm" : " layernorm"));
        const core::NormOptions options{1e-5f, false};
        const Shape shape{4, 3, h};
        Tensor x = host_random(shape, 40, dtype, -2.0f, 3.0f), residual = host_random(shape, 41, dtype, -2.0f, 2.0f);
        Tensor gamma = host_random(Shape{h}, 42, dtype, 0.5f, 1.5f), beta = host_random(Shape{h}, 43, dtype);
        Tensor gx = to_device(x, dtype), gres = to_device(residual, dtype), ggamma = to_device(gamma, dtype),
               gbeta = to_device(beta, dtype);
        auto norm = [&](const Tensor& in, const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& g,
                        const Tensor& b) {
          if (rms)
            core::rmsnorm_forward(in, g, options, y, rstd);
          else
            core::layernorm_forward(in, g, b, options, y, mean, rstd);
        };
        auto fused = [&](const Tensor& res, const Tensor& in, const Tensor& sum, const Tensor& y, const Tensor& mean,
                         const Tensor& rstd) {
          if (rms)
            core::add_rmsnorm_forward(res, in, ggamma, options, sum, y, rstd);
          else
            core::add_layernorm_forward(res, in, ggamma, gbeta, options, sum, y, mean, rstd);
        };
        // CPU reference: the sum stored in the activation dtype (as the device stores it), then the norm.
        Tensor sum = Tensor::empty(shape);
        for (int64_t i = 0; i < sum.numel(); ++i) sum.data<float>()[i] = residual.data<float>()[i] + x.data<float>()[i];
        Tensor stored = Tensor::empty(shape, dtype);
        stored.copy_from(sum);
        sum.copy_from(stored);
        Tensor y = Tensor::empty(shape), mean = Tensor::empty(Shape{12}), rstd = Tensor::empty(Shape{12});
        norm(sum, y, mean, rstd, gamma, beta);

        Tensor gsum = device_poisoned(shape, dtype), gy = device_poisoned(shape, dtype);
        Tensor gmean = device_poisoned(Shape{12}, DType::F32), grstd = device_poisoned(Shape{12}, DType::F32);
        fused(gres, gx, gsum, gy, gmean, grstd);
        require_close_to_cpu(gsum, sum, Tolerance{0.0, 0.0}, "sum");
        require_close_to_cpu(gy, y, tolerance(dtype, double(h)), "y");
        require_close_to_cpu(grstd, rstd, tolerance(DType::F32, double(h)), "rstd");
        if (!rms) require_close_to_cpu(gmean, mean, tolerance(DType::F32, double(h)), "mean");

        // The device's separate add and norm give the same bits; so does the fused op in place.
        Tensor asum = device_poisoned(shape, dtype), ay = device_poisoned(shape, dtype);
        Tensor amean = device_poisoned(Shape{12}, DType::F32), arstd = device_poisoned(Shape{12}, DType::F32);
        core::add(gres, gx, asum);
        norm(asum, ay, amean, arstd, ggamma, gbeta);
        Tensor inplace = to_device(residual, dtype), iy = device_poisoned(shape, dtype);
        fused(inplace, gx, inplace, iy, gmean, grstd);
        for (const auto& [actual, expected] : {std::pair{gsum, asum}, std::pair{gy, ay}, std::pair{inplace, asum},
                                               std::pair{iy, ay}, std::pair{grstd, arstd}}) {
          require_close_to_cpu(actual, to_host_f32(expected), Tolerance{0.0, 0.0}, "fused vs separate device ops");
        }
      }
    }
  }
}

TEST_CASE("gelu (with and without bias) and swiglu forward and backward match the CPU") {
  for (DType dtype : kActivationDTypes) {
    for (bool with_bias : {true, false}) {
      INFO(dtype_label(dtype) << (with_bias ? " with bias" : " without bias"));
      Shape shape{6, 5, 20};
      Tensor x = host_random(shape, 30, dtype, -4.0f, 4.0f);
      Tensor bias = with_bias ? host_random(Shape{20}, 31, dtype) : Tensor();
      Tensor dy = host_random(shape, 32, dtype);
      Tensor gx = to_device(x, dtype), gdy = to_device(dy, dtype);
      Tensor gbias = with_bias ? to_device(bias, dtype) : Tensor();
      Tensor y = Tensor::empty(shape);
      core::gelu_forward(x, bias, y);
      Tensor gy = device_poisoned(shape, dtype);
      core::gelu_forward(gx, gbias, gy);
      require_close_to_cpu(gy, y, tolerance(dtype), "gelu y");
      Tensor dx = Tensor::empty(shape);
      Tensor dbias = with_bias ? host_random(Shape{20}, 33, DType::F32) : Tensor();
      Tensor gdx = device_poisoned(shape, dtype);
      Tensor gdbias = with_bias ? to_device(dbias, DType::F32) : Tensor();
      core::gelu_backward(x, bias, dy, dx, dbias);
      core::gelu_backward(gx, gbias, gdy, gdx, gdbias);
      require_close_to_cpu(gdx, dx, tolerance(dtype), "gelu dx");
      if (with_bias) require_close_to_cpu(gdbias, dbias, tolerance(dtype, 30), "gelu dbias");
    }
    // f = 24: the 16-byte packed kernels; f = 21: element by element.
    for (int64_t f : {24, 21}) {
      INFO(dtype_label(dtype) << " swiglu, f = " << f);
      Tensor x = host_random(Shape{7, 2, 2 * f}, 34, dtype, -4.0f, 4.0f);
      Tensor dy = host_random(Shape{7, 2, f}, 35, dtype);
      Tensor y = Tensor::empty(dy.shape()), dx = Tensor::empty(x.shape());
      core::swiglu_forward(x, y);
      core::swiglu_backward(x, dy, dx);
      Tensor gx = to_device(x, dtype), gdy = to_device(dy, dtype);
      Tensor gy = device_poisoned(dy.shape(), dtype), gdx = device_poisoned(x.shape(), dtype);
      core::swiglu_forward(gx, gy);
      core::swiglu_backward(gx, gdy, gdx);
      require_close_to_cpu(gy, y, tolerance(dtype), "swiglu y");
      require_close_to_cpu(gdx, dx, tolerance(dtype), "swiglu dx");
    }
  }
}

TEST_CASE("rope forward and backward match the CPU (positions and partial rotation)") {
  for (DType dtype : kActivationDTypes) {
    for (bool partial : {false, true}) {
      INFO(dtype_label(dtype) << (partial ? " rotary_percent 0.5 with positions" : " full"));
      core::RopeOptions options;
      options.rotary_percent = partial ? 0.5f : 1.0f;
      options.seq_len_interpolation_factor = partial ? 2.0f : 1.0f;
      Shape shape{5, 2, 3, 16};
      Tensor x = host_random(shape, 40, dtype);
      Tensor positions, gpositions;
      if (partial) {
        positions = Tensor::empty(Shape{5, 2}, DType::I64);
        for (int64_t i = 0; i < 10; ++i) positions.data<int64_t>()[i] = (i * 977) % 1500;
        gpositions = Tensor::empty(Shape{5, 2}, DType::I64, Device::CUDA);
        gpositions.copy_from(positions);
      }
      Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
      core::rope_forward(x, positions, options, y);
      core::rope_backward(x, positions, options, dx);
      Tensor gx = to_device(x, dtype);
      Tensor gy = device_poisoned(shape, dtype), gdx = device_poisoned(shape, dtype);
      core::rope_forward(gx, gpositions, options, gy);
      core::rope_backward(gx, gpositions, options, gdx);
      require_close_to_cpu(gy, y, tolerance(dtype, 100), "rope y");
      require_close_to_cpu(gdx, dx, tolerance(dtype, 100), "rope dx");
    }
  }
}
