#pragma once
// One GEMM entry point over cuBLASLt for every matrix product of the CUDA backend.
//
// Column-major, as cuBLAS: D (m×n) = alpha · op(A) · op(B) + beta · C, op(A) m×k, op(B) k×n, with
// an optional epilogue fused into the same kernel. (A row-major product is the column-major one
// of the transposes; the callers in linear.cu and attention_unfused.cu spell out each mapping.)
// C is D (in-place accumulation when beta != 0) unless `c` is given (same layout and dtype as D). Strided batches: `batch` products whose
// operands start `stride_*` elements apart.
//
// The algorithm for a (shape, layout, dtype, epilogue, alignment) is chosen once by cuBLASLt's
// heuristic and cached. Compute is fp32 (no TF32), workspace 32 MiB (Hopper's recommendation).
// The options already carry what FP8 operands will need (per-tensor scale pointers and the
// output amax); FP8 itself is rejected until it is implemented and tested.
#include <cstdint>

#include "core/base/dtype.h"

namespace mcpp::core::gpu {

enum class GemmEpilogue : uint8_t {
  kNone,
  kBias,          // D = A·B + bias (bias per row of D, i.e. length m)
  kGeluAuxBias,   // aux = A·B + bias (pre-activation, stored); D = gelu(aux)
  kDGelu,         // D = (A·B) · gelu'(aux)
  kBGradB,        // D = A·B; bias_grad[j] = Σ over k of op(B) row j (length n)
};

struct GemmOptions {
  int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
  const void* a = nullptr;
  const void* b = nullptr;
  void* d = nullptr;
  int64_t lda = 0, ldb = 0, ldd = 0;
  DType a_dtype = DType::F32, b_dtype = DType::F32, d_dtype = DType::F32;
  float alpha = 1.0f, beta = 0.0f;
  const void* c = nullptr;  // beta's C when it is not D

  int batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_d = 0;

  GemmEpilogue epilogue = GemmEpilogue::kNone;
  void* bias = nullptr;  // kBias, kGeluAuxBias: input; kBGradB: output
  DType bias_dtype = DType::F32;
  void* aux = nullptr;  // kGeluAuxBias: output, kDGelu: input (pre-activation, d_dtype, ld = ldd)

  // FP8 scaling (device fp32 pointers), for FP8 a/b dtypes only; not supported yet.
  const float* a_scale = nullptr;
  const float* b_scale = nullptr;
  const float* d_scale = nullptr;
  float* d_amax = nullptr;
};

void gemm(const GemmOptions& options);

// GEMMs beside communication. cuBLASLt's Hopper kernels size their grid to every SM; a
// collective running on another stream holds some SMs, so part of such a grid waits for a second
// wave until the collective ends, which can double the GEMM's time. When a collective is started
// without waiting (the data-parallel bucket reductions and parameter gathers), the communicator
// announces how long it should take (expect_concurrent_communication); GEMMs issued while that
// estimate lasts are planned for the SMs left over (cuBLASLt's SM_COUNT_TARGET; DGELU-epilogue
// GEMMs excepted, gemm_sm_target.h), and each uses up its own estimated time. Off (no reserve)
// unless set: --deterministic-mode keeps it off, so every GEMM of a shape always runs the same
// algorithm.
void set_communication_sm_reserve(int sms);
void expect_concurrent_communication(double seconds);

}  // namespace mcpp::core::gpu
