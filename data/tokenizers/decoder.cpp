#include "data/tokenizers/decoder.h"

#include "core/base/error.h"
#include "data/tokenizers/byte_level.h"
#include "data/tokenizers/replace_all.h"
#include "data/unicode/utf8.h"

namespace mcpp::data {
namespace {

// Appends `bytes` as UTF-8, each maximal invalid subsequence replaced by one U+FFFD (the rule
// of Rust's String::from_utf8_lossy, which Hugging Face uses).
void append_utf8_lossy(std::string_view bytes, std::string& out) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  size_t i = 0;
  const size_t n = bytes.size();
  auto at = [&](size_t k) { return uint8_t(bytes[k]); };
  while (i < n) {
    uint8_t lead = at(i);
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (lead < 0x80) {
      out.push_back(char(lead));
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      out.append(kReplacement);
      ++i;
      continue;
    }
    size_t good = 0;  // continuation bytes that fit
    while (good < need && i + 1 + good < n) {
      uint8_t c = at(i + 1 + good);
      bool fits = good == 0 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
      if (!fits) break;
      ++good;
    }
    if (good == need) {
      out.append(bytes.substr(i, need + 1));
    } else {
      out.append(kReplacement);
    }
    i += 1 + good;
  }
}

std::vector<std::string> decode_byte_level(const std::vector<std::string>& tokens) {
  std::string bytes;
  for (const std::string& token : tokens) {
    size_t mark = bytes.size();
    if (!byte_level::append_unmapped(token, bytes)) {
      bytes.resize(mark);
      bytes.append(token);  // not in the alphabet: keep its own bytes
    }
  }
  std::string text;
  append_utf8_lossy(bytes, text);
  return {std::move(text)};
}

int parse_byte_token(const std::string& token) {
  // "<0xAB>"
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int high = hex(token[3]), low = hex(token[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

std::vector<std::string> byte_fallback(const std::vector<std::string>& tokens) {
  std::vector<std::string> result;
  std::string pending;  // bytes of consecutive <0xXX> tokens
  size_t pending_count = 0;
  auto flush = [&] {
    if (pending_count == 0) return;
    if (unicode::find_invalid_utf8(pending) == std::string_view::npos) {
      result.push_back(pending);
    } else {
      for (size_t i = 0; i < pending_count; ++i) result.emplace_back("\xEF\xBF\xBD");
    }
    pending.clear();
    pending_count = 0;
  };
  for (const std::string& token : tokens) {
    int byte = parse_byte_token(token);
    if (byte >= 0) {
      pending.push_back(char(byte));
      ++pending_count;
    } else {
      flush();
      result.push_back(token);
    }
  }
  flush();
  return result;
}

void strip(std::string& token, const std::string& character, size_t start, size_t stop) {
  if (character.empty()) return;
  size_t front = 0;
  for (size_t i = 0; i < start && token.compare(front, character.size(), character) == 0; ++i)
    front += character.size();
  size_t back = token.size();
  for (size_t i = 0; i < stop && back >= front + character.size() &&
                     token.compare(back - character.size(), character.size(), character) == 0;
       ++i)
    back -= character.size();
  token = token.substr(front, back - front);
}

}  // namespace

std::string Decoder::decode(std::vector<std::string> tokens) const {
  check(unsupported_.empty(), unsupported_);
  if (steps_.empty()) {
    std::string text;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) text.push_back(' ');
      text.append(tokens[i]);
    }
    return text;
  }
  for (const DecodeStep& step : steps_) {
    switch (step.kind) {
      case DecodeStep::Kind::kByteLevel:
        tokens = decode_byte_level(tokens);
        break;
      case DecodeStep::Kind::kReplace:
        for (std::string& t : tokens) replace_all(t, step.pattern, step.replacement);
        break;
      case DecodeStep::Kind::kByteFallback:
        tokens = byte_fallback(tokens);
        break;
      case DecodeStep::Kind::kFuse: {
        std::string fused;
        for (const std::string& t : tokens) fused.append(t);
        tokens.assign(1, std::move(fused));
        break;
      }
      case DecodeStep::Kind::kStrip:
        for (std::string& t : tokens) strip(t, step.replacement, step.strip_start, step.strip_stop);
        break;
    }
  }
  std::string text;
  for (const std::string& t : tokens) text.append(t);
  return text;
}

}  // namespace mcpp::data
