#pragma once
// One training sample as Megatron's GPTDataset.__getitem__ returns it: L+1 token ids (inputs are
// the first L, labels the last L), the loss mask, position ids and, with --reset-attention-mask,
// the document boundaries inside the sample.
#include <cstdint>
#include <span>
#include <vector>

namespace mcpp::data {

// Megatron's _PAD_TOKEN_ID: used when the tokenizer has no (unambiguous) pad id.
inline constexpr int32_t kNoPadId = -1;

struct SampleOptions {
  int32_t eod_id = 0;
  int32_t pad_id = kNoPadId;
  bool reset_position_ids = false;    // --reset-position-ids
  bool reset_attention_mask = false;  // --reset-attention-mask
  bool eod_mask_loss = false;         // --eod-mask-loss
};

struct Sample {
  std::vector<int32_t> text;          // L+1 ids, pad ids replaced by 0 (as Megatron returns them)
  std::vector<float> loss_mask;       // L
  std::vector<int32_t> position_ids;  // L
  // With reset_attention_mask: cu_seqlens-style starts of the documents within the L inputs,
  // then L ({0, ..., L}); a new document starts after every EOD input token. Empty otherwise.
  std::vector<int32_t> document_offsets;
  int16_t dataset_id = 0;  // component of a blend (0 for a single dataset)

  int64_t seq_length() const { return static_cast<int64_t>(text.size()) - 1; }
  std::span<const int32_t> tokens() const { return {text.data(), text.size() - 1}; }
  std::span<const int32_t> labels() const { return {text.data() + 1, text.size() - 1}; }
};

// Turns raw ids (L+1 of them, short samples already padded with options.pad_id) into a Sample:
// masks and positions are computed on the raw ids, then pad ids become 0 - Megatron's order.
Sample make_sample(std::vector<int32_t> raw_text, const SampleOptions& options);

}  // namespace mcpp::data
