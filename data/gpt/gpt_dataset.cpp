#include "data/gpt/gpt_dataset.h"

#include <string>

#include "core/base/error.h"

namespace mcpp::data {

GptDataset::GptDataset(std::shared_ptr<const TokenSource> source, GptIndices indices,
                       int64_t seq_length, SampleOptions options)
    : source_(std::move(source)),
      indices_(std::move(indices)),
      seq_length_(seq_length),
      options_(options) {}

std::vector<int32_t> GptDataset::raw_text(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw Error("sample " + std::to_string(index) + " is outside the dataset of " +
                std::to_string(size()) + " samples");
  }
  const int64_t row = indices_.shuffle_index[index];
  const int64_t first = indices_.sample_document(row);
  const int64_t first_offset = indices_.sample_offset(row);
  const int64_t last = indices_.sample_document(row + 1);
  const int64_t last_offset = indices_.sample_offset(row + 1);
  const auto lengths = source_->sequence_lengths();

  std::vector<int32_t> text(static_cast<size_t>(seq_length_ + 1), options_.pad_id);
  int64_t filled = 0;
  // From the first row's offset through the next row's offset inclusive: the last token is the
  // next sample's first input.
  for (int64_t d = first; d <= last; ++d) {
    const int64_t sequence = indices_.document_index[d];
    const int64_t begin = d == first ? first_offset : 0;
    const int64_t end = d == last ? last_offset + 1 : lengths[sequence];
    const int64_t count = std::min(end - begin, seq_length_ + 1 - filled);
    if (count <= 0) continue;
    source_->read(sequence, begin, count, text.data() + filled);
    filled += count;
  }
  return text;
}

}  // namespace mcpp::data
