#pragma once
// Argument checks and small loops shared by the CPU reference kernels.
#include <algorithm>
#include <string>
#include <vector>

#include "core/base/tensor.h"

namespace mcpp::core::cpu {

// Throws "<op>: <name> must be <dtype>, got ..." unless t is defined with that dtype.
inline void require(const char* op, const char* name, const Tensor& t, DType dtype) {
  check(t.defined(), std::string(op) + ": " + name + " is required");
  check(t.dtype() == dtype, std::string(op) + ": " + name + " must be " + dtype_name(dtype) +
                                ", got " + t.describe());
}

// Same, for an optional argument (undefined is fine).
inline void require_optional(const char* op, const char* name, const Tensor& t, DType dtype) {
  if (t.defined()) require(op, name, t, dtype);
}

inline void require_shape(const char* op, const char* name, const Tensor& t, const Shape& shape) {
  check(t.shape() == shape, std::string(op) + ": " + name + " must have shape " +
                                shape.to_string() + ", got " + t.describe());
}

// Host-side validation of index tensors (the CUDA kernels validate their host copy with these
// too). Hot loops: the message is built only on failure.
inline void check_labels_in_vocab(const char* op, const int64_t* label, int64_t rows, int64_t vocab) {
  for (int64_t n = 0; n < rows; ++n) {
    if (label[n] < 0 || label[n] >= vocab) {
      throw Error(std::string(op) + ": label " + std::to_string(label[n]) + " at row " + std::to_string(n) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
}

inline void check_token_ids(const char* op, const int64_t* id, int64_t n) {
  for (int64_t t = 0; t < n; ++t) {
    if (id[t] < 0) {
      throw Error(std::string(op) + ": negative token id " + std::to_string(id[t]) + " at position " +
                  std::to_string(t));
    }
  }
}

inline void require_numel(const char* op, const char* name, const Tensor& t, int64_t numel) {
  check(t.numel() == numel, std::string(op) + ": " + name + " must have " + std::to_string(numel) +
                                " elements, got " + t.describe());
}

// Rows of a [..., cols] tensor whose last dimension must be `cols`.
inline int64_t rows_of(const char* op, const char* name, const Tensor& t, int64_t cols) {
  check(t.rank() >= 1 && t.dim(-1) == cols, std::string(op) + ": " + name +
                                                " must have last dimension " + std::to_string(cols) +
                                                ", got " + t.describe());
  return cols ? t.numel() / cols : 0;
}

// Whether a loop of about `work` simple operations is worth an OpenMP region. Below this the
// fork/join (and, on a loaded machine, a scheduler timeslice per barrier) costs more than it
// saves: the tiny tensors of tests and small models run on the calling thread.
inline bool worth_parallel(int64_t work) { return work >= (int64_t(1) << 16); }

// acc[c] += Σ_r term(r, c) for c < cols, in a fixed order (deterministic for any thread count):
// threads split the columns, each walks the rows in order, summing in fp64.
template <typename Term>
void accumulate_columns(int64_t rows, int64_t cols, float* acc, Term term) {
  constexpr int64_t kChunk = 64;
  int64_t chunks = (cols + kChunk - 1) / kChunk;
#pragma omp parallel for if (worth_parallel(rows * cols)) schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    int64_t begin = chunk * kChunk, end = std::min(cols, begin + kChunk);
    double sums[kChunk] = {};
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = begin; c < end; ++c) sums[c - begin] += double(term(r, c));
    }
    for (int64_t c = begin; c < end; ++c) acc[c] += float(sums[c - begin]);
  }
}

}  // namespace mcpp::core::cpu
