#include "core/kernels/cuda/attention_cudnn.h"

#include <cudnn.h>
#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <vector>

#include "core/base/cuda/cuda_check.h"
#include "core/base/cuda/stream.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/kernels/cpu/cpu_util.h"
#include "core/kernels/cuda/gpu_ops.h"

namespace mcpp::core::gpu {

namespace {

// Oldest runtime the graphs below are written for: from 9.6 cuDNN zeroes the fp32 dQ
// accumulator itself and the composite SDPA pattern is stable on Hopper.
constexpr int64_t kMinCudnnVersion = 90600;

std::atomic<bool> g_deterministic{false};
std::atomic<int64_t> g_plans_built{0};
std::atomic<int64_t> g_executions{0};

std::string status_text(cudnnStatus_t status) {
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string text = cudnnGetErrorString(status);
  if (detail[0] != '\0') text += std::string(" (") + detail + ")";
  return text;
}

void check_cudnn(cudnnStatus_t status, const char* call, int line) {
  if (status != CUDNN_STATUS_SUCCESS) {
    throw Error("cuDNN error " + status_text(status) + " in " + call + " at " __FILE__ ":" +
                std::to_string(line));
  }
}
#define MCPP_CUDNN_CHECK(call) check_cudnn((call), #call, __LINE__)

int64_t runtime_version() {
  static const int64_t version = int64_t(cudnnGetVersion());
  return version;
}

std::string version_text(int64_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

void require_runtime() {
  check(runtime_version() >= kMinCudnnVersion,
        "fused attention needs cuDNN >= " + version_text(kMinCudnnVersion) + ", the runtime is " +
            version_text(runtime_version()) + ": upgrade cuDNN or set MCPP_ATTENTION=unfused");
}

// Unique ids of the tensors bound at execution (virtual tensors get ids from kFirstVirtual).
enum Uid : int64_t {
  kQ = 1, kK, kV, kO, kStats, kScale, kNegInf, kDO, kDQ, kDK, kDV, kSoftmaxSum, kDQAccum, kOne,
  kFirstVirtual = 100
};

using Dims = std::array<int64_t, 4>;

Dims contiguous(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}; }

// Builds one operation graph; owns every descriptor it creates. The descriptors stay alive as
// long as the plan that was finalised from them (they are never destroyed: plans are cached for
// the life of the process).
class GraphBuilder {
 public:
  explicit GraphBuilder(cudnnHandle_t handle) : handle_(handle) {}

  cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t type) {
    cudnnBackendDescriptor_t desc = nullptr;
    MCPP_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &desc));
    return desc;
  }

  template <typename T>
  static void set(cudnnBackendDescriptor_t desc, cudnnBackendAttributeName_t name,
                  cudnnBackendAttributeType_t type, int64_t count, const T* values) {
    MCPP_CUDNN_CHECK(cudnnBackendSetAttribute(desc, name, type, count, values));
  }
  static void set_desc(cudnnBackendDescriptor_t desc, cudnnBackendAttributeName_t name,
                       cudnnBackendDescriptor_t value) {
    set(desc, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
  }

  cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dtype, const Dims& dims,
                                  const Dims& strides, bool is_virtual, bool by_value = false) {
    cudnnBackendDescriptor_t t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    int64_t alignment = 16;
    set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype);
    set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
    set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
    set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
    if (is_virtual) set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
    if (by_value) set(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(t));
    return t;
  }
  cudnnBackendDescriptor_t virt(cudnnDataType_t dtype, const Dims& dims, const Dims& strides) {
    return tensor(next_virtual_++, dtype, dims, strides, true);
  }
  cudnnBackendDescriptor_t virt(cudnnDataType_t dtype, const Dims& dims) {
    return virt(dtype, dims, contiguous(dims));
  }
  // A host fp32 scalar passed by value at execution.
  cudnnBackendDescriptor_t scalar(int64_t uid) {
    return tensor(uid, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1}, false, true);
  }

  void matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c) {
    cudnnBackendDescriptor_t desc = make(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(desc));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, desc);
    add(op);
  }

  // y = mode(x[, b[, t]]); compute precision fp32 unless given (BOOLEAN for comparisons).
  void pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                 cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y,
                 cudnnDataType_t compute = CUDNN_DATA_FLOAT, int64_t axis = -1) {
    cudnnBackendDescriptor_t desc = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    set(desc, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    set(desc, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    if (mode == CUDNN_POINTWISE_GEN_INDEX) {
      set(desc, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis);
    }
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(desc));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, desc);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (b) set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
    if (t) set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    add(op);
  }
  // The common binary/unary case, output a new virtual fp32 tensor of `dims`.
  cudnnBackendDescriptor_t pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                     cudnnBackendDescriptor_t b, const Dims& dims) {
    cudnnBackendDescriptor_t y = virt(CUDNN_DATA_FLOAT, dims);
    pointwise(mode, x, b, nullptr, y);
    return y;
  }

  void reduction(cudnnReduceTensorOp_t reduce, cudnnBackendDescriptor_t x,
                 cudnnBackendDescriptor_t y) {
    cudnnBackendDescriptor_t desc = make(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &reduce);
    set(desc, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(desc));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, desc);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y);
    add(op);
  }

  // y views x with other dims/strides (a transpose of the last two axes here).
  void reshape(cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x);
    set_desc(op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y);
    add(op);
  }

  // Keeps `score` where row >= column (top-left causal diagonal), −inf elsewhere.
  cudnnBackendDescriptor_t causal_mask(cudnnBackendDescriptor_t score, const Dims& dims,
                                       cudnnBackendDescriptor_t neg_inf) {
    cudnnBackendDescriptor_t row = virt(CUDNN_DATA_INT32, dims);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, score, nullptr, nullptr, row, CUDNN_DATA_FLOAT, 2);
    cudnnBackendDescriptor_t col = virt(CUDNN_DATA_INT32, dims);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, score, nullptr, nullptr, col, CUDNN_DATA_FLOAT, 3);
    cudnnBackendDescriptor_t keep = virt(CUDNN_DATA_BOOLEAN, dims);
    pointwise(CUDNN_POINTWISE_CMP_GE, row, col, nullptr, keep, CUDNN_DATA_BOOLEAN);
    cudnnBackendDescriptor_t masked = virt(CUDNN_DATA_FLOAT, dims);
    pointwise(CUDNN_POINTWISE_BINARY_SELECT, score, neg_inf, keep, masked);
    return masked;
  }

  cudnnBackendDescriptor_t finalize_graph() {
    cudnnBackendDescriptor_t graph = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle_);
    set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(ops_.size()),
        ops_.data());
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(graph));
    return graph;
  }

 private:
  void add(cudnnBackendDescriptor_t op) {
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(op));
    ops_.push_back(op);
  }

  cudnnHandle_t handle_;
  std::vector<cudnnBackendDescriptor_t> ops_;
  int64_t next_virtual_ = kFirstVirtual;
};

// Where the heads of q (or k, v) sit in memory, in elements: token (s, b) starts at
// (s·b_size + b)·row, head n of it at n·head further. Dense [s, b, h, d]: row = h·d, head = d;
// inside the fused QKV output of multi-head attention: row = 3·h·d, head = 3·d.
struct HeadLayout {
  int64_t row, head;
  static HeadLayout dense(int64_t heads, int64_t d) { return {heads * d, d}; }
  auto tie() const { return std::tie(row, head); }
};

// The cuDNN dims/strides {b, h, s, d} of a sequence-first tensor [s, b, h, d].
struct SequenceFirst {
  Dims dims, strides;
  SequenceFirst(int64_t s, int64_t b, int64_t h, int64_t d)
      : SequenceFirst(s, b, h, d, HeadLayout::dense(h, d)) {}
  SequenceFirst(int64_t s, int64_t b, int64_t h, int64_t d, HeadLayout layout)
      : dims{b, h, s, d}, strides{layout.row, layout.head, b * layout.row, 1} {}
  // The same tensor with the last two axes swapped (Kᵀ, Vᵀ).
  Dims t_dims() const { return {dims[0], dims[1], dims[3], dims[2]}; }
  Dims t_strides() const { return {strides[0], strides[1], strides[3], strides[2]}; }
};

struct PlanKey {
  int64_t s, b, h_q, h_kv, d;
  int dtype;
  bool causal, backward, deterministic;
  uint32_t scale_bits;
  int device;
  // q and dq; k, v, dk and dv (out and dout are always dense).
  HeadLayout q_layout, kv_layout;
  bool operator<(const PlanKey& o) const {
    return std::tuple_cat(std::tie(s, b, h_q, h_kv, d, dtype, causal, backward, deterministic, scale_bits,
                                   device),
                          q_layout.tie(), kv_layout.tie()) <
           std::tuple_cat(std::tie(o.s, o.b, o.h_q, o.h_kv, o.d, o.dtype, o.causal, o.backward,
                                   o.deterministic, o.scale_bits, o.device),
                          o.q_layout.tie(), o.kv_layout.tie());
  }
};

