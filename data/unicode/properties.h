#pragma once
// Unicode character properties used by pre-tokenization regexes (tables: Unicode 15.0).
#include <cstdint>

#include "data/unicode/unicode_tables.h"

namespace mcpp::data::unicode {

// Class bits (tables::kLetterBit | kNumberBit | kWhitespaceBit) of a code point; 0 for code
// points above U+10FFFF (including kInvalidCodePoint).
inline uint8_t class_bits(char32_t cp) {
  if (cp >= 0x110000) return 0;
  return tables::kClassBlocks[tables::kClassBlockIndex[cp >> 8]][cp & 0xFF];
}

// \p{L}: General_Category Lu, Ll, Lt, Lm or Lo.
inline bool is_letter(char32_t cp) { return class_bits(cp) & tables::kLetterBit; }
// \p{N}: General_Category Nd, Nl or No.
inline bool is_number(char32_t cp) { return class_bits(cp) & tables::kNumberBit; }
// \s as Oniguruma (Hugging Face tokenizers' regex engine) matches it in UTF-8 mode: the
// White_Space property (U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000).
inline bool is_whitespace(char32_t cp) { return class_bits(cp) & tables::kWhitespaceBit; }

// Canonical_Combining_Class (0 for starters and unassigned code points).
uint8_t combining_class(char32_t cp);

// Version of the Unicode Character Database the tables were generated from, e.g. "15.0.0".
const char* unicode_version();

}  // namespace mcpp::data::unicode
