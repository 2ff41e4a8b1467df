#include "data/tokenizers/split_regex.h"

#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/error.h"
#include "data/unicode/properties.h"
#include "data/unicode/utf8.h"

namespace mcpp::data {
namespace {

namespace ut = unicode::tables;

// One member of a character class: a range, a set of general categories, \s or \w.
struct ClassItem {
  enum Kind : uint8_t { kRange, kCategories, kWhitespace, kWord };
  Kind kind = kRange;
  bool negated = false;
  char32_t lo = 0;
  char32_t hi = 0;
  uint32_t categories = 0;  // bit per ut::GeneralCategory

  bool matches(char32_t cp) const {
    bool hit = false;
    switch (kind) {
      case kRange: hit = cp >= lo && cp <= hi; break;
      case kCategories: hit = (categories >> unicode::general_category(cp)) & 1u; break;
      case kWhitespace: hit = unicode::is_whitespace(cp); break;
      case kWord: hit = unicode::is_word(cp); break;
    }
    return hit != negated;
  }
};

// Every code point with the same simple case folding as `cp` (cp included).
const std::vector<char32_t>& case_variants(char32_t cp) {
  static const auto* variants = [] {
    auto* map = new std::unordered_map<char32_t, std::vector<char32_t>>();
    for (char32_t c = 'A'; c <= 'Z'; ++c) (*map)[c + 32].push_back(c);
    for (size_t i = 0; i < ut::kSimpleCaseFoldCount; ++i) {
      const auto& fold = ut::kSimpleCaseFolds[i];
      if (fold.code_point >= 0x80) (*map)[fold.folded].push_back(fold.code_point);
    }
    for (auto& [folded, sources] : *map) sources.push_back(folded);
    return map;
  }();
  static thread_local std::vector<char32_t> single(1);
  const auto it = variants->find(unicode::simple_case_fold(cp));
  if (it != variants->end()) return it->second;
  single[0] = cp;
  return single;
}

struct CharClass {
  std::vector<ClassItem> items;
  bool negated = false;
  bool ignore_case = false;

  bool contains(char32_t cp) const {
    for (const auto& item : items) {
      if (item.matches(cp)) return true;
    }
    return false;
  }
  bool ranges_contain(char32_t cp) const {
    for (const auto& item : items) {
      if (item.kind == ClassItem::kRange && item.matches(cp)) return true;
    }
    return false;
  }
  // Case-insensitively, Oniguruma folds literal characters and ranges but not properties:
  // (?i)\p{Lu} still matches only uppercase letters.
  bool matches(char32_t cp) const {
    bool hit = contains(cp);
    if (!hit && ignore_case) {
      for (const char32_t variant : case_variants(cp)) {
        if (variant != cp && ranges_contain(variant)) {
          hit = true;
          break;
        }
      }
    }
    return hit != negated;
  }
};

struct Node {
  enum Kind : uint8_t { kClass, kSequence, kAlternation, kRepeat, kLookahead };
  Kind kind = kSequence;
  int char_class = -1;  // kClass: index into the pattern's classes
  std::vector<Node> children;
  int min = 1;
  int max = 1;  // kRepeat; -1: unbounded
  bool greedy = true;
  bool negative = false;  // kLookahead: (?!...)
};

size_t min_length(const Node& node) {
  switch (node.kind) {
    case Node::kClass: return 1;
    case Node::kLookahead: return 0;
    case Node::kRepeat: return static_cast<size_t>(node.min) * min_length(node.children[0]);
    case Node::kSequence: {
      size_t total = 0;
      for (const auto& child : node.children) total += min_length(child);
      return total;
    }
    case Node::kAlternation: {
      size_t least = SIZE_MAX;
      for (const auto& child : node.children) least = std::min(least, min_length(child));
      return least;
    }
  }
  return 0;
}

// Recursive-descent parser from the pattern's code points to a Node tree.
class Parser {
 public:
  Parser(std::string_view regex, std::vector<CharClass>& classes) : regex_(regex), classes_(classes) {
    const char* p = regex.data();
    const char* end = p + regex.size();
    while (p < end) {
      int length = 0;
      const char32_t cp = unicode::decode_utf8(p, end, &length);
      if (cp == unicode::kInvalidCodePoint) fail("it is not valid UTF-8");
      src_.push_back(cp);
      p += length;
    }
  }

