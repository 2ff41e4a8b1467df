#include "data/tokenizers/null_tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace mcpp::data {
namespace {

bool is_python_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_python_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_python_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string shown(std::string_view piece) {
  constexpr size_t kMax = 40;
  std::string s(piece.substr(0, kMax));
  if (piece.size() > kMax) s += "...";
  return "'" + s + "'";
}

[[noreturn]] void not_an_id(std::string_view piece) {
  throw Error("NullTokenizer: " + shown(piece) +
              " is not an integer id (the text must be integers separated by single spaces)");
}

}  // namespace

NullTokenizer::NullTokenizer(int64_t vocab_size, std::optional<int32_t> eod_id)
    : vocab_size_(vocab_size) {
  check(vocab_size > 0 && vocab_size <= (int64_t{1} << 31),
        "--vocab-size " + std::to_string(vocab_size) +
            ": NullTokenizer needs a vocabulary size between 1 and 2^31");
  eod_id_ = eod_id ? *eod_id : static_cast<int32_t>(vocab_size - 1);
}

void NullTokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  size_t start = 0;
  while (true) {
    const size_t space = text.find(' ', start);
    const std::string_view raw =
        text.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    std::string_view piece = trim(raw);
    bool negative = false;
    if (!piece.empty() && (piece[0] == '+' || piece[0] == '-')) {
      negative = piece[0] == '-';
      piece.remove_prefix(1);
    }
    // Messages are built only on failure: this loop runs once per token.
    if (piece.empty()) not_an_id(raw);
    int64_t value = 0;
    for (char c : piece) {
      if (c < '0' || c > '9') not_an_id(raw);
      value = value * 10 + (c - '0');
      if (value > vocab_size_) break;  // already out of range; avoids overflow
    }
    if (negative && value != 0) {
      throw Error("NullTokenizer: id " + shown(raw) + " is negative; ids must be in [0, " +
                  std::to_string(vocab_size_) + ")");
    }
    if (value >= vocab_size_) {
      throw Error("NullTokenizer: id " + shown(raw) + " is out of range [0, " +
                  std::to_string(vocab_size_) + "); raise --vocab-size");
    }
    out.push_back(static_cast<int32_t>(value));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
}

std::string NullTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) text += ' ';
    text += std::to_string(ids[i]);
  }
  return text;
}

std::string NullTokenizer::description() const {
  // Megatron's unique_identifiers for this class, in its key order.
  nlohmann::ordered_json j;
  j["class"] = "megatron.core.tokenizers.text.libraries.null_tokenizer.NullTokenizer";
  j["vocab_size"] = vocab_size_;
  j["eod_id"] = eod_id_;
  j["pad_id"] = -1;
  return j.dump();
}

}  // namespace mcpp::data
