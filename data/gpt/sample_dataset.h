#pragma once
// What the loader and inspect-data read from: a GPT dataset or a blend of them.
#include <cstdint>

#include "data/gpt/sample.h"

namespace mcpp::data {

class SampleDataset {
 public:
  virtual ~SampleDataset() = default;
  virtual int64_t size() const = 0;
  // Sample `index` in [0, size()). Thread-safe.
  virtual Sample get(int64_t index) const = 0;
  // Tokens per sample (L).
  virtual int64_t seq_length() const = 0;
};

}  // namespace mcpp::data
