#include "data/gpt/gpt_indices.h"

#include <cmath>
#include <numeric>
#include <string>

#include "core/base/error.h"
#include "data/gpt/numpy_random.h"

namespace mcpp::data {
namespace {

// One shuffled copy of the split's sequence ids per epoch, all epochs shuffled as one array.
std::vector<int32_t> shuffled_documents(int64_t begin, int64_t end, int64_t epochs,
                                        NumpyRandomState& rng) {
  std::vector<int32_t> documents;
  documents.reserve(static_cast<size_t>((end - begin) * epochs));
  for (int64_t e = 0; e < epochs; ++e) {
    for (int64_t id = begin; id < end; ++id) documents.push_back(static_cast<int32_t>(id));
  }
  rng.shuffle(std::span<int32_t>(documents));
  return documents;
}

std::vector<int64_t> shuffled_range(int64_t begin, int64_t end, NumpyRandomState& rng) {
  std::vector<int64_t> values(static_cast<size_t>(end - begin));
  std::iota(values.begin(), values.end(), begin);
  rng.shuffle(std::span<int64_t>(values));
  return values;
}

}  // namespace

int64_t gpt_num_epochs(int64_t tokens_per_epoch, int64_t seq_length,
                       std::optional<int64_t> num_samples) {
  if (!num_samples) return 1;
  // Smallest E >= 1 with E*T >= n*L + 1 (the "+1" is the extra label token).
  const int64_t needed = *num_samples * seq_length + 1;
  return std::max<int64_t>(1, (needed + tokens_per_epoch - 1) / tokens_per_epoch);
}

std::vector<int64_t> build_sample_index(std::span<const int32_t> sequence_lengths,
                                        std::span<const int32_t> document_index, int64_t seq_length,
                                        int64_t num_epochs, int64_t tokens_per_epoch,
                                        bool drop_last_partial_sample) {
  const int64_t total = num_epochs * tokens_per_epoch - 1;
  // Megatron's helpers.cpp rounds up in single precision: ceil(float(total) / L).
  const int64_t num_samples =
      drop_last_partial_sample
          ? total / seq_length
          : static_cast<int64_t>(std::ceil(static_cast<float>(total) / static_cast<float>(seq_length)));
  std::vector<int64_t> index;
  index.reserve(static_cast<size_t>(2 * (num_samples + 1)));
  int64_t position = 0;  // into document_index
  int64_t offset = 0;    // token offset inside that sequence
  index.push_back(position);
  index.push_back(offset);
  const int64_t last_position = static_cast<int64_t>(document_index.size()) - 1;
  for (int64_t s = 1; s <= num_samples; ++s) {
    int64_t needed = seq_length + 1;
    while (needed > 0) {
      const int64_t length = sequence_lengths[document_index[position]];
      const int64_t remaining = length - offset;
      if (remaining >= needed) {
        // The next sample starts on the token this one ends with (samples overlap by one).
        offset += needed - 1;
        needed = 0;
      } else {
        needed -= remaining;
        if (position == last_position) {  // out of data: the final partial sample ends here
          offset = length - 1;
          needed = 0;
        } else {
          ++position;
          offset = 0;
        }
      }
    }
    index.push_back(position);
    index.push_back(offset);
  }
  return index;
}

GptIndices build_gpt_indices(std::span<const int32_t> sequence_lengths, const GptIndexParams& params) {
  check(params.seq_length > 0, "--seq-length must be positive");
  check(params.sequence_begin >= 0 && params.sequence_begin <= params.sequence_end &&
            params.sequence_end <= static_cast<int64_t>(sequence_lengths.size()),
        "internal: split range outside the dataset");
  GptIndices out;
  for (int64_t id = params.sequence_begin; id < params.sequence_end; ++id) {
    out.tokens_per_epoch += sequence_lengths[id];
  }
  check(out.tokens_per_epoch > 0,
        "a dataset split holds no tokens (sequences [" + std::to_string(params.sequence_begin) +
            ", " + std::to_string(params.sequence_end) +
            ")); use more data or change --split so that every used split gets some");
  const int64_t L = params.seq_length;
  const int64_t T = out.tokens_per_epoch;
  out.num_epochs = gpt_num_epochs(T, L, params.num_samples);

  int64_t samples_before_final_epoch = 0;
  if (out.num_epochs > 1) {
    samples_before_final_epoch = ((out.num_epochs - 1) * T - 1) / L;
    const int64_t from_final_epoch = *params.num_samples - samples_before_final_epoch;
    const int64_t per_epoch = (T - 1) / L;
    // Python: int(0.80 * per_epoch), truncation of a float64 product.
    out.separate_final_epoch =
        from_final_epoch < static_cast<int64_t>(0.80 * static_cast<double>(per_epoch));
  }

  // One generator per dataset instance; the draw order (documents, then samples) is Megatron's.
  NumpyRandomState rng(params.seed);
  if (out.separate_final_epoch) {
    out.document_index =
        shuffled_documents(params.sequence_begin, params.sequence_end, out.num_epochs - 1, rng);
    auto final_epoch = shuffled_documents(params.sequence_begin, params.sequence_end, 1, rng);
    out.document_index.insert(out.document_index.end(), final_epoch.begin(), final_epoch.end());
  } else {
    out.document_index =
        shuffled_documents(params.sequence_begin, params.sequence_end, out.num_epochs, rng);
  }

  out.sample_index = build_sample_index(sequence_lengths, out.document_index, L, out.num_epochs, T,
                                        params.drop_last_partial_sample);
  const int64_t n = static_cast<int64_t>(out.sample_index.size() / 2) - 1;
  if (out.separate_final_epoch) {
    out.shuffle_index = shuffled_range(0, samples_before_final_epoch, rng);
    auto tail = shuffled_range(samples_before_final_epoch, n, rng);
    out.shuffle_index.insert(out.shuffle_index.end(), tail.begin(), tail.end());
  } else {
    out.shuffle_index = shuffled_range(0, n, rng);
  }
  return out;
}

}  // namespace mcpp::data
