#include "data/preprocess/document_encoder.h"

#include "core/base/error.h"

namespace mcpp::data {

DocumentEncoder::DocumentEncoder(const Tokenizer& tokenizer, std::vector<std::string> keys,
                                 bool append_eod)
    : tokenizer_(tokenizer), parser_(std::move(keys)), append_eod_(append_eod) {}

void DocumentEncoder::encode(std::string_view line, EncodedBatch& out) {
  const size_t num_keys = parser_.keys().size();
  if (out.keys.size() != num_keys) out.keys.resize(num_keys);

  // Sizes to roll back to when a later key of this line fails.
  struct Mark {
    size_t tokens, lengths;
  };
  std::vector<Mark> marks(num_keys);
  for (size_t k = 0; k < num_keys; ++k)
    marks[k] = {out.keys[k].tokens.size(), out.keys[k].sequence_lengths.size()};

  try {
    parser_.parse(line);
    for (size_t k = 0; k < num_keys; ++k) {
      EncodedKey& key = out.keys[k];
      uint32_t sequences = 0;
      for (std::string_view sentence : parser_.sentences(k)) {
        const size_t before = key.tokens.size();
        tokenizer_.encode(sentence, key.tokens);
        const size_t count = key.tokens.size() - before;
        if (count == 0) continue;
        if (count >= (size_t{1} << 31) - 1) throw Error("a sentence has more than 2^31 tokens");
        key.sequence_lengths.push_back(static_cast<int32_t>(count));
        ++sequences;
      }
      if (append_eod_ && sequences > 0) {
        key.tokens.push_back(tokenizer_.eod());
        key.sequence_lengths.back() += 1;
      }
      key.sequences_per_document.push_back(sequences);
    }
  } catch (...) {
    for (size_t k = 0; k < num_keys; ++k) {
      EncodedKey& key = out.keys[k];
      key.tokens.resize(marks[k].tokens);
      key.sequence_lengths.resize(marks[k].lengths);
      if (key.sequences_per_document.size() > out.documents)
        key.sequences_per_document.resize(out.documents);
    }
    throw;
  }
  ++out.documents;
}

}  // namespace mcpp::data
