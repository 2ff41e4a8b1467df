#include "core/kernels/cuda/gemm.h"
#include "core/kernels/cuda/gemm_sm_target.h"

#include <cublasLt.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/device_allocator.h"
#include "core/base/cuda/stream.h"
#include "core/base/error.h"

namespace mcpp::core::gpu {

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

// Rough GEMM throughput for the overlap estimate (H100/H200 dense, well below peak on purpose:
// an underestimate of GEMM time keeps SMs reserved a little longer, the safe side).
constexpr double kHalfPrecisionFlops = 600e12;
constexpr double kSinglePrecisionFlops = 40e12;

// The time still expected of announced collectives, and the SMs they hold (see gemm.h). Set and
// used by the thread that issues the GEMMs.
struct CommunicationOverlap {
  int reserve = 0;
  double seconds_left = 0.0;
};
CommunicationOverlap g_overlap;

double estimated_seconds(const GemmOptions& o) {
  const double flops = 2.0 * double(o.m) * double(o.n) * double(o.k) * double(o.batch);
  return flops / (o.a_dtype == DType::F32 ? kSinglePrecisionFlops : kHalfPrecisionFlops);
}

void check_cublas(cublasStatus_t status, const char* call, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(std::string("cuBLASLt error ") + std::to_string(int(status)) + " in " + call +
                " at " __FILE__ ":" + std::to_string(line));
  }
}
#define MCPP_CUBLAS_CHECK(call) check_cublas((call), #call, __LINE__)

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: break;
  }
  throw Error(std::string("gemm: unsupported dtype ") + dtype_name(dtype) +
              " (f32, bf16 and f16 only; FP8 is not implemented yet)");
}

cublasLtEpilogue_t lt_epilogue(GemmEpilogue epilogue) {
  switch (epilogue) {
    case GemmEpilogue::kNone: return CUBLASLT_EPILOGUE_DEFAULT;
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kGeluAuxBias: return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    case GemmEpilogue::kDGelu: return CUBLASLT_EPILOGUE_DGELU;
    case GemmEpilogue::kBGradB: return CUBLASLT_EPILOGUE_BGRADB;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

// Largest power of two (<= 256) dividing the address: what the algorithm may assume.
uint32_t alignment_of(const void* pointer) {
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

// The descriptors of one GEMM configuration; created on first use, kept for the process.
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

template <typename V>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const V& value) {
  MCPP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

cublasLtMatrixLayout_t make_layout(DType dtype, int64_t rows, int64_t cols, int64_t ld, int batch,
                                   int64_t stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  MCPP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, cuda_type(dtype), uint64_t(rows),
                                               uint64_t(cols), ld));
  if (batch > 1) {
    int32_t count = batch;
    MCPP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                       &count, sizeof(count)));
    MCPP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
        layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return layout;
}

