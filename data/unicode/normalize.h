#pragma once
// Unicode normalization form C (UAX #15).
#include <string>
#include <string_view>

namespace mcpp::data::unicode {

// NFC of `utf8`: canonical decomposition, canonical reordering, then canonical composition
// (composition exclusions honoured, Hangul composed algorithmically). Text already in NFC is
// returned unchanged after a quick check. Bytes that are not valid UTF-8 are kept as they are
// and act as starters that compose with nothing.
std::string nfc(std::string_view utf8);

// NFC exactly as Hugging Face tokenizers' NFC normalizer computes it: that library normalizes with
// Unicode 9.0 data, so code points assigned after Unicode 9.0 neither decompose, compose nor take
// part in canonical reordering (they act as starters). Identical to nfc() on text without such
// code points. Use this for tokenizer.json's {"type": "NFC"} normalizer.
std::string huggingface_nfc(std::string_view utf8);

// True when `utf8` passes the NFC quick check (NFC_Quick_Check=Yes for every code point and
// combining marks in canonical order), i.e. nfc(utf8) == utf8 without further work.
bool is_nfc_quick(std::string_view utf8);

}  // namespace mcpp::data::unicode