  Node parse() {
    Node root = parse_alternation(false);
    if (pos_ < src_.size()) fail("unbalanced ')'");
    return root;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("unsupported pre-tokenizer Split regex '" + std::string(regex_) + "': " + what);
  }

 private:
  bool at_end() const { return pos_ >= src_.size(); }
  char32_t peek(size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : 0; }
  bool accept(char32_t c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }
  bool accept(std::u32string_view text) {
    if (src_.size() - pos_ < text.size() || std::u32string_view(src_).substr(pos_, text.size()) != text) return false;
    pos_ += text.size();
    return true;
  }

  // A (?i) inside one alternative holds for the following alternatives too (up to the ')').
  Node parse_alternation(bool ignore_case) {
    Node alternation{Node::kAlternation};
    alternation.children.push_back(parse_sequence(ignore_case));
    while (accept(U'|')) alternation.children.push_back(parse_sequence(ignore_case));
    if (alternation.children.size() == 1) return std::move(alternation.children[0]);
    return alternation;
  }

  // `ignore_case` may be switched on by (?i) for the rest of the enclosing group.
  Node parse_sequence(bool& ignore_case) {
    Node sequence{Node::kSequence};
    while (!at_end() && peek() != U'|' && peek() != U')') {
      if (accept(U"(?i)")) {
        ignore_case = true;
        continue;
      }
      Node atom = parse_atom(ignore_case);
      int min = 0;
      int max = 0;
      if (parse_quantifier(min, max)) {
        Node repeat{Node::kRepeat};
        repeat.min = min;
        repeat.max = max;
        if (accept(U'?')) repeat.greedy = false;
        else if (peek() == U'+') fail("possessive quantifiers are not supported");
        if (int a = 0, b = 0; parse_quantifier(a, b)) fail("nested quantifiers are not supported");
        if (atom.kind == Node::kLookahead) fail("a quantified lookahead is not supported");
        repeat.children.push_back(std::move(atom));
        atom = std::move(repeat);
      }
      sequence.children.push_back(std::move(atom));
    }
    if (sequence.children.size() == 1) return std::move(sequence.children[0]);
    return sequence;
  }

  bool parse_quantifier(int& min, int& max) {
    if (accept(U'*')) return min = 0, max = -1, true;
    if (accept(U'+')) return min = 1, max = -1, true;
    if (accept(U'?')) return min = 0, max = 1, true;
    if (peek() != U'{') return false;
    // {n}, {n,}, {n,m}; anything else is a literal '{' in Oniguruma.
    size_t p = pos_ + 1;
    auto number = [&](int& value) {
      const size_t start = p;
      value = 0;
      while (p < src_.size() && src_[p] >= U'0' && src_[p] <= U'9' && p - start < 6) value = value * 10 + int(src_[p++] - U'0');
      return p > start;
    };
    int lo = 0;
    int hi = 0;
    if (!number(lo)) return false;
    if (p < src_.size() && src_[p] == U'}') {
      hi = lo;
    } else if (p < src_.size() && src_[p] == U',') {
      ++p;
      if (!number(hi)) hi = -1;
      if (p >= src_.size() || src_[p] != U'}') return false;
    } else {
      return false;
    }
    if (hi != -1 && hi < lo) fail("quantifier {" + std::to_string(lo) + "," + std::to_string(hi) + "} has max < min");
    pos_ = p + 1;
    min = lo;
    max = hi;
    return true;
  }

  Node class_node(CharClass char_class) {
    Node node{Node::kClass};
    node.char_class = static_cast<int>(classes_.size());
    classes_.push_back(std::move(char_class));
    return node;
  }

