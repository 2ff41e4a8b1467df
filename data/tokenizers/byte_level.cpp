#include "data/tokenizers/byte_level.h"

#include <array>

#include "data/unicode/utf8.h"

namespace mcpp::data::byte_level {
namespace {

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<int16_t, 512> byte_of_char{};  // every mapped code point is below U+0200

  Alphabet() {
    byte_of_char.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next_extra = 0x100;
    for (int b = 0; b < 256; ++b) {
      char32_t c = printable(b) ? char32_t(b) : next_extra++;
      char_of_byte[b] = c;
      byte_of_char[c] = int16_t(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

char32_t char_of_byte(uint8_t byte) { return alphabet().char_of_byte[byte]; }

int byte_of_char(char32_t c) { return c < 512 ? alphabet().byte_of_char[c] : -1; }

void append_mapped(std::string_view raw, std::string& out) {
  for (char ch : raw) unicode::append_utf8(out, char_of_byte(uint8_t(ch)));
}

bool append_unmapped(std::string_view mapped, std::string& out) {
  const char* p = mapped.data();
  const char* end = p + mapped.size();
  while (p < end) {
    int length = 0;
    char32_t c = unicode::decode_utf8(p, end, &length);
    int byte = c == unicode::kInvalidCodePoint ? -1 : byte_of_char(c);
    if (byte < 0) return false;
    out.push_back(char(byte));
    p += length;
  }
  return true;
}

}  // namespace mcpp::data::byte_level
