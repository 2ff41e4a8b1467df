#pragma once
// GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable code point so that a
// vocabulary of strings can hold arbitrary bytes (space becomes U+0120 'Ġ', newline U+010A 'Ċ').
// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in byte order.
#include <cstdint>
#include <string>
#include <string_view>

namespace mcpp::data::byte_level {

// The code point that stands for `byte`.
char32_t char_of_byte(uint8_t byte);

// The byte that `c` stands for, or -1 when `c` is outside the alphabet.
int byte_of_char(char32_t c);

// Appends the alphabet form of raw bytes (each byte as the UTF-8 of its code point).
void append_mapped(std::string_view raw, std::string& out);

// Appends the raw bytes of an alphabet-form string; returns false (leaving `out` unspecified)
// when `mapped` holds a code point outside the alphabet or is not valid UTF-8.
bool append_unmapped(std::string_view mapped, std::string& out);

}  // namespace mcpp::data::byte_level