  Node literal(char32_t cp, bool ignore_case) {
    CharClass c;
    c.items.push_back({ClassItem::kRange, false, cp, cp, 0});
    c.ignore_case = ignore_case;
    return class_node(std::move(c));
  }

  Node parse_atom(bool ignore_case) {
    const char32_t c = peek();
    ++pos_;
    switch (c) {
      case U'(': {
        Node group;
        if (accept(U"?:")) {
          group = parse_alternation(ignore_case);
        } else if (accept(U"?i:")) {
          group = parse_alternation(true);
        } else if (accept(U"?-i:")) {
          group = parse_alternation(false);
        } else if (accept(U"?=") || accept(U"?!")) {
          group = Node{Node::kLookahead};
          group.negative = src_[pos_ - 1] == U'!';
          group.children.push_back(parse_alternation(ignore_case));
        } else if (peek() == U'?') {
          fail("group construct '(?" + std::string(1, static_cast<char>(peek(1) < 0x80 ? peek(1) : '?')) + "' is not supported");
        } else {
          group = parse_alternation(ignore_case);  // capturing group: captures are not used
        }
        if (!accept(U')')) fail("missing ')'");
        return group;
      }
      case U'[':
        return class_node(parse_class(ignore_case));
      case U'.': {
        CharClass dot;
        dot.items.push_back({ClassItem::kRange, false, U'\n', U'\n', 0});
        dot.negated = true;
        return class_node(std::move(dot));
      }
      case U'\\': {
        CharClass escaped;
        escaped.ignore_case = ignore_case;
        parse_escape(escaped, /*in_class=*/false);
        return class_node(std::move(escaped));
      }
      case U'^':
      case U'$':
        fail("anchors (^, $) are not supported");
      case U'*':
      case U'+':
      case U'?':
        fail("a quantifier follows nothing");
      case U')':
        fail("unbalanced ')'");
      default:
        return literal(c, ignore_case);
    }
  }

  // After '[': items up to the closing ']'.
  CharClass parse_class(bool ignore_case) {
    CharClass result;
    result.ignore_case = ignore_case;
    result.negated = accept(U'^');
    bool first = true;
    while (true) {
      if (at_end()) fail("missing ']'");
      if (peek() == U']' && !first) {
        ++pos_;
        return result;
      }
      first = false;
      if (peek() == U'[') fail("nested classes and POSIX brackets are not supported");
      if (peek() == U'&' && peek(1) == U'&') fail("class intersection (&&) is not supported");
      char32_t lo = 0;
      if (peek() == U'\\') {
        ++pos_;
        const size_t before = result.items.size();
        parse_escape(result, /*in_class=*/true);
        if (result.items.back().kind != ClassItem::kRange || result.items.size() != before + 1) continue;
        lo = result.items.back().lo;
        result.items.pop_back();
      } else {
        lo = src_[pos_++];
      }
      char32_t hi = lo;
      if (peek() == U'-' && peek(1) != U']' && pos_ + 1 < src_.size()) {
        ++pos_;
        if (peek() == U'\\') {
          ++pos_;
          CharClass end;
          parse_escape(end, /*in_class=*/true);
          if (end.items.size() != 1 || end.items[0].kind != ClassItem::kRange) fail("a class range ends in a class");
          hi = end.items[0].lo;
        } else {
          hi = src_[pos_++];
        }
        if (hi < lo) fail("class range out of order");
      }
      result.items.push_back({ClassItem::kRange, false, lo, hi, 0});
    }
  }

