// Every document of the test texts must give exactly the ids Hugging Face `tokenizers` gives,
// and decoding must give the text back where Hugging Face does.
#include <catch2/catch.hpp>

#include <sstream>

#include "tokenizer_fixtures.h"

using mcpp::data::Tokenizer;
using mcpp::test::fixture_ids;
using mcpp::test::texts;

namespace {

std::string show(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (size_t i = 0; i < ids.size() && i < 40; ++i) s << (i ? " " : "") << ids[i];
  if (ids.size() > 40) s << " ...";
  return s.str();
}

// Compares every document; reports the first few that differ.
void expect_fixture_ids(const Tokenizer& tokenizer, const std::string& text, const std::string& fixture) {
  const auto& docs = texts(text);
  const auto expected = fixture_ids(text, fixture);
  REQUIRE(docs.size() == expected.size());
  size_t mismatches = 0;
  std::vector<int32_t> ids;
  for (size_t i = 0; i < docs.size(); ++i) {
    ids.clear();
    tokenizer.encode(docs[i], ids);
    if (ids == expected[i]) continue;
    if (++mismatches <= 3) {
      INFO(text << " document " << i << ": " << docs[i].substr(0, 120));
      INFO("expected: " << show(expected[i]));
      INFO("got:      " << show(ids));
      CHECK(ids == expected[i]);
    }
  }
  INFO(fixture << " on " << text);
  CHECK(mismatches == 0);
}

// Byte-level BPE loses nothing: decode(encode(text)) == text.
void expect_round_trip(const Tokenizer& tokenizer, const std::string& text) {
  size_t mismatches = 0;
  for (const std::string& doc : texts(text)) {
    std::string back = tokenizer.decode(tokenizer.encode(doc));
    if (back == doc) continue;
    if (++mismatches <= 3) {
      INFO("document: " << doc.substr(0, 120));
      CHECK(back == doc);
    }
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("GPT2BPETokenizer (vocab.json + merges.txt) gives Hugging Face's GPT-2 ids") {
  auto tokenizer = mcpp::test::gpt2_bpe_tokenizer();
  expect_fixture_ids(*tokenizer, "fortunes", "gpt2");
  expect_fixture_ids(*tokenizer, "unicode-1", "gpt2");
  expect_round_trip(*tokenizer, "unicode-1");
  CHECK(tokenizer->eod() == 50256);
  CHECK(tokenizer->vocab_size() == 50257);
  CHECK(tokenizer->encode("<|endoftext|>") == std::vector<int32_t>{50256});
}

TEST_CASE("HuggingFaceTokenizer gpt2 gives Hugging Face's ids") {
  auto tokenizer = mcpp::test::hf_tokenizer("gpt2");
  expect_fixture_ids(*tokenizer, "fortunes", "gpt2");
  expect_fixture_ids(*tokenizer, "unicode-1", "gpt2");
  expect_round_trip(*tokenizer, "fortunes");
  CHECK(tokenizer->eod() == 50256);
  CHECK(tokenizer->vocab_size() == 50257);
}

TEST_CASE("HuggingFaceTokenizer llama3 gives Hugging Face's ids") {
  auto tokenizer = mcpp::test::hf_tokenizer("llama3");
  expect_fixture_ids(*tokenizer, "fortunes", "llama3");
  expect_fixture_ids(*tokenizer, "unicode-1", "llama3");
  expect_round_trip(*tokenizer, "unicode-1");
  CHECK(tokenizer->eod() == 128001);  // <|end_of_text|>
  CHECK(tokenizer->vocab_size() == 128256);
  CHECK(tokenizer->encode("<|begin_of_text|>hi") == std::vector<int32_t>{128000, 6151});
}

TEST_CASE("HuggingFaceTokenizer qwen2.5 gives Hugging Face's ids") {
  auto tokenizer = mcpp::test::hf_tokenizer("qwen2.5");
  expect_fixture_ids(*tokenizer, "fortunes", "qwen2.5");
  expect_fixture_ids(*tokenizer, "unicode-1", "qwen2.5");
  CHECK(tokenizer->eod() == 151645);  // <|im_end|>
  CHECK(tokenizer->pad() == std::optional<int32_t>(151643));
  CHECK(tokenizer->vocab_size() == 151665);
  // NFC: decomposed e + combining acute encodes like the precomposed letter.
  CHECK(tokenizer->encode("caf\xC3\xA9") == tokenizer->encode("cafe\xCC\x81"));
  // Hugging Face's NFC uses Unicode 9.0 data: U+1DF7 (Unicode 10) is not reordered before U+0301.
  const std::string marks = "x\xCC\x81\xE1\xB7\xB7";
  CHECK(tokenizer->decode(tokenizer->encode(marks)) == marks);
}

TEST_CASE("HuggingFaceTokenizer llama2 gives Hugging Face's ids, BOS included") {
  auto tokenizer = mcpp::test::hf_tokenizer("llama2");
  expect_fixture_ids(*tokenizer, "fortunes", "llama2-with-special");
  expect_fixture_ids(*tokenizer, "unicode-1", "llama2-with-special");
  CHECK(tokenizer->eod() == 2);  // </s>
  CHECK(tokenizer->vocab_size() == 32000);
  CHECK(tokenizer->encode("") == std::vector<int32_t>{1});
  // Ids from Hugging Face: "▁" inside the text, leading spaces, an added token mid-text (each
  // stretch gets its own "▁" prefix), a character outside ASCII before "▁▁".
  using Ids = std::vector<int32_t>;
  CHECK(tokenizer->encode("a\xE2\x96\x81" "b") == Ids{1, 264, 287});
  CHECK(tokenizer->encode("\xE2\x96\x81") == Ids{1, 259});
  CHECK(tokenizer->encode("  I.") == Ids{1, 259, 315, 28723});
  CHECK(tokenizer->encode("a<s>b") == Ids{1, 264, 1, 287});
  CHECK(tokenizer->encode("\xF0\x9F\x98\x80\xE2\x96\x81\xE2\x96\x81x") == Ids{1, 28705, 30575, 28705, 1318});
}

TEST_CASE("HuggingFaceTokenizer llama2 decodes the fixtures as Hugging Face does") {
  // Hugging Face decodes these ids to "<s> " + text, and without the BOS to the text itself
  // (Replace "▁" -> " ", ByteFallback, Fuse, Strip one leading space).
  auto tokenizer = mcpp::test::hf_tokenizer("llama2");
  for (const std::string text : {"fortunes", "unicode-1"}) {
    const auto& docs = texts(text);
    const auto ids = fixture_ids(text, "llama2-with-special");
    size_t mismatches = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
      std::string with_bos = tokenizer->decode(ids[i]);
      std::string without = tokenizer->decode(std::span<const int32_t>(ids[i]).subspan(1));
      bool ok = with_bos == (docs[i].empty() ? "<s>" : "<s> " + docs[i]) && without == docs[i];
      if (!ok && ++mismatches <= 3) {
        INFO(text << " document " << i << ": " << docs[i].substr(0, 120));
        CHECK(without == docs[i]);
      }
    }
    CHECK(mismatches == 0);
  }
  // Byte-fallback tokens that are not valid UTF-8 become U+FFFD, one per byte.
  const std::vector<int32_t> lone_bytes{0xE2 + 3, 0x82 + 3};  // <0xE2> <0x82>
  CHECK(tokenizer->decode(lone_bytes) == "\xEF\xBF\xBD\xEF\xBF\xBD");
}
