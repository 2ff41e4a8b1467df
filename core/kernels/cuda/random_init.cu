// Philox parameter initialisation on the GPU: every element draws the Philox index of its
// row-major position in the full (unsharded) tensor, exactly as the CPU reference, so a shard
// initialised on any device holds the full tensor's values at its elements.
#include "core/base/philox.h"
#include "core/kernels/cuda/cuda_util.cuh"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

struct ShardGeometry {
  int rank;
  int64_t local[Shape::kMaxRank];
  int64_t full[Shape::kMaxRank];
  int64_t start[Shape::kMaxRank];

  __device__ uint64_t global_index(int64_t i) const {
    int64_t rest = i, global = 0, stride = 1;
    for (int a = rank - 1; a >= 0; --a) {
      int64_t coordinate = rest % local[a];
      rest /= local[a];
      global += (start[a] + coordinate) * stride;
      stride *= full[a];
    }
    return uint64_t(global);
  }
};

ShardGeometry shard_geometry(const char* op, const Tensor& out, const Shape& full_shape,
                             const Shape& shard_start) {
  const Shape& local = out.shape();
  int rank = local.rank();
  check(full_shape.rank() == rank && shard_start.rank() == rank,
        std::string(op) + ": full shape and shard start must have the rank of " + out.describe());
  ShardGeometry g{rank, {}, {}, {}};
  for (int a = 0; a < rank; ++a) {
    check(shard_start[a] >= 0 && shard_start[a] + local[a] <= full_shape[a],
          std::string(op) + ": shard " + out.describe() + " at " + shard_start.to_string() +
              " does not fit in " + full_shape.to_string());
    g.local[a] = local[a];
    g.full[a] = full_shape[a];
    g.start[a] = shard_start[a];
  }
  return g;
}

// Explicit rounding intrinsics keep a·b + c from being fused into one FMA, so the result is
// the CPU's (two roundings).
template <typename T>
__global__ void normal_kernel(T* out, int64_t n, ShardGeometry g, float mean, float std,
                              PhiloxStream rng) {
  MCPP_GRID_STRIDE(i, n) {
    float z = philox_normal(rng.seed, rng.stream, rng.offset + g.global_index(i));
    out[i] = from_float<T>(__fadd_rn(mean, __fmul_rn(std, z)));
  }
}

template <typename T>
__global__ void uniform_kernel(T* out, int64_t n, ShardGeometry g, float low, float width,
                               PhiloxStream rng) {
  MCPP_GRID_STRIDE(i, n) {
    float u = philox_uniform(rng.seed, rng.stream, rng.offset + g.global_index(i));
    out[i] = from_float<T>(__fadd_rn(low, __fmul_rn(width, u)));
  }
}

}  // namespace

void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng,
                 const Shape& full_shape, const Shape& shard_start) {
  const char* op = "init_normal";
  DType dtype = activation_dtype(op, {&out});
  ShardGeometry g = shard_geometry(op, out, full_shape, shard_start);
  int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(out.data<T>(), n, g, mean,
                                                                       std, rng);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng,
                  const Shape& full_shape, const Shape& shard_start) {
  const char* op = "init_uniform";
  DType dtype = activation_dtype(op, {&out});
  ShardGeometry g = shard_geometry(op, out, full_shape, shard_start);
  int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<<<elementwise_blocks(n), 256, 0, current_stream()>>>(out.data<T>(), n, g, low,
                                                                        high - low, rng);
  });
  MCPP_CUDA_CHECK_LAUNCH();
}

}  // namespace mcpp::core::gpu
