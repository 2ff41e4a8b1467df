#pragma once
// Tables generated from the Unicode Character Database by scripts/gen_unicode_tables.py
// (unicode_tables.cpp). Internal to data/unicode: use properties.h and normalize.h instead.
#include <cstddef>
#include <cstdint>

namespace mcpp::data::unicode::tables {

// Class bits of a code point, looked up as kClassBlocks[kClassBlockIndex[cp >> 8]][cp & 0xFF].
inline constexpr uint8_t kLetterBit = 1;      // General_Category L*
inline constexpr uint8_t kNumberBit = 2;      // General_Category N*
inline constexpr uint8_t kWhitespaceBit = 4;  // White_Space

struct CombiningClassRange {
  char32_t first;
  char32_t last;
  uint8_t combining_class;
};

// Full canonical decomposition of `code_point`: kDecompositionData[offset, offset + length).
struct Decomposition {
  char32_t code_point;
  uint16_t offset;
  uint8_t length;
};

// first + second compose canonically to `composite` (sorted by first, then second).
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

struct CodePointRange {
  char32_t first;
  char32_t last;
};

extern const char kUnicodeVersion[];
extern const uint8_t kClassBlockIndex[0x110000 >> 8];
extern const uint8_t kClassBlocks[][256];
extern const CombiningClassRange kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const char32_t kDecompositionData[];
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
extern const CodePointRange kNfcQuickCheckNotYes[];
extern const size_t kNfcQuickCheckNotYesCount;
// Code points assigned after Unicode 9.0 (the normalization data of Hugging Face tokenizers).
extern const CodePointRange kAssignedAfterUnicode9[];
extern const size_t kAssignedAfterUnicode9Count;

}  // namespace mcpp::data::unicode::tables