  // After '\': appends what the escape matches to `out`.
  void parse_escape(CharClass& out, bool in_class) {
    if (at_end()) fail("trailing '\\'");
    const char32_t c = src_[pos_++];
    auto add_literal = [&](char32_t cp) { out.items.push_back({ClassItem::kRange, false, cp, cp, 0}); };
    switch (c) {
      case U't': return add_literal(U'\t');
      case U'n': return add_literal(U'\n');
      case U'r': return add_literal(U'\r');
      case U'f': return add_literal(U'\f');
      case U'v': return add_literal(U'\v');
      case U'a': return add_literal(0x07);
      case U'e': return add_literal(0x1B);
      case U's': case U'S':
        return out.items.push_back({ClassItem::kWhitespace, c == U'S', 0, 0, 0});
      case U'w': case U'W':
        return out.items.push_back({ClassItem::kWord, c == U'W', 0, 0, 0});
      case U'd': case U'D':
        return out.items.push_back({ClassItem::kCategories, c == U'D', 0, 0, 1u << ut::kNd});
      case U'p': case U'P':
        return out.items.push_back(parse_property(c == U'P'));
      case U'x': case U'u':
        return add_literal(parse_hex(c));
      default:
        break;
    }
    if (c < 0x80 && !((c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'))) {
      return add_literal(c);  // escaped punctuation stands for itself
    }
    (void)in_class;
    fail(std::string("escape '\\") + (c < 0x80 ? std::string(1, static_cast<char>(c)) : std::string("?")) +
         "' is not supported");
  }

  char32_t parse_hex(char32_t kind) {
    auto digit = [](char32_t d) -> int {
      if (d >= U'0' && d <= U'9') return int(d - U'0');
      if (d >= U'a' && d <= U'f') return int(d - U'a' + 10);
      if (d >= U'A' && d <= U'F') return int(d - U'A' + 10);
      return -1;
    };
    char32_t value = 0;
    if (kind == U'x' && accept(U'{')) {
      int count = 0;
      while (!at_end() && digit(peek()) >= 0 && count < 8) value = value * 16 + char32_t(digit(src_[pos_++])), ++count;
      if (count == 0 || !accept(U'}')) fail("malformed \\x{...} escape");
    } else {
      const int digits = kind == U'x' ? 2 : 4;
      for (int i = 0; i < digits; ++i) {
        if (at_end() || digit(peek()) < 0) fail(std::string("malformed \\") + static_cast<char>(kind) + " escape");
        value = value * 16 + char32_t(digit(src_[pos_++]));
      }
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) fail("escape names no Unicode scalar value");
    return value;
  }

  // After \p or \P: {Name} or {^Name}, Name a general category (short or long name).
  ClassItem parse_property(bool negated) {
    if (!accept(U'{')) fail("\\p needs {Name}");
    if (accept(U'^')) negated = !negated;
    std::string name;
    while (!at_end() && peek() != U'}') {
      if (peek() >= 0x80) fail("bad property name");
      name.push_back(static_cast<char>(src_[pos_++]));
    }
    if (!accept(U'}')) fail("missing '}' after \\p{" + name);
    static const std::unordered_map<std::string, uint32_t> kCategories = [] {
      auto bits = [](std::initializer_list<ut::GeneralCategory> list) {
        uint32_t mask = 0;
        for (auto c : list) mask |= 1u << c;
        return mask;
      };
      const char* names[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
                             "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
      std::unordered_map<std::string, uint32_t> map;
      for (int i = 0; i < ut::kCategoryCount; ++i) map[names[i]] = 1u << i;
      const uint32_t letter = bits({ut::kLu, ut::kLl, ut::kLt, ut::kLm, ut::kLo});
      const uint32_t mark = bits({ut::kMn, ut::kMc, ut::kMe});
      const uint32_t number = bits({ut::kNd, ut::kNl, ut::kNo});
      const uint32_t punctuation = bits({ut::kPc, ut::kPd, ut::kPs, ut::kPe, ut::kPi, ut::kPf, ut::kPo});
      const uint32_t symbol = bits({ut::kSm, ut::kSc, ut::kSk, ut::kSo});
      const uint32_t separator = bits({ut::kZs, ut::kZl, ut::kZp});
      const uint32_t other = bits({ut::kCc, ut::kCf, ut::kCs, ut::kCo, ut::kCn});
      struct Alias {
        const char* names[3];
        uint32_t mask;
      };
      const Alias aliases[] = {
          {{"L", "Letter"}, letter},
          {{"M", "Mark", "Combining_Mark"}, mark},
          {{"N", "Number"}, number},
          {{"P", "Punctuation", "punct"}, punctuation},
          {{"S", "Symbol"}, symbol},
          {{"Z", "Separator"}, separator},
          {{"C", "Other"}, other},
          {{"LC", "L&", "Cased_Letter"}, bits({ut::kLu, ut::kLl, ut::kLt})},
          {{"Lowercase_Letter"}, bits({ut::kLl})},
          {{"Uppercase_Letter"}, bits({ut::kLu})},
          {{"Titlecase_Letter"}, bits({ut::kLt})},
          {{"Modifier_Letter"}, bits({ut::kLm})},
          {{"Other_Letter"}, bits({ut::kLo})},
          {{"Nonspacing_Mark"}, bits({ut::kMn})},
          {{"Decimal_Number", "digit"}, bits({ut::kNd})},
          {{"Space_Separator"}, bits({ut::kZs})},
          {{"Control", "cntrl"}, bits({ut::kCc})},
      };
      for (const auto& alias : aliases) {
        for (const char* n : alias.names) {
          if (n != nullptr) map[n] = alias.mask;
        }
      }
      return map;
    }();
    const auto it = kCategories.find(name);
    if (it == kCategories.end()) fail("property \\p{" + name + "} is not supported (general categories only)");
    return {ClassItem::kCategories, negated, 0, 0, it->second};
  }

  std::string_view regex_;
  std::vector<CharClass>& classes_;
  std::u32string src_;
  size_t pos_ = 0;
};

// Continuation of a match: what must still match after the current node.
struct Cont {
  enum Kind : uint8_t { kSequenceRest, kRepeatIteration };
  Kind kind;
  const Node* node;  // the sequence or the repeat
  size_t index;      // kSequenceRest: next child; kRepeatIteration: iterations done so far
  size_t start;      // kRepeatIteration: where this iteration started
  const Cont* next;
};

// Backtracking matcher over the code points of one text.
class Matcher {
 public:
  // Repeated groups recurse once per iteration; past this depth the match is abandoned with an
  // error rather than overflowing the stack.
  static constexpr int kMaxDepth = 20000;

  Matcher(const std::vector<CharClass>& classes, const std::vector<char32_t>& cps, std::string_view regex)
      : classes_(classes), cps_(cps), regex_(regex) {}

  // Matches `node` at `pos`; on success, end() is where the whole match ends.
  bool match(const Node& node, size_t pos) { return run(node, pos, nullptr); }
  size_t end() const { return end_; }

 private:
  bool next(size_t pos, const Cont* k) {
    if (k == nullptr) {
      end_ = pos;
      return true;
    }
    if (k->kind == Cont::kSequenceRest) return run_sequence(*k->node, k->index, pos, k->next);
    // An iteration of a repeat ended at pos. An empty iteration ends the loop (as Oniguruma does).
    if (pos == k->start) return k->index >= static_cast<size_t>(k->node->min) && next(pos, k->next);
    return repeat(*k->node, k->index, pos, k->next);
  }

  bool run_sequence(const Node& sequence, size_t index, size_t pos, const Cont* k) {
    if (index == sequence.children.size()) return next(pos, k);
    if (index + 1 == sequence.children.size()) return run(sequence.children[index], pos, k);
    const Cont rest{Cont::kSequenceRest, &sequence, index + 1, 0, k};
    return run(sequence.children[index], pos, &rest);
  }

  bool repeat(const Node& node, size_t done, size_t pos, const Cont* k) {
    const bool can_more = node.max < 0 || done < static_cast<size_t>(node.max);
    auto more = [&] {
      if (!can_more) return false;
      const Cont iteration{Cont::kRepeatIteration, &node, done + 1, pos, k};
      return run(node.children[0], pos, &iteration);
    };
    auto stop = [&] { return done >= static_cast<size_t>(node.min) && next(pos, k); };
    return node.greedy ? (more() || stop()) : (stop() || more());
  }

  struct DepthGuard {
    Matcher& matcher;
    explicit DepthGuard(Matcher& m) : matcher(m) {
      if (++matcher.depth_ > kMaxDepth) {
        throw Error("pre-tokenizer Split regex '" + std::string(matcher.regex_) +
                    "' needs too deep backtracking on this text (a repeated group matched over " +
                    std::to_string(kMaxDepth) + " levels)");
      }
    }
    ~DepthGuard() { --matcher.depth_; }
  };

  bool run(const Node& node, size_t pos, const Cont* k) {
    const DepthGuard guard(*this);
    switch (node.kind) {
      case Node::kClass:
        return pos < cps_.size() && classes_[node.char_class].matches(cps_[pos]) && next(pos + 1, k);
      case Node::kSequence:
        return run_sequence(node, 0, pos, k);
      case Node::kAlternation:
        for (const auto& child : node.children) {
          if (run(child, pos, k)) return true;
        }
        return false;
      case Node::kLookahead: {
        Matcher inner(classes_, cps_, regex_);
        inner.depth_ = depth_;
        if (inner.run(node.children[0], pos, nullptr) == node.negative) return false;
        return next(pos, k);
      }
      case Node::kRepeat: {
        const Node& child = node.children[0];
        if (child.kind != Node::kClass) return repeat(node, 0, pos, k);
        // One character per iteration: count the run once, then try lengths without recursion.
        const auto& char_class = classes_[child.char_class];
        const size_t limit = node.max < 0 ? cps_.size() - pos : std::min<size_t>(node.max, cps_.size() - pos);
        size_t count = 0;
        while (count < limit && char_class.matches(cps_[pos + count])) ++count;
        const auto min = static_cast<size_t>(node.min);
        if (count < min) return false;
        if (node.greedy) {
          for (size_t n = count + 1; n-- > min;) {
            if (next(pos + n, k)) return true;
          }
        } else {
          for (size_t n = min; n <= count; ++n) {
            if (next(pos + n, k)) return true;
          }
        }
        return false;
      }
    }
    return false;
  }

  const std::vector<CharClass>& classes_;
  const std::vector<char32_t>& cps_;
  std::string_view regex_;
  size_t end_ = 0;
  int depth_ = 0;
};

class BacktrackingSplitPattern final : public SplitPattern {
 public:
  explicit BacktrackingSplitPattern(std::string_view regex) : regex_(regex) {
    Parser parser(regex, classes_);
    root_ = parser.parse();
    if (min_length(root_) == 0) parser.fail("it can match the empty string");
  }

  void split(std::string_view text, std::vector<std::string_view>& pieces) const override {
    // Code points and the byte offset of each (bytes that are not UTF-8 count one each).
    std::vector<char32_t> cps;
    std::vector<size_t> offsets;
    cps.reserve(text.size());
    offsets.reserve(text.size() + 1);
    const char* begin = text.data();
    const char* end = begin + text.size();
    for (const char* p = begin; p < end;) {
      int length = 0;
      cps.push_back(unicode::decode_utf8(p, end, &length));
      offsets.push_back(static_cast<size_t>(p - begin));
      p += length;
    }
    offsets.push_back(text.size());
    Matcher matcher(classes_, cps, regex_);
    size_t gap = 0;
    for (size_t pos = 0; pos < cps.size();) {
      if (!matcher.match(root_, pos)) {
        ++pos;
        continue;
      }
      if (gap < pos) pieces.push_back(text.substr(offsets[gap], offsets[pos] - offsets[gap]));
      pieces.push_back(text.substr(offsets[pos], offsets[matcher.end()] - offsets[pos]));
      pos = gap = matcher.end();
    }
    if (gap < cps.size()) pieces.push_back(text.substr(offsets[gap]));
  }

  std::string_view regex() const override { return regex_; }

 private:
  std::string regex_;
  std::vector<CharClass> classes_;
  Node root_;
};

}  // namespace

std::unique_ptr<SplitPattern> compile_backtracking_split(std::string_view regex) {
  return std::make_unique<BacktrackingSplitPattern>(regex);
}

}  // namespace mcpp::data