struct Plan {
  cudnnBackendDescriptor_t plan = nullptr;
  bool backward = false;
  int64_t workspace_bytes = 0;     // the engine's own workspace
  int64_t softmax_sum_offset = 0;  // backward: fp32 [b, h_q, s] side buffer in the workspace
  int64_t dq_accum_offset = -1;    // backward, non-deterministic: fp32 [b, h_q, s, d]
  int64_t total_bytes = 0;
};

int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }

// Heuristics (mode A, then the fallback list) and the first engine config that finalises.
cudnnBackendDescriptor_t make_plan(GraphBuilder& builder, cudnnHandle_t handle,
                                   cudnnBackendDescriptor_t graph, const std::string& what) {
  std::string last_error = "no engine config";
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    cudnnBackendDescriptor_t heur = builder.make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    GraphBuilder::set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
    GraphBuilder::set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    if (cudnnStatus_t s = cudnnBackendFinalize(heur); s != CUDNN_STATUS_SUCCESS) {
      last_error = status_text(s);
      cudnnBackendDestroyDescriptor(heur);
      continue;
    }
    int64_t count = 0;
    MCPP_CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
    std::vector<cudnnBackendDescriptor_t> configs(size_t(count), nullptr);
    for (auto& c : configs) c = builder.make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    int64_t returned = 0;
    if (count > 0) {
      MCPP_CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned,
                                                configs.data()));
    }
    for (int64_t i = 0; i < returned; ++i) {
      cudnnBackendDescriptor_t plan = builder.make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      GraphBuilder::set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
      GraphBuilder::set_desc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, configs[size_t(i)]);
      cudnnStatus_t s = cudnnBackendFinalize(plan);
      if (s == CUDNN_STATUS_SUCCESS) return plan;
      last_error = status_text(s);
      cudnnBackendDestroyDescriptor(plan);
    }
  }
  throw Error("cuDNN " + version_text(runtime_version()) + " has no engine for " + what + ": " +
              last_error + " (set MCPP_ATTENTION=unfused to use the unfused kernels)");
}

cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
}

float negative_infinity() {
  // Older runtimes wanted the lowest finite value as the softmax mask.
  return runtime_version() < 91000 ? std::numeric_limits<float>::lowest()
                                   : -std::numeric_limits<float>::infinity();
}

Plan build_forward(cudnnHandle_t handle, const PlanKey& key) {
  GraphBuilder g(handle);
  cudnnDataType_t io = cudnn_type(DType(key.dtype));
  SequenceFirst q(key.s, key.b, key.h_q, key.d, key.q_layout),
      kv(key.s, key.b, key.h_kv, key.d, key.kv_layout), o(key.s, key.b, key.h_q, key.d);
  Dims score{key.b, key.h_q, key.s, key.s}, row_stat{key.b, key.h_q, key.s, 1};

  auto Q = g.tensor(kQ, io, q.dims, q.strides, false);
  auto Kt = g.tensor(kK, io, kv.t_dims(), kv.t_strides(), false);
  auto V = g.tensor(kV, io, kv.dims, kv.strides, false);
  auto O = g.tensor(kO, io, o.dims, o.strides, false);
  auto stats = g.tensor(kStats, CUDNN_DATA_FLOAT, row_stat, contiguous(row_stat), false);
  auto scale = g.scalar(kScale);

  auto s = g.virt(CUDNN_DATA_FLOAT, score);
  g.matmul(Q, Kt, s);
  s = g.pointwise(CUDNN_POINTWISE_MUL, s, scale, score);
  if (key.causal) s = g.causal_mask(s, score, g.scalar(kNegInf));
  auto row_max = g.virt(CUDNN_DATA_FLOAT, row_stat);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, s, row_max);
  auto shifted = g.pointwise(CUDNN_POINTWISE_SUB, s, row_max, score);
  auto e = g.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, score);
  auto row_sum = g.virt(CUDNN_DATA_FLOAT, row_stat);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, e, row_sum);
  auto log_sum = g.pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, row_stat);
  g.pointwise(CUDNN_POINTWISE_ADD, row_max, log_sum, nullptr, stats);
  // The second product takes P in the I/O type (the fusion engine's pattern).
  auto p = g.virt(io, score);
  g.pointwise(CUDNN_POINTWISE_DIV, e, row_sum, nullptr, p);
  g.matmul(p, V, O);

  Plan plan;
  plan.plan = make_plan(g, handle, g.finalize_graph(), "the attention forward graph");
  MCPP_CUDNN_CHECK(cudnnBackendGetAttribute(plan.plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                            CUDNN_TYPE_INT64, 1, nullptr, &plan.workspace_bytes));
  plan.total_bytes = plan.workspace_bytes;
  return plan;
}

