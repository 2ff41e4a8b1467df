// fp32 reference rotary embedding (Megatron's non-interleaved rotate-half).
#include <cmath>
#include <vector>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {

// Rotates every head of x by +θ (direction = +1) or −θ (direction = −1) into y.
void rotate(const char* op, const Tensor& x, const Tensor& positions, const RopeOptions& options,
            const Tensor& y, float direction) {
  require(op, "input", x, DType::F32);
  require(op, "output", y, DType::F32);
  check(x.rank() == 4, std::string(op) + ": input must be [s, b, n, d], got " + x.describe());
  require_shape(op, "output", y, x.shape());
  int64_t s = x.dim(0), b = x.dim(1), n = x.dim(2), d = x.dim(3);
  int64_t rot = int64_t(double(d) * double(options.rotary_percent));
  check(rot > 0 && rot <= d && rot % 2 == 0,
        std::string(op) + ": head dim × rotary percent must be an even number in (0, d], got " +
            std::to_string(rot));
  check(options.seq_len_interpolation_factor > 0,
        std::string(op) + ": seq_len_interpolation_factor must be positive");
  const int64_t* pos = nullptr;
  if (positions.defined()) {
    require(op, "positions", positions, DType::I64);
    require_shape(op, "positions", positions, Shape{s, b});
    pos = positions.data<int64_t>();
  }
  int64_t half = rot / 2;
  std::vector<float> inv_freq(half);
  for (int64_t k = 0; k < half; ++k) {
    inv_freq[k] = float(1.0 / std::pow(double(options.base), double(2 * k) / double(rot)));
  }
  const float* in = x.data<float>();
  float* out = y.data<float>();
#pragma omp parallel for if (worth_parallel(s * b * n * d)) collapse(2) schedule(static)
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t r = 0; r < b; ++r) {
      float p = float(pos ? pos[i * b + r] : i) / options.seq_len_interpolation_factor;
      for (int64_t k = 0; k < half; ++k) {
        float angle = p * inv_freq[k];
        float c = std::cos(angle), sn = direction * std::sin(angle);
        for (int64_t head = 0; head < n; ++head) {
          int64_t base = ((i * b + r) * n + head) * d;
          float x1 = in[base + k], x2 = in[base + k + half];
          out[base + k] = x1 * c - x2 * sn;
          out[base + k + half] = x2 * c + x1 * sn;
        }
      }
      if (rot < d && in != out) {
        for (int64_t head = 0; head < n; ++head) {
          int64_t base = ((i * b + r) * n + head) * d;
          for (int64_t k = rot; k < d; ++k) out[base + k] = in[base + k];
        }
      }
    }
  }
}

}  // namespace

void rope_forward(const Tensor& x, const Tensor& positions, const RopeOptions& options,
                  const Tensor& y) {
  rotate("rope_forward", x, positions, options, y, 1.0f);
}

void rope_backward(const Tensor& dy, const Tensor& positions, const RopeOptions& options,
                   const Tensor& dx) {
  rotate("rope_backward", dy, positions, options, dx, -1.0f);
}

}  // namespace mcpp::core::cpu
