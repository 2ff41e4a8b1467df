#pragma once
// Regex pre-tokenization as Hugging Face tokenizers does it ("Split" pre-tokenizer with behavior
// "Isolated", and ByteLevel with use_regex=true), with the engine's exact semantics (Oniguruma:
// leftmost-first alternation, greedy quantifiers with backtracking, Unicode classes).
#include <memory>
#include <string_view>
#include <vector>

namespace mcpp::data {

class SplitPattern {
 public:
  // `regex` is the pattern string as found in tokenizer.json ({"Regex": ...} of a Split
  // pre-tokenizer) or gpt2_split_regex(). Throws mcpp::Error naming the pattern when it is not
  // one this implementation supports.
  static std::unique_ptr<SplitPattern> compile(std::string_view regex);

  // Cuts `text` into consecutive pieces covering it exactly: every match and every non-empty gap
  // between matches, in order (HF Split with behavior "Isolated", invert false). Appends views
  // into `text` to `pieces`. Bytes that are not valid UTF-8 count as characters of no class.
  virtual void split(std::string_view text, std::vector<std::string_view>& pieces) const = 0;

  // The regex this pattern was compiled from.
  virtual std::string_view regex() const = 0;

  virtual ~SplitPattern() = default;
};

// The pattern ByteLevel(use_regex=true) splits with (GPT-2's).
std::string_view gpt2_split_regex();
// The Split patterns of Llama-3 (digits in runs of up to three) and Qwen2 (single digits).
std::string_view llama3_split_regex();
std::string_view qwen2_split_regex();

}  // namespace mcpp::data
