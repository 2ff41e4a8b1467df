#pragma once
// LayerNorm / RMSNorm kernels for rows that fit in registers: one warp per row, each lane holding
// the same columns of every row as 16-byte packs (lane l owns packs l, l + 32, l + 64, ...).
// Rows are read from memory once, reductions are warp shuffles (no block barriers), and the
// backward keeps each warp's dγ/dβ partial sums in registers over a fixed number of rows, so the
// weight gradients cost a small second reduction instead of two more passes over x and dy.
// Used when h is a multiple of the pack size and at most Packs·32 packs (norms.cu checks).
#include <type_traits>

#include "core/kernels/cuda/cuda_util.cuh"

namespace mcpp::core::gpu::row_warp {

constexpr int kWarps = 4;  // warps (rows in flight) per block
// Rows each backward warp handles: a constant, so the partial sums (and the result) depend only
// on the shape.
constexpr int64_t kRowsPerWarp = 16;

// A row slice of one lane: Packs packs of Pack16<T>::kSize values, in fp32.
template <typename T, int Packs>
struct LaneRow {
  static constexpr int kSize = Pack16<T>::kSize;
  float v[Packs][kSize];

  // Loads the lane's packs of `row` (h values); packs past the end read as 0.
  __device__ void load(const T* row, int64_t h, int lane) {
#pragma unroll
    for (int p = 0; p < Packs; ++p) {
      const int64_t col = (int64_t(p) * 32 + lane) * kSize;
      Pack16<T> pack;
      pack.bits = col < h ? *reinterpret_cast<const uint4*>(row + col) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int i = 0; i < kSize; ++i) v[p][i] = pack.get(i);
    }
  }
  __device__ void store(T* row, int64_t h, int lane) const {
#pragma unroll
    for (int p = 0; p < Packs; ++p) {
      const int64_t col = (int64_t(p) * 32 + lane) * kSize;
      if (col >= h) continue;
      Pack16<T> pack;
#pragma unroll
      for (int i = 0; i < kSize; ++i) pack.set(i, v[p][i]);
      *reinterpret_cast<uint4*>(row + col) = pack.bits;
    }
  }
  __device__ static bool valid(int p, int64_t h, int lane) { return (int64_t(p) * 32 + lane) * kSize < h; }
};