class GemmRunner {
 public:
  void run(const GemmOptions& o) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!handle_) {
      MCPP_CUBLAS_CHECK(cublasLtCreate(&handle_));
      workspace_ = device_allocate(kWorkspaceBytes);
      int device = 0;
      MCPP_CUDA_CHECK(cudaGetDevice(&device));
      MCPP_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device));
    }
    const bool beside_communication = g_overlap.reserve > 0 && g_overlap.seconds_left > 0.0;
    const int sm_target = gemm_sm_target(sm_count_, g_overlap.reserve, beside_communication, o.epilogue);
    // Every GEMM issued beside the collective uses up its time, whatever grid it was planned for.
    if (beside_communication) g_overlap.seconds_left -= estimated_seconds(o);
    const Plan& plan = plan_for(o, sm_target);
    // Epilogue pointers are descriptor attributes that change from call to call.
    set_epilogue_pointers(plan.desc, o);
    MCPP_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &o.alpha, o.a, plan.a, o.b, plan.b,
                                     &o.beta, o.c ? o.c : o.d, plan.d, o.d, plan.d, &plan.algo, workspace_,
                                     kWorkspaceBytes, current_stream()));
  }

 private:
  const Plan& plan_for(const GemmOptions& o, int sm_target) {
    uint32_t align_a = alignment_of(o.a), align_b = alignment_of(o.b);
    // C and D share one layout (and so one alignment requirement).
    uint32_t align_d = std::min(alignment_of(o.d), alignment_of(o.c ? o.c : o.d));
    std::string key;
    for (int64_t value : {o.m, o.n, o.k, o.lda, o.ldb, o.ldd, int64_t(o.transpose_a),
                          int64_t(o.transpose_b), int64_t(o.a_dtype), int64_t(o.b_dtype),
                          int64_t(o.d_dtype), int64_t(o.batch), o.stride_a, o.stride_b,
                          o.stride_d, int64_t(o.epilogue), int64_t(o.bias_dtype),
                          int64_t(align_a), int64_t(align_b), int64_t(align_d),
                          int64_t(o.beta != 0.0f), int64_t(sm_target)}) {
      key += std::to_string(value);
      key += ',';
    }
    auto found = plans_.find(key);
    if (found != plans_.end()) return found->second;

    Plan plan;
    MCPP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t op_a = o.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = o.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, op_a);
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, op_b);
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, lt_epilogue(o.epilogue));
    if (sm_target > 0) set_desc(plan.desc, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, int32_t(sm_target));
    plan.a = o.transpose_a ? make_layout(o.a_dtype, o.k, o.m, o.lda, o.batch, o.stride_a)
                           : make_layout(o.a_dtype, o.m, o.k, o.lda, o.batch, o.stride_a);
    plan.b = o.transpose_b ? make_layout(o.b_dtype, o.n, o.k, o.ldb, o.batch, o.stride_b)
                           : make_layout(o.b_dtype, o.k, o.n, o.ldb, o.batch, o.stride_b);
    plan.d = make_layout(o.d_dtype, o.m, o.n, o.ldd, o.batch, o.stride_d);
    set_epilogue_pointers(plan.desc, o);

    cublasLtMatmulPreference_t preference = nullptr;
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    uint64_t workspace = kWorkspaceBytes;
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace)));
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof(align_a)));
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof(align_b)));
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof(align_d)));
    MCPP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof(align_d)));
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
        handle_, plan.desc, plan.a, plan.b, plan.d, plan.d, preference, 1, &result, &count);
    cublasLtMatmulPreferenceDestroy(preference);
    if (status != CUBLAS_STATUS_SUCCESS || count == 0) {
      throw Error("gemm: cuBLASLt has no algorithm for m=" + std::to_string(o.m) +
                  " n=" + std::to_string(o.n) + " k=" + std::to_string(o.k) + " (dtypes " +
                  dtype_name(o.a_dtype) + "/" + dtype_name(o.b_dtype) + "->" +
                  dtype_name(o.d_dtype) + ", epilogue " + std::to_string(int(o.epilogue)) + ")");
    }
    plan.algo = result.algo;
    return plans_.emplace(key, plan).first->second;
  }

  static void set_epilogue_pointers(cublasLtMatmulDesc_t desc, const GemmOptions& o) {
    if (o.epilogue == GemmEpilogue::kBias || o.epilogue == GemmEpilogue::kGeluAuxBias ||
        o.epilogue == GemmEpilogue::kBGradB) {
      set_desc(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, o.bias);
      set_desc(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, int32_t(cuda_type(o.bias_dtype)));
    }
    if (o.epilogue == GemmEpilogue::kGeluAuxBias || o.epilogue == GemmEpilogue::kDGelu) {
      set_desc(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, o.aux);
      set_desc(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, o.ldd);
      set_desc(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, int32_t(cuda_type(o.d_dtype)));
    }
  }

 private:
  std::mutex mutex_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  int sm_count_ = 0;
  std::map<std::string, Plan> plans_;
};

GemmRunner& runner() {
  static GemmRunner* instance = new GemmRunner();  // never destroyed (see device_allocator)
  return *instance;
}

}  // namespace

void gemm(const GemmOptions& options) {
  check(options.a_scale == nullptr && options.b_scale == nullptr && options.d_scale == nullptr &&
            options.d_amax == nullptr,
        "gemm: FP8 scaling is not implemented yet");
  if (options.m == 0 || options.n == 0) return;
  check(options.k > 0, "gemm: k must be positive (callers handle empty reductions)");
  runner().run(options);
}

void set_communication_sm_reserve(int sms) {
  check(sms >= 0, "internal: negative SM reserve");
  g_overlap.reserve = sms;
  g_overlap.seconds_left = 0.0;
}

void expect_concurrent_communication(double seconds) {
  if (g_overlap.reserve > 0) g_overlap.seconds_left += seconds;
}

}  // namespace mcpp::core::gpu
