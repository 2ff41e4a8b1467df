#pragma once
// Finds added tokens (e.g. <|endoftext|>, <s>) in text the way Hugging Face does before running
// the model: the leftmost occurrence wins, and of the tokens starting there the longest.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mcpp::data {

class AddedTokenMatcher {
 public:
  struct Match {
    size_t position = std::string_view::npos;  // npos: no match
    size_t length = 0;
    int32_t id = -1;
  };

  void add(std::string content, int32_t id);
  bool empty() const { return tokens_.empty(); }

  // The first match in `text` at or after `from`.
  Match find(std::string_view text, size_t from) const;

 private:
  struct Token {
    std::string content;
    int32_t id;
  };
  std::vector<Token> tokens_;                        // sorted by first byte, then longest first
  std::vector<std::pair<uint32_t, uint32_t>> first_byte_range_ = std::vector<std::pair<uint32_t, uint32_t>>(256);
  bool starts_[256] = {};
};

}  // namespace mcpp::data
