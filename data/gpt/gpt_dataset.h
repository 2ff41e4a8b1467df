#pragma once
// Megatron's GPTDataset: samples of L+1 tokens cut from a token source through the document,
// sample and shuffle indices (gpt_indices.h).
#include <memory>

#include "data/gpt/gpt_indices.h"
#include "data/gpt/sample_dataset.h"
#include "data/gpt/token_source.h"

namespace mcpp::data {

class GptDataset : public SampleDataset {
 public:
  GptDataset(std::shared_ptr<const TokenSource> source, GptIndices indices, int64_t seq_length,
             SampleOptions options);

  int64_t size() const override { return indices_.num_samples(); }
  Sample get(int64_t index) const override { return make_sample(raw_text(index), options_); }
  int64_t seq_length() const override { return seq_length_; }

  // The L+1 ids of sample `index` before pad replacement (short samples padded with the pad id).
  std::vector<int32_t> raw_text(int64_t index) const;

  const GptIndices& indices() const { return indices_; }
  const TokenSource& source() const { return *source_; }

 private:
  std::shared_ptr<const TokenSource> source_;
  GptIndices indices_;
  int64_t seq_length_;
  SampleOptions options_;
};

}  // namespace mcpp::data
