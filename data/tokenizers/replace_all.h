#pragma once
// Replaces every occurrence of a string (Hugging Face's Replace normalizer and decoder with a
// {"String": ...} pattern): left to right, without overlaps.
#include <string>
#include <string_view>

namespace mcpp::data {

inline void replace_all(std::string& s, std::string_view pattern, std::string_view replacement) {
  if (pattern.empty() || s.find(pattern) == std::string::npos) return;
  std::string result;
  result.reserve(s.size() + s.size() / 4);
  size_t from = 0;
  for (size_t at; (at = s.find(pattern, from)) != std::string::npos; from = at + pattern.size()) {
    result.append(s, from, at - from);
    result.append(replacement);
  }
  result.append(s, from);
  s.swap(result);
}

}  // namespace mcpp::data
