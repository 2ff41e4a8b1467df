#pragma once
// Shared pieces of the tokenizer tests: the real tokenizer files, the test texts and the ids
// Hugging Face `tokenizers` gives for them.
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizers/tokenizer.h"

namespace mcpp::test {

// "gpt2", "llama2", "llama3" or "qwen2.5" as a directory holding tokenizer.json and
// tokenizer_config.json (decompressed into the build tree where the shared copy is gzipped).
std::string hf_tokenizer_dir(const std::string& name);

std::unique_ptr<data::Tokenizer> hf_tokenizer(const std::string& name);
std::unique_ptr<data::Tokenizer> gpt2_bpe_tokenizer();

// The "text" of every line of text/<name>.jsonl.
const std::vector<std::string>& texts(const std::string& name);

// fixtures/token-ids/<text>.<tokenizer>.jsonl.gz: one id list per document.
std::vector<std::vector<int32_t>> fixture_ids(const std::string& text, const std::string& tokenizer);

}  // namespace mcpp::test
