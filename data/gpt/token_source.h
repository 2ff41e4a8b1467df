#pragma once
// Where a GPT dataset reads its token ids from: an indexed dataset on disk or the mock generator.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "data/indexed/indexed_dataset.h"

namespace mcpp::data {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // Token count of every sequence (what Megatron calls sequence_lengths).
  virtual std::span<const int32_t> sequence_lengths() const = 0;
  // Copies tokens [offset, offset + count) of `sequence` to `out`. Thread-safe.
  virtual void read(int64_t sequence, int64_t offset, int64_t count, int32_t* out) const = 0;
  // The dataset prefix ("" for generated data).
  virtual std::string path() const = 0;
};

// <prefix>.bin/.idx, memory-mapped.
class IndexedTokenSource : public TokenSource {
 public:
  explicit IndexedTokenSource(const std::string& prefix) : dataset_(IndexedDataset::open(prefix)) {}
  std::span<const int32_t> sequence_lengths() const override { return dataset_.sequence_lengths(); }
  void read(int64_t sequence, int64_t offset, int64_t count, int32_t* out) const override {
    dataset_.read(static_cast<size_t>(sequence), static_cast<size_t>(offset),
                  static_cast<size_t>(count), out);
  }
  std::string path() const override { return dataset_.prefix(); }

 private:
  IndexedDataset dataset_;
};

}  // namespace mcpp::data
