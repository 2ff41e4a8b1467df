#pragma once
// How many SMs a GEMM is planned for while overlapped communication holds some (gemm.h). Plain
// constexpr arithmetic, so the policy is unit-tested without a GPU.
#include <algorithm>

#include "core/kernels/cuda/gemm.h"

namespace mcpp::core::gpu {

// cuBLASLt's SM_COUNT_TARGET for one GEMM; 0 means every SM (its default). Beside announced
// communication a GEMM leaves `reserve` SMs to it, except a GEMM with the DGELU epilogue: for that
// one cuBLASLt's heuristic picks kernels 17-20% slower at 108 of 132 SMs (GPT-2's MLP backward on
// H200, docs/parallel.md), far more than the full grid loses beside NCCL.
constexpr int gemm_sm_target(int sm_count, int reserve, bool beside_communication, GemmEpilogue epilogue) {
  if (reserve <= 0 || !beside_communication || epilogue == GemmEpilogue::kDGelu) return 0;
  return std::max(1, sm_count - reserve);
}

}  // namespace mcpp::core::gpu
