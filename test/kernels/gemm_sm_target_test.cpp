// The SM count GEMMs are planned for beside overlapped communication (gemm_sm_target.h): the
// policy is plain arithmetic, checked here without a GPU; the GPU kernel tests check that GEMMs
// planned this way are still correct.
#include <catch2/catch.hpp>

#include "core/kernels/cuda/gemm_sm_target.h"

using mcpp::core::gpu::GemmEpilogue;
using mcpp::core::gpu::gemm_sm_target;

TEST_CASE("GEMMs beside communication leave the reserved SMs, except DGELU ones") {
  constexpr int kH100Sms = 132;
  // Without a reserve, or with nothing announced, every GEMM gets the whole device (0).
  CHECK(gemm_sm_target(kH100Sms, 0, true, GemmEpilogue::kNone) == 0);
  CHECK(gemm_sm_target(kH100Sms, 24, false, GemmEpilogue::kNone) == 0);
  // Beside communication: the SMs left over, for every epilogue but DGELU.
  for (GemmEpilogue epilogue :
       {GemmEpilogue::kNone, GemmEpilogue::kBias, GemmEpilogue::kGeluAuxBias, GemmEpilogue::kBGradB}) {
    CHECK(gemm_sm_target(kH100Sms, 24, true, epilogue) == 108);
  }
  CHECK(gemm_sm_target(kH100Sms, 24, true, GemmEpilogue::kDGelu) == 0);
  // A reserve as large as the device still leaves one SM.
  CHECK(gemm_sm_target(16, 24, true, GemmEpilogue::kNone) == 1);
}
