#pragma once
// GPT2BPETokenizer: GPT-2's vocab.json (--vocab-file) and merges.txt (--merge-file), run as
// Hugging Face's GPT-2 tokenizer runs them (which is what Megatron uses): byte-level BPE with
// GPT-2's split regex, <|endoftext|> split out of the text and used as end-of-document.
#include <string>

#include "data/tokenizers/bpe_tokenizer.h"

namespace mcpp::data {

BpePipeline load_gpt2_bpe_tokenizer(const std::string& vocab_file, const std::string& merge_file);

}  // namespace mcpp::data
