#pragma once
// UTF-8 decoding, encoding and validation (RFC 3629: no surrogates, no overlong forms, nothing
// above U+10FFFF).
#include <cstddef>
#include <string>
#include <string_view>

namespace mcpp::data::unicode {

inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

// Decodes one code point at p (p < end) and sets *length to the bytes it takes. On invalid
// UTF-8 returns kInvalidCodePoint with *length = 1, so callers can step over the bad byte.
char32_t decode_utf8(const char* p, const char* end, int* length);

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value) to `out`.
void append_utf8(std::string& out, char32_t cp);

// Offset of the first byte that does not start a valid UTF-8 sequence, or std::string_view::npos
// when the whole of `text` is valid.
size_t find_invalid_utf8(std::string_view text);

}  // namespace mcpp::data::unicode
