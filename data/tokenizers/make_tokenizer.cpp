#include "core/base/error.h"
#include "data/tokenizers/bpe_tokenizer.h"
#include "data/tokenizers/load_gpt2_bpe.h"
#include "data/tokenizers/load_hugging_face.h"
#include "data/tokenizers/null_tokenizer.h"
#include "data/tokenizers/tokenizer.h"

namespace mcpp::data {

std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerOptions& options) {
  const std::string& type = options.type;
  if (type == "GPT2BPETokenizer")
    return std::make_unique<BpeTokenizer>(load_gpt2_bpe_tokenizer(options.vocab_file, options.merge_file));
  if (type == "HuggingFaceTokenizer")
    return std::make_unique<BpeTokenizer>(load_hugging_face_tokenizer(options.tokenizer_model));
  if (type == "NullTokenizer") {
    check(options.vocab_size.has_value(), "NullTokenizer needs --vocab-size");
    return std::make_unique<NullTokenizer>(*options.vocab_size, options.null_eod_id);
  }
  throw Error("--tokenizer-type " + type +
              ": not supported; use GPT2BPETokenizer, HuggingFaceTokenizer or NullTokenizer");
}

}  // namespace mcpp::data