Plan build_backward(cudnnHandle_t handle, const PlanKey& key) {
  GraphBuilder g(handle);
  cudnnDataType_t io = cudnn_type(DType(key.dtype));
  const int64_t b = key.b, h = key.h_q, s_len = key.s, d = key.d;
  SequenceFirst q(s_len, b, h, d, key.q_layout), kv(s_len, b, key.h_kv, d, key.kv_layout),
      o(s_len, b, h, d);
  Dims score{b, h, s_len, s_len}, score_t{b, h, s_len, s_len};
  Dims score_t_strides{h * s_len * s_len, s_len * s_len, 1, s_len};
  Dims row_stat{b, h, s_len, 1};

  auto Q = g.tensor(kQ, io, q.dims, q.strides, false);
  auto Kt = g.tensor(kK, io, kv.t_dims(), kv.t_strides(), false);
  auto Vt = g.tensor(kV, io, kv.t_dims(), kv.t_strides(), false);
  auto O = g.tensor(kO, io, o.dims, o.strides, false);
  auto dO = g.tensor(kDO, io, o.dims, o.strides, false);
  auto stats = g.tensor(kStats, CUDNN_DATA_FLOAT, row_stat, contiguous(row_stat), false);
  auto dQ = g.tensor(kDQ, io, q.dims, q.strides, false);
  auto dK = g.tensor(kDK, io, kv.dims, kv.strides, false);
  auto dV = g.tensor(kDV, io, kv.dims, kv.strides, false);
  auto scale = g.scalar(kScale);
  auto one = g.scalar(kOne);

  // softmax_sum_i = Σ_d dO·O (fp32 side buffer, read by every key block).
  auto do_o = g.virt(CUDNN_DATA_FLOAT, q.dims, {h * s_len * d, s_len * d, h * d, 1});
  g.pointwise(CUDNN_POINTWISE_MUL, dO, O, nullptr, do_o);
  auto row_dot = g.virt(CUDNN_DATA_FLOAT, row_stat);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, do_o, row_dot);
  auto softmax_sum =
      g.tensor(kSoftmaxSum, CUDNN_DATA_FLOAT, row_stat, contiguous(row_stat), false);
  g.pointwise(CUDNN_POINTWISE_MUL, row_dot, one, nullptr, softmax_sum);

  // P = exp(scale·Q·Kᵀ − lse), masked.
  auto sc = g.virt(CUDNN_DATA_FLOAT, score);
  g.matmul(Q, Kt, sc);
  sc = g.pointwise(CUDNN_POINTWISE_MUL, sc, scale, score);
  sc = g.pointwise(CUDNN_POINTWISE_SUB, sc, stats, score);
  if (key.causal) sc = g.causal_mask(sc, score, g.scalar(kNegInf));
  auto p = g.pointwise(CUDNN_POINTWISE_EXP, sc, nullptr, score);

  // dV = Pᵀ·dO (summed over the query heads of each group for GQA).
  auto p_t = g.virt(io, score_t, score_t_strides);
  g.reshape(p, p_t);
  const bool grouped = key.h_q != key.h_kv;
  Dims full_kv{b, h, s_len, d};
  if (!grouped) {
    g.matmul(p_t, dO, dV);
  } else {
    auto dv_full = g.virt(io, full_kv);
    g.matmul(p_t, dO, dv_full);
    g.reduction(CUDNN_REDUCE_TENSOR_ADD, dv_full, dV);
  }

  // dS = P·(dO·Vᵀ − softmax_sum)·scale.
  auto dp = g.virt(CUDNN_DATA_FLOAT, score);
  g.matmul(dO, Vt, dp);
  auto ds = g.pointwise(CUDNN_POINTWISE_SUB, dp, softmax_sum, score);
  ds = g.pointwise(CUDNN_POINTWISE_MUL, ds, p, score);
  ds = g.pointwise(CUDNN_POINTWISE_MUL, ds, scale, score);

  // dK = dSᵀ·Q.
  auto ds_t = g.virt(io, score_t, score_t_strides);
  g.reshape(ds, ds_t);
  if (!grouped) {
    g.matmul(ds_t, Q, dK);
  } else {
    auto dk_full = g.virt(io, full_kv);
    g.matmul(ds_t, Q, dk_full);
    g.reduction(CUDNN_REDUCE_TENSOR_ADD, dk_full, dK);
  }

  // dQ = dS·K: straight into dQ for the deterministic kernel, else through an fp32 accumulator.
  auto k_plain = g.virt(CUDNN_DATA_FLOAT, kv.dims, kv.strides);
  g.reshape(Kt, k_plain);
  Plan plan;
  if (key.deterministic) {
    g.matmul(ds, k_plain, dQ);
  } else {
    auto dq_accum = g.tensor(kDQAccum, CUDNN_DATA_FLOAT, q.dims, contiguous(q.dims), false);
    g.matmul(ds, k_plain, dq_accum);
    g.pointwise(CUDNN_POINTWISE_IDENTITY, dq_accum, nullptr, nullptr, dQ);
  }

  plan.backward = true;
  plan.plan = make_plan(g, handle, g.finalize_graph(), "the attention backward graph");
  MCPP_CUDNN_CHECK(cudnnBackendGetAttribute(plan.plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                            CUDNN_TYPE_INT64, 1, nullptr, &plan.workspace_bytes));
  int64_t offset = align256(plan.workspace_bytes);
  plan.softmax_sum_offset = offset;
  offset += align256(b * h * s_len * int64_t(sizeof(float)));
  if (!key.deterministic) {
    plan.dq_accum_offset = offset;
    offset += align256(b * h * s_len * d * int64_t(sizeof(float)));
  }
  plan.total_bytes = offset;
  return plan;
}

