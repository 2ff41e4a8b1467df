#include "data/unicode/normalize.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "data/unicode/properties.h"
#include "data/unicode/unicode_tables.h"
#include "data/unicode/utf8.h"

namespace mcpp::data::unicode {
namespace {

// Hangul syllables are decomposed and composed arithmetically (Unicode 15.0, section 3.12).
constexpr char32_t kHangulBase = 0xAC00, kJamoLBase = 0x1100, kJamoVBase = 0x1161, kJamoTBase = 0x11A7;
constexpr char32_t kJamoLCount = 19, kJamoVCount = 21, kJamoTCount = 28;
constexpr char32_t kJamoNCount = kJamoVCount * kJamoTCount;
constexpr char32_t kHangulCount = kJamoLCount * kJamoNCount;

// Bytes that are not valid UTF-8 travel through normalization as these private values (above
// U+10FFFF, so no table knows them) and are written back as the original byte.
constexpr char32_t kRawByteBase = 0x110000;

bool in_ranges(const tables::CodePointRange* begin, size_t count, char32_t cp) {
  const auto* it = std::upper_bound(begin, begin + count, cp,
                                    [](char32_t value, const tables::CodePointRange& r) { return value < r.first; });
  return it != begin && cp <= (it - 1)->last;
}

// Which normalization data applies: all of Unicode 15, or only what Unicode 9.0 assigned.
struct Data {
  bool unicode9_only;
  // False for code points the data does not know: they act as plain starters.
  bool knows(char32_t cp) const {
    return !unicode9_only || !in_ranges(tables::kAssignedAfterUnicode9, tables::kAssignedAfterUnicode9Count, cp);
  }
  uint8_t combining_class(char32_t cp) const {
    const uint8_t klass = unicode::combining_class(cp);
    return klass != 0 && knows(cp) ? klass : 0;
  }
  bool quick_check_not_yes(char32_t cp) const {
    return in_ranges(tables::kNfcQuickCheckNotYes, tables::kNfcQuickCheckNotYesCount, cp) && knows(cp);
  }
};

void decompose(const Data& data, char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kHangulBase && cp < kHangulBase + kHangulCount) {
    const char32_t index = cp - kHangulBase;
    out.push_back(kJamoLBase + index / kJamoNCount);
    out.push_back(kJamoVBase + (index % kJamoNCount) / kJamoTCount);
    if (index % kJamoTCount != 0) out.push_back(kJamoTBase + index % kJamoTCount);
    return;
  }
  // U+00C0 is the first code point that decomposes.
  if (cp >= 0xC0 && cp < kRawByteBase && data.knows(cp)) {
    const auto* begin = tables::kDecompositions;
    const auto* end = begin + tables::kDecompositionCount;
    const auto* it = std::lower_bound(begin, end, cp, [](const tables::Decomposition& d, char32_t value) {
      return d.code_point < value;
    });
    if (it != end && it->code_point == cp) {
      out.insert(out.end(), tables::kDecompositionData + it->offset,
                 tables::kDecompositionData + it->offset + it->length);
      return;
    }
  }
  out.push_back(cp);
}

// The primary composite of first + second, or 0 when they do not compose.
char32_t compose_pair(const Data& data, char32_t first, char32_t second) {
  if (first >= kJamoLBase && first < kJamoLBase + kJamoLCount && second >= kJamoVBase &&
      second < kJamoVBase + kJamoVCount) {
    return kHangulBase + ((first - kJamoLBase) * kJamoVCount + (second - kJamoVBase)) * kJamoTCount;
  }
  if (first >= kHangulBase && first < kHangulBase + kHangulCount && (first - kHangulBase) % kJamoTCount == 0 &&
      second > kJamoTBase && second < kJamoTBase + kJamoTCount) {
    return first + (second - kJamoTBase);
  }
  const auto* begin = tables::kCompositions;
  const auto* end = begin + tables::kCompositionCount;
  const auto* it = std::lower_bound(begin, end, std::pair{first, second},
                                    [](const tables::Composition& c, const std::pair<char32_t, char32_t>& key) {
                                      return c.first != key.first ? c.first < key.first : c.second < key.second;
                                    });
  // A pair whose composite the data does not know would only compose in later Unicode versions.
  if (it != end && it->first == first && it->second == second && data.knows(it->composite)) return it->composite;
  return 0;
}

bool is_nfc_quick(const Data& data, std::string_view utf8) {
  const char* p = utf8.data();
  const char* end = p + utf8.size();
  uint8_t last_class = 0;
  while (p < end) {
    if (static_cast<unsigned char>(*p) < 0x80) {  // ASCII: starter, NFC_QC=Yes
      last_class = 0;
      ++p;
      continue;
    }
    int length = 0;
    const char32_t cp = decode_utf8(p, end, &length);
    p += length;
    if (cp == kInvalidCodePoint) {
      last_class = 0;
      continue;
    }
    if (cp < 0x300) {  // nothing below U+0300 combines or fails the quick check
      last_class = 0;
      continue;
    }
    const uint8_t klass = data.combining_class(cp);
    if ((klass != 0 && last_class > klass) || data.quick_check_not_yes(cp)) return false;
    last_class = klass;
  }
  return true;
}

// Appends the NFC of `segment` to `out`: full decomposition, canonical ordering, composition.
void normalize_segment(const Data& data, std::string_view segment, std::string& out) {
  // 1. Full canonical decomposition.
  std::vector<char32_t> chars;
  chars.reserve(segment.size() + 8);
  const char* p = segment.data();
  const char* end = p + segment.size();
  while (p < end) {
    int length = 0;
    const char32_t cp = decode_utf8(p, end, &length);
    if (cp == kInvalidCodePoint) {
      chars.push_back(kRawByteBase + static_cast<unsigned char>(*p));
    } else {
      decompose(data, cp, chars);
    }
    p += length;
  }

  // 2. Canonical ordering: stable sort of every run of non-starters by combining class.
  std::vector<uint8_t> classes(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) classes[i] = data.combining_class(chars[i]);
  for (size_t i = 0; i < chars.size();) {
    if (classes[i] == 0) {
      ++i;
      continue;
    }
    size_t run_end = i;
    while (run_end < chars.size() && classes[run_end] != 0) ++run_end;
    if (run_end - i > 1) {
      std::vector<std::pair<uint8_t, char32_t>> run;
      for (size_t k = i; k < run_end; ++k) run.emplace_back(classes[k], chars[k]);
      std::stable_sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (size_t k = i; k < run_end; ++k) std::tie(classes[k], chars[k]) = run[k - i];
    }
    i = run_end;
  }

  // 3. Canonical composition: each character composes with the last starter unless a character
  // in between has a combining class >= its own (it is "blocked").
  size_t kept = 0;
  size_t starter = 0;
  bool have_starter = false;
  int last_class = -1;  // class of the last kept character after the starter; -1: none kept yet
  for (size_t i = 0; i < chars.size(); ++i) {
    const char32_t ch = chars[i];
    const int klass = classes[i];
    if (have_starter) {
      const bool blocked = last_class != -1 && (last_class >= klass || last_class == 0);
      if (!blocked) {
        if (char32_t composite = compose_pair(data, chars[starter], ch)) {
          chars[starter] = composite;
          continue;
        }
      }
    }
    if (klass == 0) {
      starter = kept;
      have_starter = true;
      last_class = -1;
    } else {
      last_class = klass;
    }
    chars[kept] = ch;
    classes[kept] = static_cast<uint8_t>(klass);
    ++kept;
  }

  for (size_t i = 0; i < kept; ++i) {
    if (chars[i] >= kRawByteBase) {
      out.push_back(static_cast<char>(chars[i] - kRawByteBase));
    } else {
      append_utf8(out, chars[i]);
    }
  }
}

// True when `cp` is a starter that passes the quick check: nothing before it can reorder or
// compose with it, so normalization never looks across the boundary in front of it.
bool is_boundary(const Data& data, char32_t cp) {
  if (cp < 0x300 || cp == kInvalidCodePoint) return true;
  return data.combining_class(cp) == 0 && !data.quick_check_not_yes(cp);
}

// NFC segment by segment: text between boundaries is copied unless a code point in it fails
// the quick check, so mostly-normalized text costs little more than a scan.
std::string normalize_nfc(const Data& data, std::string_view utf8) {
  if (is_nfc_quick(data, utf8)) return std::string(utf8);
  std::string out;
  out.reserve(utf8.size() + 16);
  const char* begin = utf8.data();
  const char* end = begin + utf8.size();
  const char* copied = begin;         // utf8[0, copied) is in `out`
  const char* segment_start = begin;  // the last boundary seen
  uint8_t last_class = 0;
  for (const char* p = begin; p < end;) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      segment_start = p++;
      last_class = 0;
      continue;
    }
    int length = 0;
    const char32_t cp = decode_utf8(p, end, &length);
    if (is_boundary(data, cp)) {
      segment_start = p;
      last_class = 0;
      p += length;
      continue;
    }
    const uint8_t klass = data.combining_class(cp);
    if ((klass != 0 && last_class > klass) || data.quick_check_not_yes(cp)) {
      // Normalize from the last boundary up to the next one.
      const char* segment_end = p + length;
      while (segment_end < end) {
        const char32_t next = decode_utf8(segment_end, end, &length);
        if (is_boundary(data, next)) break;
        segment_end += length;
      }
      out.append(copied, segment_start);
      normalize_segment(data, std::string_view(segment_start, static_cast<size_t>(segment_end - segment_start)), out);
      copied = segment_start = p = segment_end;
      last_class = 0;
      continue;
    }
    last_class = klass;
    p += length;
  }
  out.append(copied, end);
  return out;
}

}  // namespace

bool is_nfc_quick(std::string_view utf8) { return is_nfc_quick(Data{false}, utf8); }
std::string nfc(std::string_view utf8) { return normalize_nfc(Data{false}, utf8); }
std::string huggingface_nfc(std::string_view utf8) { return normalize_nfc(Data{true}, utf8); }

}  // namespace mcpp::data::unicode
