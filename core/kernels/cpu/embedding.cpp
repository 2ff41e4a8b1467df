// fp32 reference embedding lookup over an owned vocab range.
#include <algorithm>

#include "core/kernels/cpu/cpu_ops.h"
#include "core/kernels/cpu/cpu_util.h"

namespace mcpp::core::cpu {

namespace {
void check_ids(const char* op, const Tensor& ids) {
  require(op, "ids", ids, DType::I64);
  const int64_t* id = ids.data<int64_t>();
  check_token_ids(op, id, ids.numel());
}

Shape row_shape(const Tensor& ids, int64_t hidden) {
  Shape shape = ids.shape();
  shape.push_back(hidden);
  return shape;
}
}  // namespace

void embedding_forward(const Tensor& ids, const Tensor& weight, int64_t vocab_start,
                       const Tensor& out) {
  const char* op = "embedding_forward";
  check_ids(op, ids);
  require(op, "weight", weight, DType::F32);
  require(op, "out", out, DType::F32);
  check(weight.rank() == 2, std::string(op) + ": weight must be [V, h], got " + weight.describe());
  int64_t rows = weight.dim(0), hidden = weight.dim(1);
  require_shape(op, "out", out, row_shape(ids, hidden));
  const int64_t* id = ids.data<int64_t>();
  const float* table = weight.data<float>();
  float* dst = out.data<float>();
  int64_t tokens = ids.numel();
#pragma omp parallel for if (worth_parallel(tokens * hidden)) schedule(static)
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t local = id[t] - vocab_start;
    float* row = dst + t * hidden;
    if (local >= 0 && local < rows) {
      std::copy(table + local * hidden, table + (local + 1) * hidden, row);
    } else {
      std::fill(row, row + hidden, 0.0f);
    }
  }
}

void embedding_backward(const Tensor& ids, const Tensor& dout, int64_t vocab_start,
                        const Tensor& dweight) {
  const char* op = "embedding_backward";
  check_ids(op, ids);
  require(op, "dout", dout, DType::F32);
  require(op, "dweight", dweight, DType::F32);
  check(dweight.rank() == 2, std::string(op) + ": dweight must be [V, h], got " + dweight.describe());
  int64_t rows = dweight.dim(0), hidden = dweight.dim(1);
  require_shape(op, "dout", dout, row_shape(ids, hidden));
  const int64_t* id = ids.data<int64_t>();
  const float* src = dout.data<float>();
  float* table = dweight.data<float>();
  int64_t tokens = ids.numel();
  // Threads split the hidden columns and each walks the tokens in order: repeated ids
  // accumulate in a fixed order without atomics.
  constexpr int64_t kChunk = 64;
  int64_t chunks = (hidden + kChunk - 1) / kChunk;
#pragma omp parallel for if (worth_parallel(tokens * hidden)) schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    int64_t begin = chunk * kChunk, end = std::min(hidden, begin + kChunk);
    for (int64_t t = 0; t < tokens; ++t) {
      int64_t local = id[t] - vocab_start;
      if (local < 0 || local >= rows) continue;
      for (int64_t c = begin; c < end; ++c) table[local * hidden + c] += src[t * hidden + c];
    }
  }
}

}  // namespace mcpp::core::cpu