// One cuDNN handle and plan cache per (thread, device): plans are finalised against a handle.
struct DeviceContext {
  cudnnHandle_t handle = nullptr;
  std::map<PlanKey, Plan> plans;
};

DeviceContext& device_context(int device) {
  // Never destroyed: cuDNN objects must not be torn down after the CUDA runtime at exit.
  thread_local std::map<int, DeviceContext*>* contexts = new std::map<int, DeviceContext*>();
  DeviceContext*& context = (*contexts)[device];
  if (!context) {
    context = new DeviceContext();
    MCPP_CUDNN_CHECK(cudnnCreate(&context->handle));
  }
  return *context;
}

const Plan& plan_for(DeviceContext& context, const PlanKey& key) {
  auto found = context.plans.find(key);
  if (found != context.plans.end()) return found->second;
  Plan plan =
      key.backward ? build_backward(context.handle, key) : build_forward(context.handle, key);
  ++g_plans_built;
  return context.plans.emplace(key, plan).first->second;
}

struct Binding {
  std::vector<int64_t> uids;
  std::vector<void*> pointers;
  void add(int64_t uid, const void* pointer) {
    uids.push_back(uid);
    pointers.push_back(const_cast<void*>(pointer));
  }
};

void execute(DeviceContext& context, const Plan& plan, Binding& binding) {
  Tensor workspace;
  char* base = nullptr;
  if (plan.total_bytes > 0) {
    workspace = Tensor::empty(Shape{plan.total_bytes}, DType::U8, Device::CUDA);
    base = static_cast<char*>(workspace.raw_data());
  }
  if (plan.backward) binding.add(kSoftmaxSum, base + plan.softmax_sum_offset);
  if (plan.dq_accum_offset >= 0) binding.add(kDQAccum, base + plan.dq_accum_offset);
  cudnnBackendDescriptor_t pack = nullptr;
  MCPP_CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack));
  void* workspace_pointer = base;
  auto release = [&] { cudnnBackendDestroyDescriptor(pack); };
  try {
    GraphBuilder::set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                      int64_t(binding.uids.size()), binding.uids.data());
    GraphBuilder::set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                      int64_t(binding.pointers.size()), binding.pointers.data());
    GraphBuilder::set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                      &workspace_pointer);
    MCPP_CUDNN_CHECK(cudnnBackendFinalize(pack));
    MCPP_CUDNN_CHECK(cudnnSetStream(context.handle, current_stream()));
    MCPP_CUDNN_CHECK(cudnnBackendExecute(context.handle, plan.plan, pack));
  } catch (...) {
    release();
    throw;
  }
  release();
  ++g_executions;
}

// Host scalars passed by value; they must outlive the execution call.
struct Scalars {
  float scale, neg_inf, one = 1.0f;
};

