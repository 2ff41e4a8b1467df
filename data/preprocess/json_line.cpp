#include "data/preprocess/json_line.h"

#include <cstdint>
#include <cstring>

#include "core/base/error.h"

namespace mcpp::data {
namespace {

// Python's json module recurses per nesting level and fails near its recursion limit.
constexpr int kMaxDepth = 900;

// Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0 when it is invalid
// (overlong forms, encoded surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  const unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* kind_name(unsigned char c) {
  switch (c) {
    case '{': return "an object";
    case '[': return "a list";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
  }
}

}  // namespace

// A position in the line being parsed, with the grammar as member functions.
class JsonLineParser::Cursor {
 public:
  explicit Cursor(std::string_view line)
      : begin_(reinterpret_cast<const unsigned char*>(line.data())),
        p_(begin_),
        end_(begin_ + line.size()) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(what + " at column " + std::to_string(p_ - begin_ + 1));
  }

  bool at_end() const { return p_ == end_; }
  unsigned char peek() const { return p_ < end_ ? *p_ : 0; }

  void skip_whitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  void expect(char c, const char* what) {
    if (p_ >= end_ || *p_ != static_cast<unsigned char>(c)) fail(std::string("expected ") + what);
    ++p_;
  }

  // A JSON string starting at '"'; appends its unescaped UTF-8 to *out when out is set. `text`
  // marks strings that will be tokenized: only there is a lone UTF-16 surrogate an error.
  void string(std::string* out, bool text = false) {
    expect('"', "'\"'");
    while (true) {
      // Copy the run of plain bytes in one go.
      const unsigned char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && *p_ >= 0x20 && *p_ < 0x80) ++p_;
      if (out) out->append(reinterpret_cast<const char*>(run), p_ - run);
      if (p_ >= end_) fail("unterminated string");
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return;
      }
      if (c < 0x20) fail("raw control character in a string (it must be escaped)");
      if (c >= 0x80) {
        const size_t n = utf8_sequence_length(p_, end_);
        if (n == 0) fail("invalid UTF-8");
        if (out) out->append(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        continue;
      }
      escape(out, text);
    }
  }

  // The elements of an object or a list, after its opening bracket; item() reads one element.
  template <typename Item>
  void elements(unsigned char close, Item item) {
    const char* const after_comma =
        close == '}' ? "expected a key after ','" : "expected a value after ','";
    skip_whitespace();
    if (peek() == close) {
      ++p_;
      return;
    }
    while (true) {
      skip_whitespace();
      item();
      skip_whitespace();
      if (peek() != ',') break;
      ++p_;
      skip_whitespace();
      if (peek() == close) fail(after_comma);
    }
    expect(static_cast<char>(close),
           close == '}' ? "',' or '}' in an object" : "',' or ']' in a list");
  }

  // A key and the ':' after it; appends the unescaped key to *out when out is set.
  void key(std::string* out) {
    string(out);
    skip_whitespace();
    expect(':', "':' after a key");
    skip_whitespace();
  }

  // Any JSON value, validated and skipped.
  void skip_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    switch (peek()) {
      case '"': return string(nullptr);
      case '{':
        ++p_;
        return elements('}', [&] {
          key(nullptr);
          skip_value(depth + 1);
        });
      case '[':
        ++p_;
        return elements(']', [&] { skip_value(depth + 1); });
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      case 'N': return literal("NaN");
      case 'I': return literal("Infinity");
      default: return number();
    }
  }

 private:
  void literal(const char* word) {
    const size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) fail("invalid value");
    p_ += n;
  }

  void digits() {
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail("invalid number");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }

  void number() {
    if (peek() == '-') {
      ++p_;
      if (peek() == 'I') return literal("Infinity");
    }
    if (peek() == '0') {
      ++p_;
    } else {
      if (peek() < '1' || peek() > '9') fail("invalid value");
      digits();
    }
    if (peek() == '.') {
      ++p_;
      digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      digits();
    }
  }

  uint32_t hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(p_[i]);
      if (h < 0) fail("invalid \\u escape");
      value = value * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    return value;
  }

  // Handles the escape at p_ ('\\'); `text` as in string().
  void escape(std::string* out, bool text) {
    ++p_;
    if (p_ >= end_) fail("unterminated string");
    const unsigned char c = *p_++;
    char plain = 0;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        const unsigned char* backslash = p_ - 2;
        uint32_t cp = hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
          const unsigned char* after_high = p_;
          p_ += 2;
          const uint32_t low = hex4();
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else {
            p_ = after_high;  // the next escape stands on its own
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF && text) {
          // Python keeps a lone surrogate in the string, but text to tokenize must be UTF-8.
          p_ = backslash;
          fail(cp < 0xDC00 ? "lone UTF-16 high surrogate in a \\u escape (not valid Unicode)"
                           : "lone UTF-16 low surrogate in a \\u escape (not valid Unicode)");
        }
        // Elsewhere (other keys, values never used) a lone surrogate is harmless, as in Python.
        if (out) append_utf8(*out, cp);
        return;
      }
      default:
        --p_;
        fail("invalid escape in a string");
    }
    if (out) *out += plain;
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
};

JsonLineParser::JsonLineParser(std::vector<std::string> keys)
    : keys_(std::move(keys)),
      spans_(keys_.size()),
      found_(keys_.size()),
      sentences_(keys_.size()) {}

void JsonLineParser::parse(std::string_view line) {
  arena_.clear();
  for (size_t i = 0; i < keys_.size(); ++i) {
    spans_[i].clear();
    found_[i] = false;
    sentences_[i].clear();
  }
  Cursor cursor(line);
  cursor.skip_whitespace();
  if (cursor.at_end()) cursor.fail("empty line, expected a JSON object");
  if (cursor.peek() != '{') cursor.fail("expected a JSON object");
  cursor.expect('{', "'{'");
  cursor.elements('}', [&] {
    key_scratch_.clear();
    cursor.key(&key_scratch_);
    size_t key_index = keys_.size();
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] == key_scratch_) key_index = i;
    if (key_index == keys_.size()) {
      cursor.skip_value(1);
      return;
    }
    // A repeated key replaces the earlier value, as in Python.
    auto& spans = spans_[key_index];
    spans.clear();
    found_[key_index] = true;
    auto take_string = [&] {
      const size_t start = arena_.size();
      cursor.string(&arena_, /*text=*/true);
      spans.push_back({start, arena_.size() - start});
    };
    const unsigned char c = cursor.peek();
    if (c == '"') {
      take_string();
    } else if (c == '[') {
      cursor.expect('[', "'['");
      cursor.elements(']', [&] {
        const unsigned char e = cursor.peek();
        if (e != '"') {
          Cursor probe = cursor;  // report bad JSON as such before the type problem
          probe.skip_value(2);
          cursor.fail("key '" + keys_[key_index] + "': list element " +
                      std::to_string(spans.size()) + " is " + kind_name(e) + ", not a string");
        }
        take_string();
      });
    } else {
      Cursor probe = cursor;
      probe.skip_value(1);
      cursor.fail("key '" + keys_[key_index] + "' holds " + kind_name(c) +
                  ", not a string or a list of strings");
    }
  });
  cursor.skip_whitespace();
  if (!cursor.at_end()) cursor.fail("extra data after the JSON object");

  for (size_t i = 0; i < keys_.size(); ++i) {
    if (!found_[i]) throw Error("no key '" + keys_[i] + "' in the JSON object");
    for (const Span& s : spans_[i]) sentences_[i].emplace_back(arena_.data() + s.begin, s.size);
  }
}

}  // namespace mcpp::data
