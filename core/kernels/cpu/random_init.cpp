// Philox parameter initialisation of a (possibly sharded) fp32 tensor.
#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {
// Calls draw(local index, global index) for every element of out, the global index being the
// element's row-major position in full_shape.
template <typename Draw>
void for_each_global_index(const char* op, const Tensor& out, const Shape& full_shape,
                           const Shape& shard_start, Draw draw) {
  const Shape& local = out.shape();
  int rank = local.rank();
  check(full_shape.rank() == rank && shard_start.rank() == rank,
        std::string(op) + ": full shape and shard start must have the rank of " + out.describe());
  for (int a = 0; a < rank; ++a) {
    check(shard_start[a] >= 0 && shard_start[a] + local[a] <= full_shape[a],
          std::string(op) + ": shard " + out.describe() + " at " + shard_start.to_string() +
              " does not fit in " + full_shape.to_string());
  }
  int64_t n = out.numel();
#pragma omp parallel for if (worth_parallel(16 * n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, global = 0, stride = 1;
    for (int a = rank - 1; a >= 0; --a) {
      int64_t coordinate = rest % local[a];
      rest /= local[a];
      global += (shard_start[a] + coordinate) * stride;
      stride *= full_shape[a];
    }
    draw(i, uint64_t(global));
  }
}
}  // namespace

void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng,
                 const Shape& full_shape, const Shape& shard_start) {
  const char* op = "init_normal";
  require(op, "out", out, DType::F32);
  float* dst = out.data<float>();
  for_each_global_index(op, out, full_shape, shard_start, [&](int64_t i, uint64_t global) {
    dst[i] = mean + std * philox_normal(rng.seed, rng.stream, rng.offset + global);
  });
}

void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng,
                  const Shape& full_shape, const Shape& shard_start) {
  const char* op = "init_uniform";
  require(op, "out", out, DType::F32);
  float* dst = out.data<float>();
  for_each_global_index(op, out, full_shape, shard_start, [&](int64_t i, uint64_t global) {
    dst[i] = low + (high - low) * philox_uniform(rng.seed, rng.stream, rng.offset + global);
  });
}

}  // namespace mcpp::core::cpu