// The bindings both graphs share: q, k, v, out, lse (written by the forward, read by the
// backward), the scale, and −inf for the causal mask.
Binding shared_binding(const void* q, const void* k, const void* v, const Tensor& out,
                       const Tensor& lse, bool causal, Scalars& scalars) {
  Binding binding;
  binding.add(kQ, q);
  binding.add(kK, k);
  binding.add(kV, v);
  binding.add(kO, out.raw_data());
  binding.add(kStats, lse.raw_data());
  binding.add(kScale, &scalars.scale);
  if (causal) binding.add(kNegInf, &scalars.neg_inf);
  return binding;
}

PlanKey plan_key(const AttentionGeometry& g, DType dtype, const AttentionOptions& options,
                 bool backward, HeadLayout q_layout, HeadLayout kv_layout) {
  int device = 0;
  MCPP_CUDA_CHECK(cudaGetDevice(&device));
  uint32_t scale_bits = 0;
  std::memcpy(&scale_bits, &options.softmax_scale, sizeof(scale_bits));
  return PlanKey{g.s_q, g.batch, g.heads_q, g.heads_kv, g.head_dim, int(dtype), options.causal,
                 backward, backward && deterministic(), scale_bits, device, q_layout, kv_layout};
}

PlanKey plan_key(const AttentionGeometry& g, DType dtype, const AttentionOptions& options, bool backward) {
  return plan_key(g, dtype, options, backward, HeadLayout::dense(g.heads_q, g.head_dim),
                  HeadLayout::dense(g.heads_kv, g.head_dim));
}

// Compute capability major of the current device (cached per device).
int device_major() {
  thread_local std::map<int, int> majors;
  int device = 0;
  MCPP_CUDA_CHECK(cudaGetDevice(&device));
  auto found = majors.find(device);
  if (found != majors.end()) return found->second;
  int major = 0;
  MCPP_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return majors[device] = major;
}

bool aligned16(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0; }

bool forced_unfused() {
  const char* value = std::getenv("MCPP_ATTENTION");
  if (value == nullptr || *value == '\0') return false;
  std::string choice = value;
  check(choice == "unfused" || choice == "auto",
        "MCPP_ATTENTION must be 'unfused' or 'auto', got '" + choice + "'");
  return choice == "unfused";
}

// Why a bf16/f16 call of these sizes cannot take the fused path ("" when it can).
std::string cudnn_ineligibility(int64_t s_q, int64_t s_kv, int64_t d, bool aligned,
                                const AttentionOptions& options) {
  if (forced_unfused()) return "MCPP_ATTENTION=unfused";
  if (options.doc_offsets.defined()) return "document boundaries";
  if (options.dropout_p != 0.0f) return "attention dropout";
  if (options.kv_offset != 0 || s_q != s_kv) return "s_q != s_kv or kv_offset != 0";
  if (s_q < 2) return "sequence shorter than 2";
  if (d % 8 != 0 || d > 128) return "head dim not a multiple of 8 up to 128";
  if (runtime_version() <= 91500 && s_q % 128 != 0) {
    return "sequence length not a multiple of 128 (cuDNN <= 9.15)";
  }
  if (runtime_version() >= 91000 && runtime_version() < 91002) {
    return "cuDNN 9.10.0/9.10.1 attention backward is known to be wrong";
  }
  if (!aligned) return "data not 16-byte aligned";
  if (device_major() < 8) return "GPU older than sm_80";
  if (deterministic() && device_major() >= 10 && runtime_version() < 91800) {
    return "deterministic backward on this GPU needs cuDNN >= 9.18";
  }
  return "";
}

// The fused QKV output [s, b, heads·3·d] seen as q, k, v [s, b, heads, d]: the geometry, the
// shared layout of the three, and q's head 0 at element 0, k's at d, v's at 2·d.
struct FusedQkv {
  AttentionGeometry geometry;
  HeadLayout layout;
};

FusedQkv fused_qkv(const char* op, const Tensor& qkv, int64_t heads) {
  check(qkv.rank() == 3 && heads > 0 && qkv.dim(2) % (3 * heads) == 0,
        std::string(op) + ": qkv must be [s, b, heads·3·d] with heads = " + std::to_string(heads) + ", got " +
            qkv.describe());
  const int64_t d = qkv.dim(2) / (3 * heads);
  return {AttentionGeometry{qkv.dim(0), qkv.dim(0), qkv.dim(1), heads, heads, d, 1}, HeadLayout{3 * heads * d, 3 * d}};
}

