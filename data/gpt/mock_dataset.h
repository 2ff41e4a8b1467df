#pragma once
// --mock-data: Megatron's MockGPTLowLevelDataset. 100,000 sequences; sequence i of length m holds
// (1, 2, ..., m-1) mod vocab_size followed by EOD. The lengths are numpy's
// default_rng(0).integers(1, 4096, 100000, int32), reproduced in mock_lengths.h.
#include <vector>

#include "data/gpt/token_source.h"

namespace mcpp::data {

class MockTokenSource : public TokenSource {
 public:
  MockTokenSource(int64_t vocab_size, int32_t eod_id);
  std::span<const int32_t> sequence_lengths() const override { return lengths_; }
  void read(int64_t sequence, int64_t offset, int64_t count, int32_t* out) const override;
  std::string path() const override { return ""; }

 private:
  std::vector<int32_t> lengths_;
  int64_t vocab_size_;
  int32_t eod_id_;
};

}  // namespace mcpp::data
