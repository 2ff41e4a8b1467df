#pragma once
// Megatron's NullTokenizer (megatron/core/tokenizers/text/libraries/null_tokenizer.py): the text
// is already token ids written as space-separated integers ("12 7 50256"). vocab_size is
// --vocab-size and EOD is --null-tokenizer-eod-id, else vocab_size - 1. Used for tests and
// synthetic data without vocabulary files.
#include <cstdint>
#include <optional>

#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

class NullTokenizer : public Tokenizer {
 public:
  NullTokenizer(int64_t vocab_size, std::optional<int32_t> eod_id);

  // Splits on single spaces as Megatron does; each piece must be an integer in [0, vocab_size)
  // (surrounding tabs/newlines are allowed, as Python's int() allows them). Empty text gives no
  // ids (Megatron would fail on it). Anything else throws mcpp::Error naming the bad piece.
  void encode(std::string_view text, std::vector<int32_t>& out) const override;
  using Tokenizer::encode;

  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  int32_t eod() const override { return eod_id_; }
  std::string description() const override;

 private:
  int64_t vocab_size_;
  int32_t eod_id_;
};

}  // namespace mcpp::data