std::string fused_qkv_ineligibility(const Tensor& qkv, int64_t heads, const AttentionOptions& options) {
  if (qkv.dtype() != DType::BF16) return "qkv is not bf16";
  if (qkv.rank() != 3 || heads <= 0 || qkv.dim(2) % (3 * heads) != 0) return "qkv is not [s, b, heads·3·d]";
  const int64_t d = qkv.dim(2) / (3 * heads);
  // Every head's q, k and v start 16-byte aligned when the base is and d is a multiple of 8.
  return cudnn_ineligibility(qkv.dim(0), qkv.dim(0), d, aligned16(qkv), options);
}

}  // namespace

void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }

int64_t cudnn_runtime_version() { return runtime_version(); }
int64_t cudnn_attention_plans_built() { return g_plans_built; }
int64_t cudnn_attention_executions() { return g_executions; }

AttentionPath choose_attention_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options, std::string* why) {
  std::string reason;
  const bool half = q.dtype() == DType::BF16 || q.dtype() == DType::F16;
  if (!half || k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
    reason = "tensors are not bf16 or f16";
  } else if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4) {
    reason = "tensors are not [s, b, n, d]";
  } else {
    reason = cudnn_ineligibility(q.dim(0), k.dim(0), q.dim(3), aligned16(q) && aligned16(k) && aligned16(v),
                                 options);
  }
  if (reason.empty()) return AttentionPath::kCudnn;
  if (why) *why = reason;
  return AttentionPath::kUnfused;
}

void cudnn_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                             const AttentionOptions& options, const Tensor& out,
                             const Tensor& lse) {
  const char* op = "attention_forward";
  require_runtime();
  AttentionGeometry g = attention_geometry(op, q, k, v, options);
  cpu::require(op, "out", out, q.dtype());
  cpu::require_shape(op, "out", out, q.shape());
  cpu::require(op, "lse", lse, DType::F32);
  cpu::require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  check(aligned16(out) && aligned16(lse),
        std::string(op) + ": out and lse must be 16-byte aligned");
  PlanKey key = plan_key(g, q.dtype(), options, false);
  DeviceContext& context = device_context(key.device);
  const Plan& plan = plan_for(context, key);
  Scalars scalars{options.softmax_scale, negative_infinity()};
  Binding binding = shared_binding(q.raw_data(), k.raw_data(), v.raw_data(), out, lse, options.causal, scalars);
  execute(context, plan, binding);
}

void cudnn_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const Tensor& dout,
                              const AttentionOptions& options, const Tensor& dq, const Tensor& dk,
                              const Tensor& dv) {
  const char* op = "attention_backward";
  require_runtime();
  AttentionGeometry g = attention_geometry(op, q, k, v, options);
  for (auto [name, t, shape] :
       {std::tuple{"out", &out, q.shape()}, {"dout", &dout, q.shape()}, {"dq", &dq, q.shape()},
        {"dk", &dk, k.shape()}, {"dv", &dv, k.shape()}}) {
    cpu::require(op, name, *t, q.dtype());
    cpu::require_shape(op, name, *t, shape);
    check(aligned16(*t), std::string(op) + ": " + name + " must be 16-byte aligned");
  }
  cpu::require(op, "lse", lse, DType::F32);
  cpu::require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  PlanKey key = plan_key(g, q.dtype(), options, true);
  DeviceContext& context = device_context(key.device);
  const Plan& plan = plan_for(context, key);
  Scalars scalars{options.softmax_scale, negative_infinity()};
  Binding binding = shared_binding(q.raw_data(), k.raw_data(), v.raw_data(), out, lse, options.causal, scalars);
  binding.add(kDO, dout.raw_data());
  binding.add(kDQ, dq.raw_data());
  binding.add(kDK, dk.raw_data());
  binding.add(kDV, dv.raw_data());
  binding.add(kOne, &scalars.one);
  execute(context, plan, binding);
}

bool cudnn_reads_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options) {
  if (!fused_qkv_ineligibility(qkv, heads, options).empty() || runtime_version() < kMinCudnnVersion) return false;
  const FusedQkv fused = fused_qkv("attention_reads_fused_qkv", qkv, heads);
  PlanKey forward = plan_key(fused.geometry, qkv.dtype(), options, false, fused.layout, fused.layout);
  PlanKey backward = plan_key(fused.geometry, qkv.dtype(), options, true, fused.layout, fused.layout);
  DeviceContext& context = device_context(forward.device);
  // A runtime that rejects the strided graphs costs the split copies, not the run. Remembered
  // per shape so the plans are tried once.
  thread_local std::map<PlanKey, bool> usable;
  auto known = usable.find(backward);
  if (known != usable.end()) return known->second;
  bool ok = true;
  try {
    plan_for(context, forward);
    plan_for(context, backward);
  } catch (const Error& e) {
    log::warn("cuDNN attention cannot read the fused QKV output in place ({}); splitting it instead", e.what());
    ok = false;
  }
  usable[backward] = ok;
  return ok;
}

