#include <catch2/catch.hpp>

#include <string>

#include "data/unicode/properties.h"
#include "data/unicode/utf8.h"

using namespace mcpp::data::unicode;

namespace {
// As a plain integer, which Catch can print.
uint32_t decode(const std::string& bytes, int* length) {
  return decode_utf8(bytes.data(), bytes.data() + bytes.size(), length);
}
constexpr uint32_t kInvalid = kInvalidCodePoint;
}  // namespace

TEST_CASE("decode_utf8 decodes every length and boundary") {
  int length = 0;
  CHECK(decode("A", &length) == 'A');
  CHECK(length == 1);
  CHECK(decode("\xC2\x80", &length) == 0x80);
  CHECK(length == 2);
  CHECK(decode("\xDF\xBF", &length) == 0x7FF);
  CHECK(decode("\xE0\xA0\x80", &length) == 0x800);
  CHECK(length == 3);
  CHECK(decode("\xED\x9F\xBF", &length) == 0xD7FF);
  CHECK(decode("\xEE\x80\x80", &length) == 0xE000);
  CHECK(decode("\xEF\xBF\xBF", &length) == 0xFFFF);
  CHECK(decode("\xF0\x90\x80\x80", &length) == 0x10000);
  CHECK(length == 4);
  CHECK(decode("\xF4\x8F\xBF\xBF", &length) == 0x10FFFF);
}

TEST_CASE("decode_utf8 rejects malformed sequences with length 1") {
  const char* bad[] = {
      "\x80",              // lone continuation
      "\xBF",              //
      "\xC0\x80",          // overlong NUL
      "\xC1\xBF",          // overlong
      "\xE0\x80\x80",      // overlong 3-byte
      "\xE0\x9F\xBF",      // overlong 3-byte
      "\xED\xA0\x80",      // surrogate D800
      "\xED\xBF\xBF",      // surrogate DFFF
      "\xF0\x80\x80\x80",  // overlong 4-byte
      "\xF0\x8F\xBF\xBF",  // overlong 4-byte
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xF5\x80\x80\x80",  // invalid lead
      "\xFF",              //
      "\xC3",              // truncated
      "\xE2\x82",          // truncated
      "\xF0\x9F\x98",      // truncated
      "\xC3\x28",          // bad continuation
  };
  for (const char* bytes : bad) {
    int length = 0;
    CAPTURE(std::string(bytes));
    CHECK(decode(bytes, &length) == kInvalid);
    CHECK(length == 1);
  }
  // A truncated sequence at the end of the buffer is invalid even if memory continues.
  const std::string euro = "\xE2\x82\xAC";
  int length = 0;
  CHECK(uint32_t(decode_utf8(euro.data(), euro.data() + 2, &length)) == kInvalid);
}

TEST_CASE("append_utf8 round-trips every scalar value") {
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string bytes;
    append_utf8(bytes, cp);
    int length = 0;
    const char32_t back = decode_utf8(bytes.data(), bytes.data() + bytes.size(), &length);
    if (back != cp || length != static_cast<int>(bytes.size())) FAIL("code point " << uint32_t(cp));
    if (find_invalid_utf8(bytes) != std::string::npos) FAIL("code point " << uint32_t(cp));
  }
}

TEST_CASE("find_invalid_utf8 reports the first bad byte") {
  CHECK(find_invalid_utf8("") == std::string::npos);
  CHECK(find_invalid_utf8("plain ASCII text that is longer than eight bytes") == std::string::npos);
  CHECK(find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == std::string::npos);
  CHECK(find_invalid_utf8("abcdefghijk\x80") == 11);
  CHECK(find_invalid_utf8("abcdefgh\xED\xA0\x80xyz") == 8);
  CHECK(find_invalid_utf8("\xC3\xA9\xC0\x80") == 2);
  CHECK(find_invalid_utf8("ab\xE2\x82") == 2);
}

TEST_CASE("character classes") {
  CHECK(is_letter(U'a'));
  CHECK(is_letter(U'Z'));
  CHECK(is_letter(0x00E9));   // é
  CHECK(is_letter(0x4E2D));   // 中
  CHECK(is_letter(0x02B0));   // Lm
  CHECK(is_letter(0x01C5));   // Lt
  CHECK(is_letter(0x20000));  // CJK Extension B (range in UnicodeData.txt)
  CHECK(is_letter(0x31350));  // CJK Extension H, new in 15.0
  CHECK_FALSE(is_letter(U'1'));
  CHECK_FALSE(is_letter(0x0301));  // combining acute: Mn
  CHECK_FALSE(is_letter(0xD800));
  CHECK_FALSE(is_letter(kInvalidCodePoint));
  CHECK(is_number(U'7'));
  CHECK(is_number(0x0663));  // Arabic-Indic 3: Nd
  CHECK(is_number(0x2167));  // Roman numeral 8: Nl
  CHECK(is_number(0x00BD));  // ½: No
  CHECK_FALSE(is_number(U'x'));
  int whitespace = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) whitespace += is_whitespace(cp);
  CHECK(whitespace == 25);
  for (char32_t cp : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                      0x2029, 0x202F, 0x205F, 0x3000}) {
    CHECK(is_whitespace(cp));
  }
  CHECK_FALSE(is_whitespace(0x180E));  // Mongolian vowel separator: not White_Space since 6.3
  CHECK_FALSE(is_whitespace(0x200B));  // zero width space
  CHECK_FALSE(is_whitespace(0xFEFF));
  CHECK(combining_class(0x0301) == 230);
  CHECK(combining_class(0x0327) == 202);
  CHECK(combining_class(U'a') == 0);
  CHECK(std::string(unicode_version()) == "15.0.0");
}
