#pragma once
// Everything megatron-train's data flags decide about the GPT datasets (compat §2, §3 "Data").
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "data/gpt/blend.h"
#include "data/gpt/sample.h"

namespace mcpp::data {

class Tokenizer;

struct GptDataConfig {
  // --data-path, cut by `split`. Mutually exclusive with blend_per_split.
  std::optional<Blend> blend;
  // --train-data-path / --valid-data-path / --test-data-path (each split from its own files).
  std::array<std::optional<Blend>, 3> blend_per_split;
  // --split; with --data-path and no --split Megatron uses "969, 30, 1".
  std::string split = "969, 30, 1";
  // --mock-data (also implied when no data path is given at all): split "1,1,1".
  bool mock = false;

  int64_t seq_length = 0;  // --seq-length
  uint32_t seed = 1234;    // --seed
  // --data-cache-path; unset: "<prefix>/cache/GPTDataset_indices" next to each dataset.
  std::optional<std::string> cache_path;
  // Set false on ranks that should only read the cache (the writer is atomic either way).
  bool write_cache = true;
  double mid_level_dataset_surplus = 0.005;  // --mid-level-dataset-surplus
  // Megatron's drop_last_partial_validation_sequence (no flag; always true in pretrain_gpt).
  bool drop_last_partial_validation_sequence = true;

  // --reset-position-ids, --reset-attention-mask, --eod-mask-loss; eod/pad from the tokenizer.
  SampleOptions sample;
  // Vocabulary size (mock data wraps ids at it).
  int64_t vocab_size = 0;

  // Takes eod, pad (Megatron's rule: the tokenizer's pad unless absent or equal to EOD, else -1)
  // and the vocabulary size from `tokenizer`.
  void set_tokenizer(const Tokenizer& tokenizer);
};

}  // namespace mcpp::data
