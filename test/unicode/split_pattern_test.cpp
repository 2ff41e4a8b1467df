#include <catch2/catch.hpp>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "data/tokenizers/split_pattern.h"
#include "data/unicode/normalize.h"
#include "test/common/test_support.h"
#include "test/unicode/unicode_test_support.h"

using mcpp::data::SplitPattern;

namespace {

std::vector<std::string> split(const SplitPattern& pattern, std::string_view text) {
  std::vector<std::string_view> pieces;
  pattern.split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

std::vector<std::string> texts_of_jsonl(const std::vector<std::string>& lines) {
  std::vector<std::string> texts;
  for (const auto& line : lines) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return texts;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string fixture(const std::string& name) {
  return (mcpp::test::source_dir() / "test" / "fixtures" / "unicode" / name).string();
}

std::vector<std::string> texts_named(const std::string& name) {
  if (name == "random") return texts_of_jsonl(mcpp::test::read_gzip_lines(fixture("random-strings.jsonl.gz")));
  return texts_of_jsonl(read_lines(mcpp::test::data_file("text/" + name + ".jsonl").string()));
}

// Compares our split of every document with Hugging Face's (piece byte lengths in the fixture).
void check_parity(const std::string& tokenizer, std::string_view regex, bool nfc) {
  const auto pattern = SplitPattern::compile(regex);
  for (const std::string text_name : {"fortunes", "unicode-1", "random"}) {
    const auto texts = texts_named(text_name);
    const auto expected = mcpp::test::read_gzip_lines(fixture("split-" + text_name + "." + tokenizer + ".jsonl.gz"));
    REQUIRE(texts.size() == expected.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      auto row = nlohmann::json::parse(expected[i]);
      std::string text = texts[i];
      if (nfc) {
        text = mcpp::data::unicode::huggingface_nfc(text);
        const auto crc = crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
        if (crc != row.at("nfc_crc32").get<uint32_t>() && ++mismatches <= 3) {
          FAIL_CHECK(text_name << " line " << i + 1 << ": NFC differs from Hugging Face's");
        }
        row = row.at("lengths");
      }
      std::vector<std::string> want;
      size_t offset = 0;
      for (const auto& length : row) {
        want.push_back(text.substr(offset, length.get<size_t>()));
        offset += length.get<size_t>();
      }
      const auto got = split(*pattern, text);
      if (got != want && ++mismatches <= 3) {
        INFO(text_name << " line " << i + 1 << ": " << nlohmann::json(text).dump());
        CHECK(got == want);
      }
    }
    INFO(tokenizer << " on " << text_name);
    CHECK(mismatches == 0);
  }
}

}  // namespace

TEST_CASE("GPT-2 ByteLevel split matches Hugging Face tokenizers") {
  check_parity("gpt2", mcpp::data::gpt2_split_regex(), false);
}

TEST_CASE("Llama-3 Split regex matches Hugging Face tokenizers") {
  const std::string json = mcpp::test::read_file(mcpp::test::gunzipped_data_file("tokenizers/llama3/tokenizer.json.gz"));
  const auto spec = nlohmann::json::parse(json);
  const std::string regex = spec.at("pre_tokenizer").at("pretokenizers").at(0).at("pattern").at("Regex");
  check_parity("llama3", regex, false);
}

TEST_CASE("Qwen2.5 NFC + Split regex matches Hugging Face tokenizers") {
  const std::string json = mcpp::test::read_file(mcpp::test::gunzipped_data_file("tokenizers/qwen2.5/tokenizer.json.gz"));
  const auto spec = nlohmann::json::parse(json);
  REQUIRE(spec.at("normalizer").at("type") == "NFC");
  const std::string regex = spec.at("pre_tokenizer").at("pretokenizers").at(0).at("pattern").at("Regex");
  check_parity("qwen2.5", regex, true);
}

TEST_CASE("split patterns on hand-picked cases") {
  const auto gpt2 = SplitPattern::compile(mcpp::data::gpt2_split_regex());
  using V = std::vector<std::string>;
  CHECK(split(*gpt2, "") == V{});
  CHECK(split(*gpt2, "Hello world's   end  \n") == V{"Hello", " world", "'s", "  ", " end", "  \n"});
  CHECK(split(*gpt2, "I'LL x123 ??!") == V{"I", "'", "LL", " x", "123", " ??!"});
  const auto llama3 = SplitPattern::compile(mcpp::data::llama3_split_regex());
  CHECK(split(*llama3, "I'LL 12345\r\n\n  x") == V{"I", "'LL", " ", "123", "45", "\r\n\n", " ", " x"});
  CHECK(split(*llama3, "it\xC5\xBF ok'\xC5\xBF") == V{"it\xC5\xBF", " ok", "'\xC5\xBF"});
  const auto qwen = SplitPattern::compile(mcpp::data::qwen2_split_regex());
  CHECK(split(*qwen, "x=42;\n") == V{"x", "=", "4", "2", ";\n"});
  // Invalid UTF-8 bytes are kept (as characters of no class) so the pieces still cover the text.
  CHECK(split(*gpt2, "a\xFF\xFE b") == V{"a", "\xFF\xFE", " b"});
}

TEST_CASE("unsupported split regexes are rejected by name") {
  CHECK_THROWS_AS(SplitPattern::compile("\\w+"), mcpp::Error);
  CHECK_THROWS_WITH(SplitPattern::compile("(?<=x)y"), Catch::Contains("(?<=x)y"));
}

// Not run by default (hidden tag): `test_unicode "[benchmark]"` prints pre-tokenization speed.
TEST_CASE("split throughput", "[.][benchmark]") {
  std::string corpus;
  for (const auto& text : texts_named("fortunes")) corpus += text;
  std::string unicode_corpus;
  for (const auto& text : texts_named("unicode-1")) unicode_corpus += text;
  for (const auto regex : {mcpp::data::gpt2_split_regex(), mcpp::data::llama3_split_regex()}) {
    const auto pattern = SplitPattern::compile(regex);
    for (const std::string* text : {&corpus, &unicode_corpus}) {
      std::vector<std::string_view> pieces;
      const auto start = std::chrono::steady_clock::now();
      constexpr int kRounds = 10;
      for (int round = 0; round < kRounds; ++round) {
        pieces.clear();
        pattern->split(*text, pieces);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      WARN(regex.substr(0, 12) << (text == &corpus ? " fortunes: " : " unicode-1: ")
                               << kRounds * text->size() / seconds / 1e6 << " MB/s");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (int round = 0; round < 10; ++round) bytes += mcpp::data::unicode::huggingface_nfc(unicode_corpus).size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("huggingface_nfc unicode-1: " << bytes / seconds / 1e6 << " MB/s");
  const auto start2 = std::chrono::steady_clock::now();
  for (int round = 0; round < 10; ++round) bytes += mcpp::data::unicode::huggingface_nfc(corpus).size();
  WARN("huggingface_nfc fortunes: " << 10 * corpus.size() / std::chrono::duration<double>(std::chrono::steady_clock::now() - start2).count() / 1e6 << " MB/s");
}
