#pragma once
// Parses one JSONL line the way Python's json.loads does for preprocess_data.py, and extracts
// the texts of the requested keys. The whole line is validated (syntax, UTF-8, no raw control
// characters in strings), because Megatron would fail on such a line too; NaN/Infinity are
// accepted like Python accepts them, and a key given twice keeps its last value. A \u escape of
// a lone UTF-16 surrogate is an error only in the texts (they must be valid Unicode to be
// tokenized); Python accepts it elsewhere, and so does this parser.
//
// A key's value is a string (one sentence) or a list of strings (one sentence each).
#include <string>
#include <string_view>
#include <vector>

namespace mcpp::data {

class JsonLineParser {
 public:
  explicit JsonLineParser(std::vector<std::string> keys);

  // Parses `line` (no trailing newline). Throws mcpp::Error with a short description of the
  // problem and its byte column; the caller adds file:line.
  void parse(std::string_view line);

  // The sentences of keys()[i] after a successful parse(); valid until the next parse().
  const std::vector<std::string_view>& sentences(size_t key_index) const {
    return sentences_[key_index];
  }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  struct Span {
    size_t begin, size;
  };
  class Cursor;

  std::vector<std::string> keys_;
  std::string arena_;                         // unescaped strings of the requested keys
  std::vector<std::vector<Span>> spans_;      // per key, into arena_
  std::vector<bool> found_;
  std::vector<std::vector<std::string_view>> sentences_;
  std::string key_scratch_;
};

}  // namespace mcpp::data
