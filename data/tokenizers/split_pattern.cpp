#include "data/tokenizers/split_pattern.h"

#include <array>
#include <string>

#include "core/base/error.h"
#include "data/unicode/properties.h"
#include "data/unicode/utf8.h"

namespace mcpp::data {
namespace {

namespace ut = unicode::tables;

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Character kinds: the class bits of the Unicode tables; 0 means "none of them" (the regexes'
// [^\s\p{L}\p{N}]). Invalid UTF-8 bytes are of kind 0, one byte each.
constexpr uint8_t kOther = 0;

constexpr std::array<uint8_t, 128> make_ascii_kinds() {
  std::array<uint8_t, 128> kinds{};
  for (int c = 'A'; c <= 'Z'; ++c) kinds[c] = ut::kLetterBit;
  for (int c = 'a'; c <= 'z'; ++c) kinds[c] = ut::kLetterBit;
  for (int c = '0'; c <= '9'; ++c) kinds[c] = ut::kNumberBit;
  for (int c : {'\t', '\n', '\v', '\f', '\r', ' '}) kinds[c] = ut::kWhitespaceBit;
  return kinds;
}
constexpr std::array<uint8_t, 128> kAsciiKinds = make_ascii_kinds();

struct Char {
  char32_t cp;
  uint8_t kind;
  uint8_t length;
};

inline Char char_at(const char* p, const char* end) {
  const auto byte = static_cast<unsigned char>(*p);
  if (byte < 0x80) return {byte, kAsciiKinds[byte], 1};
  int length = 0;
  const char32_t cp = unicode::decode_utf8(p, end, &length);
  return {cp, unicode::class_bits(cp), static_cast<uint8_t>(length)};
}

// End of the run of characters of kind `kind` starting at p.
inline const char* run_end(const char* p, const char* end, uint8_t kind) {
  while (p < end) {
    const auto byte = static_cast<unsigned char>(*p);
    if (byte < 0x80) {
      if (kAsciiKinds[byte] != kind) break;
      ++p;
      continue;
    }
    const Char c = char_at(p, end);
    if (c.kind != kind) break;
    p += c.length;
  }
  return p;
}

// `\s+(?!\S)|\s+` at p, a whitespace character: the greedy run, minus its last character when
// a non-space follows and the run is longer than one character (the lookahead backtracks).
inline const char* whitespace_match(const char* p, const char* end) {
  const char* q = p;
  const char* last_start = p;
  while (q < end) {
    const Char c = char_at(q, end);
    if (c.kind != ut::kWhitespaceBit) break;
    last_start = q;
    q += c.length;
  }
  if (q == end || last_start == p) return q;
  return last_start;
}

// Contractions 's 't 're 've 'm 'll 'd after the apostrophe at p; nullptr when none matches.
// Case-insensitively, Oniguruma also folds U+017F LATIN SMALL LETTER LONG S to 's'.
inline const char* contraction_match(const char* p, const char* end, bool ignore_case) {
  const char* q = p + 1;
  if (q >= end) return nullptr;
  auto letter = [&](const char* at, const char** next) -> char {
    if (at >= end) return 0;
    const auto byte = static_cast<unsigned char>(*at);
    if (byte < 0x80) {
      *next = at + 1;
      return ignore_case && byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte + 32) : static_cast<char>(byte);
    }
    if (ignore_case && byte == 0xC5 && at + 1 < end && static_cast<unsigned char>(at[1]) == 0xBF) {
      *next = at + 2;
      return 's';
    }
    return 0;
  };
  const char* after1 = nullptr;
  const char first = letter(q, &after1);
  switch (first) {
    case 's': case 't': case 'm': case 'd':
      return after1;
    case 'r': case 'v': case 'l': {
      const char* after2 = nullptr;
      const char second = letter(after1, &after2);
      if ((first == 'l' && second == 'l') || (first != 'l' && second == 'e')) return after2;
      return nullptr;
    }
    default:
      return nullptr;
  }
}

// Appends the match/gap pieces of `text` given `match(p, end)`, which returns the end of the
// match starting at p or nullptr when none starts there (the HF "Isolated" behaviour).
template <typename Match>
void split_matches(std::string_view text, std::vector<std::string_view>& pieces, const Match& match) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const char* p = begin;
  const char* gap = begin;
  while (p < end) {
    const char* m = match(p, end);
    if (m == nullptr) {
      p += char_at(p, end).length;
      continue;
    }
    if (gap < p) pieces.emplace_back(gap, static_cast<size_t>(p - gap));
    pieces.emplace_back(p, static_cast<size_t>(m - p));
    p = gap = m;
  }
  if (gap < end) pieces.emplace_back(gap, static_cast<size_t>(end - gap));
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
class Gpt2Pattern final : public SplitPattern {
 public:
  void split(std::string_view text, std::vector<std::string_view>& pieces) const override {
    split_matches(text, pieces, [](const char* p, const char* end) -> const char* {
      if (*p == '\'') {
        if (const char* m = contraction_match(p, end, /*ignore_case=*/false)) return m;
      }
      const Char c = char_at(p, end);
      if (c.cp == ' ' && p + 1 < end) {
        const Char next = char_at(p + 1, end);
        if (next.kind != ut::kWhitespaceBit) return run_end(p + 1 + next.length, end, next.kind);
      }
      if (c.kind != ut::kWhitespaceBit) return run_end(p + c.length, end, c.kind);
      return whitespace_match(p, end);
    });
  }
  std::string_view regex() const override { return kGpt2Regex; }
};

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   with D = 3 (Llama-3) or a single \p{N} (Qwen2).
class Llama3StylePattern final : public SplitPattern {
 public:
  Llama3StylePattern(int max_digits, std::string_view regex) : max_digits_(max_digits), regex_(regex) {}

