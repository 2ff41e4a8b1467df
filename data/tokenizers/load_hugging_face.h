#pragma once
// HuggingFaceTokenizer: --tokenizer-model is a directory holding tokenizer.json (and
// tokenizer_config.json, whose eos_token is the end-of-document id) or tokenizer.json itself.
#include <string>

#include "data/tokenizers/bpe_tokenizer.h"

namespace mcpp::data {

BpePipeline load_hugging_face_tokenizer(const std::string& tokenizer_model);

}  // namespace mcpp::data
