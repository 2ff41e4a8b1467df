#include "data/unicode/properties.h"

#include <algorithm>

namespace mcpp::data::unicode {

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;  // no combining marks below U+0300
  const auto* begin = tables::kCombiningClasses;
  const auto* end = begin + tables::kCombiningClassCount;
  const auto* it = std::upper_bound(begin, end, cp, [](char32_t value, const tables::CombiningClassRange& r) {
    return value < r.first;
  });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->combining_class : 0;
}

const char* unicode_version() { return tables::kUnicodeVersion; }

}  // namespace mcpp::data::unicode
