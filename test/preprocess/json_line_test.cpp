#include <catch2/catch.hpp>

#include "core/base/error.h"
#include "data/preprocess/json_line.h"

using mcpp::data::JsonLineParser;

namespace {

std::vector<std::string> texts(JsonLineParser& parser, std::string_view line, size_t key = 0) {
  parser.parse(line);
  return {parser.sentences(key).begin(), parser.sentences(key).end()};
}

}  // namespace

TEST_CASE("JSON strings are unescaped like Python's json.loads") {
  JsonLineParser parser({"text"});
  CHECK(texts(parser, R"({"text": "a\"b\\c\/d\b\f\n\r\t"})") ==
        std::vector<std::string>{"a\"b\\c/d\b\f\n\r\t"});
  // BMP escapes, a surrogate pair (U+1F600) and raw UTF-8 mixed.
  CHECK(texts(parser, R"({"text": "\u00e9\u20AC\ud83d\ude00 é😀"})") ==
        std::vector<std::string>{"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9\xf0\x9f\x98\x80"});
  CHECK(texts(parser, R"({"text": "\u0000"})") == std::vector<std::string>{std::string(1, '\0')});
  CHECK(texts(parser, R"(  {"text":["a","",  "b"]}  )") ==
        std::vector<std::string>{"a", "", "b"});
  CHECK(texts(parser, R"({"text": []})").empty());
}

TEST_CASE("JSON lines: other values are validated and skipped, the last duplicate key wins") {
  JsonLineParser parser({"a", "b"});
  parser.parse(
      R"({"x": {"y": [1, -2.5e+3, 0, true, false, null, NaN, Infinity, -Infinity, {}, []]},)"
      R"( "a": "first", "b": ["1", "2"], "a": "second"})");
  CHECK(std::vector<std::string>(parser.sentences(0).begin(), parser.sentences(0).end()) ==
        std::vector<std::string>{"second"});
  CHECK(parser.sentences(1).size() == 2);
}

TEST_CASE("JSON lines: malformed input is reported with its column") {
  JsonLineParser parser({"text"});
  auto error = [&](std::string_view line) {
    try {
      parser.parse(line);
    } catch (const mcpp::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error(R"({"text": "a",})") == "expected a key after ',' at column 14");
  CHECK(error(R"({"text": "a" "b"})").find("expected ',' or '}'") == 0);
  CHECK(error(R"({"text": tru})").find("invalid value") == 0);
  CHECK(error(R"({"text": "a", "n": 1.})").find("invalid number") == 0);
  CHECK(error(R"({"text": "a", "n": -})").find("invalid value") == 0);
  CHECK(error(R"({"text": "\u12"})").find("invalid \\u escape") == 0);
  CHECK(error(R"({"text": "\ude00\ud83d"})").find("lone UTF-16 low surrogate") == 0);
  CHECK(error("{\"text\": \"a\xc0\x80\"}").find("invalid UTF-8") == 0);      // overlong
  CHECK(error("{\"text\": \"a\xf4\x90\x80\x80\"}").find("invalid UTF-8") == 0);  // > U+10FFFF
  CHECK(error("{\"text\": \"a\xe2\x82\"}").find("invalid UTF-8") == 0);      // truncated
  CHECK(error("\xef\xbb\xbf{\"text\": \"a\"}").find("expected a JSON object") == 0);  // BOM
  CHECK(error(R"({"text": {"a": "b"}})") ==
        "key 'text' holds an object, not a string or a list of strings at column 10");
  CHECK(error(R"({"text": ["a", ["b"]]})") ==
        "key 'text': list element 1 is a list, not a string at column 16");
  CHECK(error(R"({"text": ["a" "b"]})").find("expected ',' or ']'") == 0);
  CHECK(error(std::string(1000, '[')).find("expected a JSON object") == 0);
  CHECK(error("{\"x\": " + std::string(1000, '[')).find("nesting too deep") == 0);
  CHECK(error(R"({"other": 1})") == "no key 'text' in the JSON object");
}

TEST_CASE("JSON lines: trailing commas and empty containers") {
  JsonLineParser parser({"text"});
  CHECK_NOTHROW(parser.parse(R"({"x": {}, "y": [], "z": [{}, []], "text": "a"})"));
  CHECK_THROWS_WITH(parser.parse(R"({"text": "a", "x": [1,]})"),
                    Catch::StartsWith("expected a value after ','"));
  CHECK_THROWS_WITH(parser.parse(R"({"text": "a", "x": {"a": 1,}})"),
                    Catch::StartsWith("expected a key after ','"));
  CHECK_THROWS_WITH(parser.parse(R"({"text": ["a",]})"),
                    Catch::StartsWith("expected a value after ','"));
  CHECK_THROWS_WITH(parser.parse(R"({"text": "a", "x": {"a" 1}})"),
                    Catch::StartsWith("expected ':' after a key"));
  CHECK_THROWS_WITH(parser.parse(R"({,"text": "a"})"), Catch::StartsWith("expected '\"'"));
}

TEST_CASE("JSON lines: lone surrogates are errors only in the texts, as with Python") {
  JsonLineParser parser({"text"});
  CHECK(texts(parser, R"({"k\ud800": "\udc00", "x": ["\ud800\u0041"], "text": "ok"})") ==
        std::vector<std::string>{"ok"});
  CHECK_THROWS_WITH(parser.parse(R"({"text": ["ok", "a\ud83d\u0041"]})"),
                    "lone UTF-16 high surrogate in a \\u escape (not valid Unicode) at column 19");
  CHECK_THROWS_WITH(parser.parse(R"({"text": "\ud83d\ud83d\ude00"})"),
                    Catch::StartsWith("lone UTF-16 high surrogate"));
  CHECK(texts(parser, R"({"text": "\ud83d\ude00\uD83D\uDE00"})") ==
        std::vector<std::string>{"\xf0\x9f\x98\x80\xf0\x9f\x98\x80"});
}
