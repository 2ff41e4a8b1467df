#include "data/tokenizers/added_tokens.h"

#include <algorithm>
#include <cstring>

namespace mcpp::data {

void AddedTokenMatcher::add(std::string content, int32_t id) {
  if (content.empty()) return;
  tokens_.push_back(Token{std::move(content), id});
  std::stable_sort(tokens_.begin(), tokens_.end(), [](const Token& a, const Token& b) {
    if (a.content[0] != b.content[0]) return uint8_t(a.content[0]) < uint8_t(b.content[0]);
    return a.content.size() > b.content.size();
  });
  std::fill(std::begin(starts_), std::end(starts_), false);
  std::fill(first_byte_range_.begin(), first_byte_range_.end(), std::pair<uint32_t, uint32_t>{0, 0});
  for (size_t i = 0; i < tokens_.size(); ++i) {
    uint8_t b = uint8_t(tokens_[i].content[0]);
    if (!starts_[b]) first_byte_range_[b].first = uint32_t(i);
    starts_[b] = true;
    first_byte_range_[b].second = uint32_t(i + 1);
  }
}

AddedTokenMatcher::Match AddedTokenMatcher::find(std::string_view text, size_t from) const {
  if (tokens_.empty()) return {};
  for (size_t pos = from; pos < text.size(); ++pos) {
    uint8_t b = uint8_t(text[pos]);
    if (!starts_[b]) continue;
    size_t remaining = text.size() - pos;
    auto [begin, end] = first_byte_range_[b];
    for (uint32_t i = begin; i < end; ++i) {
      const std::string& c = tokens_[i].content;
      if (c.size() <= remaining && std::memcmp(c.data(), text.data() + pos, c.size()) == 0)
        return Match{pos, c.size(), tokens_[i].id};
    }
  }
  return {};
}

}  // namespace mcpp::data