  void split(std::string_view text, std::vector<std::string_view>& pieces) const override {
    const int max_digits = max_digits_;
    split_matches(text, pieces, [max_digits](const char* p, const char* end) -> const char* {
      if (*p == '\'') {
        if (const char* m = contraction_match(p, end, /*ignore_case=*/true)) return m;
      }
      const Char c = char_at(p, end);
      const char* after = p + c.length;
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (c.kind == ut::kLetterBit) return run_end(after, end, ut::kLetterBit);
      if (c.kind != ut::kNumberBit && c.cp != '\r' && c.cp != '\n' && after < end) {
        const Char next = char_at(after, end);
        if (next.kind == ut::kLetterBit) return run_end(after + next.length, end, ut::kLetterBit);
      }
      // \p{N}{1,D}
      if (c.kind == ut::kNumberBit) {
        const char* q = after;
        for (int n = 1; n < max_digits && q < end; ++n) {
          const Char next = char_at(q, end);
          if (next.kind != ut::kNumberBit) break;
          q += next.length;
        }
        return q;
      }
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      const char* other = nullptr;
      if (c.kind == kOther) {
        other = after;
      } else if (c.cp == ' ' && after < end) {
        const Char next = char_at(after, end);
        if (next.kind == kOther) other = after + next.length;
      }
      if (other != nullptr) {
        const char* q = run_end(other, end, kOther);
        while (q < end && (*q == '\r' || *q == '\n')) ++q;
        return q;
      }
      // c is whitespace. \s*[\r\n]+ : the run up to and including its last CR or LF.
      const char* q = p;
      const char* after_last_newline = nullptr;
      const char* last_start = p;
      while (q < end) {
        const Char w = char_at(q, end);
        if (w.kind != ut::kWhitespaceBit) break;
        last_start = q;
        q += w.length;
        if (w.cp == '\r' || w.cp == '\n') after_last_newline = q;
      }
      if (after_last_newline != nullptr) return after_last_newline;
      // \s+(?!\S)|\s+
      if (q == end || last_start == p) return q;
      return last_start;
    });
  }
  std::string_view regex() const override { return regex_; }

 private:
  int max_digits_;
  std::string_view regex_;
};

}  // namespace

std::string_view gpt2_split_regex() { return kGpt2Regex; }
std::string_view llama3_split_regex() { return kLlama3Regex; }
std::string_view qwen2_split_regex() { return kQwen2Regex; }

std::unique_ptr<SplitPattern> SplitPattern::compile(std::string_view regex) {
  if (regex == kGpt2Regex) return std::make_unique<Gpt2Pattern>();
  if (regex == kLlama3Regex) return std::make_unique<Llama3StylePattern>(3, kLlama3Regex);
  if (regex == kQwen2Regex) return std::make_unique<Llama3StylePattern>(1, kQwen2Regex);
  throw Error("unsupported pre-tokenizer Split regex '" + std::string(regex) +
              "': supported are the GPT-2 ByteLevel, Llama-3 and Qwen2 patterns");
}

}  // namespace mcpp::data
