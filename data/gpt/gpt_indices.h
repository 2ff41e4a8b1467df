#pragma once
// The three index arrays behind every Megatron GPTDataset (compat: document index, sample index,
// shuffle index), built from sequence lengths alone so they can be tested on plain arrays.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mcpp::data {

struct GptIndexParams {
  int64_t sequence_begin = 0;  // the split's sequence ids are [sequence_begin, sequence_end)
  int64_t sequence_end = 0;
  int64_t seq_length = 0;                 // L; each sample holds L+1 tokens
  std::optional<int64_t> num_samples;     // requested; absent = exactly one epoch
  uint32_t seed = 1234;
  bool drop_last_partial_sample = true;   // false only for valid without dropping
};

struct GptIndices {
  int64_t tokens_per_epoch = 0;
  int64_t num_epochs = 0;
  bool separate_final_epoch = false;
  std::vector<int32_t> document_index;  // sequence ids, epoch after epoch, shuffled
  std::vector<int64_t> sample_index;    // (position in document_index, token offset) pairs, n+1 rows
  std::vector<int64_t> shuffle_index;   // permutation of [0, n)

  int64_t num_samples() const { return static_cast<int64_t>(shuffle_index.size()); }
  int64_t sample_document(int64_t row) const { return sample_index[2 * row]; }
  int64_t sample_offset(int64_t row) const { return sample_index[2 * row + 1]; }
};

// Builds the indices exactly as Megatron's GPTDataset (gpt_dataset.py + helpers.cpp) for the
// sequences [begin, end) of a dataset whose sequence lengths are `sequence_lengths`.
// Throws mcpp::Error when the split holds no tokens.
GptIndices build_gpt_indices(std::span<const int32_t> sequence_lengths, const GptIndexParams& params);

// The steps, exposed for tests.
int64_t gpt_num_epochs(int64_t tokens_per_epoch, int64_t seq_length, std::optional<int64_t> num_samples);
std::vector<int64_t> build_sample_index(std::span<const int32_t> sequence_lengths,
                                        std::span<const int32_t> document_index, int64_t seq_length,
                                        int64_t num_epochs, int64_t tokens_per_epoch,
                                        bool drop_last_partial_sample);

}  // namespace mcpp::data