void cudnn_attention_forward_fused_qkv(const Tensor& qkv, int64_t heads, const AttentionOptions& options,
                                       const Tensor& out, const Tensor& lse) {
  const char* op = "attention_forward_fused_qkv";
  require_runtime();
  const FusedQkv fused = fused_qkv(op, qkv, heads);
  const AttentionGeometry& g = fused.geometry;
  cpu::require(op, "out", out, qkv.dtype());
  cpu::require_shape(op, "out", out, Shape{g.s_q, g.batch, g.heads_q, g.head_dim});
  cpu::require(op, "lse", lse, DType::F32);
  cpu::require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  check(aligned16(out) && aligned16(lse), std::string(op) + ": out and lse must be 16-byte aligned");
  PlanKey key = plan_key(g, qkv.dtype(), options, false, fused.layout, fused.layout);
  DeviceContext& context = device_context(key.device);
  const Plan& plan = plan_for(context, key);
  Scalars scalars{options.softmax_scale, negative_infinity()};
  const char* base = static_cast<const char*>(qkv.raw_data());
  const int64_t head_bytes = g.head_dim * int64_t(dtype_size(qkv.dtype()));
  Binding binding =
      shared_binding(base, base + head_bytes, base + 2 * head_bytes, out, lse, options.causal, scalars);
  execute(context, plan, binding);
}

void cudnn_attention_backward_fused_qkv(const Tensor& qkv, int64_t heads, const Tensor& out,
                                        const Tensor& lse, const Tensor& dout,
                                        const AttentionOptions& options, const Tensor& dqkv) {
  const char* op = "attention_backward_fused_qkv";
  require_runtime();
  const FusedQkv fused = fused_qkv(op, qkv, heads);
  const AttentionGeometry& g = fused.geometry;
  const Shape head_shape{g.s_q, g.batch, g.heads_q, g.head_dim};
  for (auto [name, t, shape] : {std::tuple{"out", &out, head_shape}, {"dout", &dout, head_shape},
                                {"dqkv", &dqkv, qkv.shape()}}) {
    cpu::require(op, name, *t, qkv.dtype());
    cpu::require_shape(op, name, *t, shape);
    check(aligned16(*t), std::string(op) + ": " + name + " must be 16-byte aligned");
  }
  check(!dqkv.overlaps(qkv), std::string(op) + ": dqkv must not alias qkv");
  cpu::require(op, "lse", lse, DType::F32);
  cpu::require_shape(op, "lse", lse, Shape{g.batch, g.heads_q, g.s_q});
  PlanKey key = plan_key(g, qkv.dtype(), options, true, fused.layout, fused.layout);
  DeviceContext& context = device_context(key.device);
  const Plan& plan = plan_for(context, key);
  Scalars scalars{options.softmax_scale, negative_infinity()};
  const int64_t head_bytes = g.head_dim * int64_t(dtype_size(qkv.dtype()));
  const char* base = static_cast<const char*>(qkv.raw_data());
  char* grad = static_cast<char*>(dqkv.raw_data());
  Binding binding =
      shared_binding(base, base + head_bytes, base + 2 * head_bytes, out, lse, options.causal, scalars);
  binding.add(kDO, dout.raw_data());
  // dq, dk and dv interleave exactly as q, k and v: together they cover all of dqkv.
  binding.add(kDQ, grad);
  binding.add(kDK, grad + head_bytes);
  binding.add(kDV, grad + 2 * head_bytes);
  binding.add(kOne, &scalars.one);
  execute(context, plan, binding);
}

// The CUDA entry points of core/kernels/attention.h: fused when eligible, else unfused.
void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options, const Tensor& out, const Tensor& lse) {
  if (choose_attention_path(q, k, v, options) == AttentionPath::kCudnn) {
    return cudnn_attention_forward(q, k, v, options, out, lse);
  }
  attention_forward_unfused(q, k, v, options, out, lse);
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, const AttentionOptions& options,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  if (choose_attention_path(q, k, v, options) == AttentionPath::kCudnn) {
    return cudnn_attention_backward(q, k, v, out, lse, dout, options, dq, dk, dv);
  }
  attention_backward_unfused(q, k, v, out, lse, dout, options, dq, dk, dv);
}

}  // namespace mcpp::core::gpu
