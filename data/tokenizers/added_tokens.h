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

  // Walks `text` in order: appends the id of each added token to `out` and calls
  // `encode_between(stretch, out)` for each non-empty stretch between them.
  template <class EncodeBetween>
  void split(std::string_view text, std::vector<int32_t>& out, EncodeBetween&& encode_between) const {
    size_t from = 0;
    while (from <= text.size()) {
      Match m = find(text, from);
      size_t end = m.position == std::string_view::npos ? text.size() : m.position;
      if (end > from) encode_between(text.substr(from, end - from), out);
      if (m.position == std::string_view::npos) break;
      out.push_back(m.id);
      from = m.position + m.length;
    }
  }

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
