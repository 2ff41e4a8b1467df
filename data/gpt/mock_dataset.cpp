#include "data/gpt/mock_dataset.h"

#include "core/base/error.h"
#include "data/gpt/mock_lengths.h"

namespace mcpp::data {

MockTokenSource::MockTokenSource(int64_t vocab_size, int32_t eod_id)
    : lengths_(megatron_mock_sequence_lengths()), vocab_size_(vocab_size), eod_id_(eod_id) {
  check(vocab_size > 0, "--mock-data needs a tokenizer with a positive vocabulary size");
}

void MockTokenSource::read(int64_t sequence, int64_t offset, int64_t count, int32_t* out) const {
  const int64_t length = lengths_[sequence];
  if (offset < 0 || count < 0 || offset + count > length) {
    throw Error("internal: mock read outside sequence " + std::to_string(sequence));
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = offset + i;
    out[i] = position == length - 1 ? eod_id_ : static_cast<int32_t>((position + 1) % vocab_size_);
  }
}

}  // namespace mcpp::data
