// fp32 reference dropout with the mask regenerated from Philox (never stored).
#include <algorithm>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {
// out[i] = in[i] · (kept ? 1/(1−p) : 0), element i drawing Philox index rng.offset + i.
void apply_mask(const char* op, const Tensor& in, float p, const PhiloxStream& rng,
                const Tensor& out) {
  require(op, "input", in, DType::F32);
  require(op, "output", out, DType::F32);
  require_shape(op, "output", out, in.shape());
  check(p >= 0.0f && p < 1.0f, std::string(op) + ": dropout probability must be in [0, 1)");
  const float* src = in.data<float>();
  float* dst = out.data<float>();
  int64_t n = in.numel();
  if (p == 0.0f) {
    if (src != dst) std::copy(src, src + n, dst);
    return;
  }
  float keep_scale = 1.0f / (1.0f - p);
  // Blocks of 4 aligned to the global Philox index, so each block costs one Philox call.
  uint64_t first = rng.offset, last = rng.offset + uint64_t(n);
  int64_t blocks = int64_t((last + 3) / 4 - first / 4);
#pragma omp parallel for if (worth_parallel(16 * n)) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    uint64_t block = first / 4 + uint64_t(b);
    float u[4];
    philox_uniform4(rng.seed, rng.stream, block, u);
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t index = block * 4 + uint64_t(lane);
      if (index < first || index >= last) continue;
      int64_t i = int64_t(index - first);
      dst[i] = u[lane] >= p ? src[i] * keep_scale : 0.0f;
    }
  }
}
}  // namespace

void dropout_forward(const Tensor& x, float p, const PhiloxStream& rng, const Tensor& y) {
  apply_mask("dropout_forward", x, p, rng, y);
}

void dropout_backward(const Tensor& dy, float p, const PhiloxStream& rng, const Tensor& dx) {
  apply_mask("dropout_backward", dy, p, rng, dx);
}

}  // namespace mcpp::core::cpu
