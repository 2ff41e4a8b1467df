#include "core/kernels/random_init.h"

#include "core/kernels/cpu/cpu_ops.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/kernels/cuda/gpu_ops.h"
#endif
#include "core/kernels/dispatch.h"

namespace mcpp::core {

void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng,
                 const Shape& full_shape, const Shape& shard_start) {
  switch (detail::common_device("init_normal", {&out})) {
    case Device::CPU: return cpu::init_normal(out, mean, std, rng, full_shape, shard_start);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("init_normal");
      return gpu::init_normal(out, mean, std, rng, full_shape, shard_start);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("init_normal");
}

void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng,
                  const Shape& full_shape, const Shape& shard_start) {
  switch (detail::common_device("init_uniform", {&out})) {
    case Device::CPU: return cpu::init_uniform(out, low, high, rng, full_shape, shard_start);
    case Device::CUDA:
#ifdef MCPP_HAVE_CUDA
      const profile::Scope timed("init_uniform");
      return gpu::init_uniform(out, low, high, rng, full_shape, shard_start);
#else
      break;
#endif
  }
  detail::no_cuda_kernel("init_uniform");
}

}  // namespace mcpp::core

namespace mcpp::core {

namespace {
Shape zeros_like(const Shape& shape) {
  Shape start;
  for (int i = 0; i < shape.rank(); ++i) start.push_back(0);
  return start;
}
}  // namespace

void init_normal(const Tensor& out, float mean, float std, const PhiloxStream& rng) {
  init_normal(out, mean, std, rng, out.shape(), zeros_like(out.shape()));
}

void init_uniform(const Tensor& out, float low, float high, const PhiloxStream& rng) {
  init_uniform(out, low, high, rng, out.shape(), zeros_like(out.shape()));
}

}  // namespace mcpp::core
