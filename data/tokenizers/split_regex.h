#pragma once
// A small backtracking regex engine over code points for the Oniguruma syntax that
// pre-tokenizer Split patterns use. SplitPattern::compile uses it for patterns that have no
// hand-written matcher.
//
// Supported: literals and escapes (\t \n \r \f \v \a \e \xHH \x{H...} \uHHHH, escaped
// punctuation), `.` (anything but \n), classes [...] with ranges and negation, \s \S \d \D \w \W,
// \p{..} \P{..} \p{^..} for general categories (L, Lu, ..., N, Nd, ..., Letter, Number, ...),
// groups (...) (?:...), case-insensitive (?i:...) and (?i) with simple case folding,
// lookahead (?=...) (?!...), alternation, greedy and lazy quantifiers * + ? {n} {n,} {n,m}.
// Everything else (anchors, lookbehind, backreferences, possessive quantifiers, scripts, POSIX
// brackets, patterns that can match the empty string) is rejected with mcpp::Error.
#include <memory>
#include <string_view>

#include "data/tokenizers/split_pattern.h"

namespace mcpp::data {

std::unique_ptr<SplitPattern> compile_backtracking_split(std::string_view regex);

}  // namespace mcpp::data
