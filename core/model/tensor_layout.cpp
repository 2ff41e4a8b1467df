#include "core/model/tensor_layout.h"

#include <cstring>

#include "core/base/error.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#include "core/model/cuda/qkv_shuffle.h"
#endif

namespace mcpp::model {

namespace {
// Copies between the fused QKV rows and the three head tensors; `to_fused` picks the direction.
// The host loop moves fp32 elements (the CPU model computes in fp32).
void shuffle_qkv(const Tensor& qkv, const Tensor& q, const Tensor& k, const Tensor& v,
                 int heads_per_group, bool to_fused) {
  const int64_t d = q.dim(-1);
  const int64_t groups = k.dim(-2);
  const int64_t rows = q.numel() / (groups * heads_per_group * d);  // s * b
  check(qkv.numel() == rows * groups * (heads_per_group + 2) * d, "QKV shape mismatch " + qkv.describe());
  for (const Tensor* t : {&q, &k, &v}) {
    check(t->dtype() == qkv.dtype() && t->device() == qkv.device(),
          "QKV layout shuffle: " + t->describe() + " differs from " + qkv.describe());
  }
  if (qkv.device() == Device::CUDA) {
#ifdef MCPP_HAVE_CUDA
    const profile::Scope timed(to_fused ? "merge_qkv" : "split_qkv");
    return cuda::shuffle_qkv(qkv, q, k, v, heads_per_group, to_fused);
#else
    throw Error("QKV layout shuffle: this build has no CUDA support");
#endif
  }
  float* fused = qkv.data<float>();
  float* qp = q.data<float>();
  float* kp = k.data<float>();
  float* vp = v.data<float>();
  const int64_t q_group = heads_per_group * d;
  const size_t q_bytes = sizeof(float) * q_group, kv_bytes = sizeof(float) * d;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      float* f = fused + (r * groups + g) * (q_group + 2 * d);
      float* qg = qp + (r * groups + g) * q_group;
      float* kg = kp + (r * groups + g) * d;
      float* vg = vp + (r * groups + g) * d;
      if (to_fused) {
        std::memcpy(f, qg, q_bytes);
        std::memcpy(f + q_group, kg, kv_bytes);
        std::memcpy(f + q_group + d, vg, kv_bytes);
      } else {
        std::memcpy(qg, f, q_bytes);
        std::memcpy(kg, f + q_group, kv_bytes);
        std::memcpy(vg, f + q_group + d, kv_bytes);
      }
    }
  }
}
}  // namespace

void split_qkv(const Tensor& qkv, int heads_per_group, const Tensor& q, const Tensor& k, const Tensor& v) {
  shuffle_qkv(qkv, q, k, v, heads_per_group, false);
}

void merge_qkv(const Tensor& dq, const Tensor& dk, const Tensor& dv, int heads_per_group, const Tensor& dqkv) {
  shuffle_qkv(dqkv, dq, dk, dv, heads_per_group, true);
}

Tensor to_sequence_first(const Tensor& batch_first) {
  check(batch_first.rank() == 2, "batch tensors must be [micro-batch, sequence], got " + batch_first.describe());
  check(batch_first.device() == Device::CPU, "batch tensors must be on the CPU");
  const int64_t b = batch_first.dim(0), s = batch_first.dim(1);
  Tensor out = Tensor::empty({s, b}, batch_first.dtype());
  const size_t elem = dtype_size(batch_first.dtype());
  const auto* src = static_cast<const unsigned char*>(batch_first.raw_data());
  auto* dst = static_cast<unsigned char*>(out.raw_data());
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < s; ++j) std::memcpy(dst + (j * b + i) * elem, src + (i * s + j) * elem, elem);
  return out;
}

}  // namespace mcpp::model