// y = norm(x) (or of sum = round(residual + x), stored) for rows [blockIdx.x·kWarps + warp].
template <typename T, bool rms, int Packs>
__global__ void __launch_bounds__(kWarps * 32) forward_kernel(const T* x, const T* residual, T* sum, const T* gamma,
                                                              const T* beta, float eps, float gamma_shift, int64_t h,
                                                              int64_t rows, T* y, float* mean_out, float* rstd_out) {
  const int lane = threadIdx.x % 32;
  const int64_t r = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (r >= rows) return;
  LaneRow<T, Packs> row;
  row.load(x + r * h, h, lane);
  if (residual) {
    LaneRow<T, Packs> res;
    res.load(residual + r * h, h, lane);
#pragma unroll
    for (int p = 0; p < Packs; ++p)
#pragma unroll
      for (int i = 0; i < row.kSize; ++i) row.v[p][i] = to_float(from_float<T>(res.v[p][i] + row.v[p][i]));
    row.store(sum + r * h, h, lane);  // the norm below sees exactly the stored (rounded) sum
  }
  float mean = 0.0f;
  if (!rms) {
    float s = 0.0f;
#pragma unroll
    for (int p = 0; p < Packs; ++p)
#pragma unroll
      for (int i = 0; i < row.kSize; ++i) s += row.v[p][i];
    mean = warp_sum(s) / float(h);
  }
  float sq = 0.0f;
#pragma unroll
  for (int p = 0; p < Packs; ++p) {
    if (!row.valid(p, h, lane)) continue;
#pragma unroll
    for (int i = 0; i < row.kSize; ++i) {
      const float c = row.v[p][i] - mean;
      sq += c * c;
    }
  }
  const float rstd = 1.0f / sqrtf(warp_sum(sq) / float(h) + eps);
  if (lane == 0) {
    if (!rms) mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
  LaneRow<T, Packs> g, b;
  g.load(gamma, h, lane);
  if (beta) b.load(beta, h, lane);
#pragma unroll
  for (int p = 0; p < Packs; ++p)
#pragma unroll
    for (int i = 0; i < row.kSize; ++i) {
      float out = (row.v[p][i] - mean) * rstd * (g.v[p][i] + gamma_shift);
      if (beta) out += b.v[p][i];
      row.v[p][i] = out;
    }
  row.store(y + r * h, h, lane);
}

// dx (+ dresidual) for kRowsPerWarp rows per warp; the warp's Σ dy·x̂ into dgamma_part and Σ dy
// into dbeta_part (each optional) over its rows: one row of h partials per launched warp (zeros
// for a warp past the end), to be summed over warps in order.
template <typename T, bool rms, int Packs>
__global__ void __launch_bounds__(kWarps * 32) backward_kernel(const T* x, const T* gamma, const float* mean,
                                                               const float* rstd, const T* dy, float gamma_shift,
                                                               int64_t h, int64_t rows, const T* dresidual, T* dx,
                                                               float* dgamma_part, float* dbeta_part) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int64_t first = warp * kRowsPerWarp, last = min(rows, first + kRowsPerWarp);
  constexpr int kSize = Pack16<T>::kSize;
  LaneRow<T, Packs> g;
  g.load(gamma, h, lane);
  float acc_g[Packs][kSize] = {}, acc_b[Packs][kSize] = {};
  for (int64_t r = first; r < last; ++r) {
    LaneRow<T, Packs> xr, dyr;
    xr.load(x + r * h, h, lane);
    dyr.load(dy + r * h, h, lane);
    const float m = rms ? 0.0f : mean[r], s = rstd[r];
    float sum_g = 0.0f, sum_gx = 0.0f;
#pragma unroll
    for (int p = 0; p < Packs; ++p)
#pragma unroll
      for (int i = 0; i < kSize; ++i) {
        // Past the end dy = 0, so gh = 0 adds nothing.
        const float xh = (xr.v[p][i] - m) * s;
        const float gh = dyr.v[p][i] * (g.v[p][i] + gamma_shift);
        sum_g += gh;
        sum_gx += gh * xh;
        acc_g[p][i] += dyr.v[p][i] * xh;
        acc_b[p][i] += dyr.v[p][i];
        xr.v[p][i] = xh;
        dyr.v[p][i] = gh;
      }
    const float mean_g = rms ? 0.0f : warp_sum(sum_g) / float(h);
    const float mean_gx = warp_sum(sum_gx) / float(h);
    LaneRow<T, Packs> res;
    if (dresidual) res.load(dresidual + r * h, h, lane);
#pragma unroll
    for (int p = 0; p < Packs; ++p)
#pragma unroll
      for (int i = 0; i < kSize; ++i)
        xr.v[p][i] = s * (dyr.v[p][i] - mean_g - xr.v[p][i] * mean_gx) + (dresidual ? res.v[p][i] : 0.0f);
    xr.store(dx + r * h, h, lane);
  }
#pragma unroll
  for (int p = 0; p < Packs; ++p) {
    if (!LaneRow<T, Packs>::valid(p, h, lane)) continue;
    const int64_t col = (int64_t(p) * 32 + lane) * kSize;
#pragma unroll
    for (int i = 0; i < kSize; ++i) {
      if (dgamma_part) dgamma_part[warp * h + col + i] = acc_g[p][i];
      if (dbeta_part) dbeta_part[warp * h + col + i] = acc_b[p][i];
    }
  }
}

// Calls body(std::integral_constant<int, Packs>{}) with the fewest packs per lane (among 1, 2,
// 3, 4, 6, 8, up to MaxPacks) that cover h values of T; false (nothing called) when none does or
// h is not a multiple of the pack size.
template <int MaxPacks, typename T, typename Body>
bool with_packs(int64_t h, Body&& body) {
  constexpr int64_t kSize = Pack16<T>::kSize;
  if (h <= 0 || h % kSize != 0) return false;
  const int64_t packs = (h / kSize + 31) / 32;
  if (packs > MaxPacks) return false;
  if (packs == 1) body(std::integral_constant<int, 1>{});
  else if (packs == 2) body(std::integral_constant<int, 2>{});
  else if (packs == 3) body(std::integral_constant<int, 3>{});
  else if (packs == 4) body(std::integral_constant<int, 4>{});
  else if constexpr (MaxPacks >= 6) {
    if (packs <= 6) body(std::integral_constant<int, 6>{});
    else if constexpr (MaxPacks >= 8) body(std::integral_constant<int, 8>{});
  }
  return true;
}

}  // namespace mcpp::core::gpu::row_warp
