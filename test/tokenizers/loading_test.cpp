// Loading: bad or unsupported files give one-line mcpp::Error messages naming the file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/base/error.h"
#include "data/tokenizers/tokenizer.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using mcpp::data::make_tokenizer;
using mcpp::data::TokenizerOptions;

namespace {

fs::path write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Runs make_tokenizer and returns the mcpp::Error message ("" when it succeeded).
std::string load_error(const TokenizerOptions& options) {
  try {
    make_tokenizer(options);
  } catch (const mcpp::Error& e) {
    std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);  // one line
    return message;
  }
  return "";
}

TokenizerOptions gpt2_files(const fs::path& vocab, const fs::path& merges) {
  TokenizerOptions o;
  o.type = "GPT2BPETokenizer";
  o.vocab_file = vocab.string();
  o.merge_file = merges.string();
  return o;
}

TokenizerOptions hf(const fs::path& model) {
  TokenizerOptions o;
  o.type = "HuggingFaceTokenizer";
  o.tokenizer_model = model.string();
  return o;
}

const std::string kTinyVocab = R"({"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3})";

std::string tiny_tokenizer_json(const std::string& model_type, const std::string& pre_tokenizer,
                                const std::string& decoder = "null") {
  return R"({"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": )" +
         pre_tokenizer + R"(, "post_processor": null, "decoder": )" + decoder +
         R"(, "model": {"type": ")" + model_type +
         R"(", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})";
}

}  // namespace

TEST_CASE("GPT2BPETokenizer file errors name the file") {
  fs::path dir = mcpp::test::scratch_dir("gpt2-errors");
  fs::path vocab = write(dir / "vocab.json", kTinyVocab);
  fs::path merges = write(dir / "merges.txt", "#version: 0.2\na b\n");

  SECTION("a tiny valid pair loads and merges") {
    auto t = make_tokenizer(gpt2_files(vocab, merges));
    CHECK(t->encode("ab") == std::vector<int32_t>{2});
    CHECK(t->eod() == 3);
    CHECK(t->vocab_size() == 4);
    CHECK_THAT(t->description(), Catch::Contains("\"class\":\"GPT2BPETokenizer\"") &&
                                     Catch::Contains("vocab.json") && Catch::Contains("merges.txt"));
  }
  SECTION("missing vocab") {
    std::string m = load_error(gpt2_files(dir / "nope.json", merges));
    CHECK_THAT(m, Catch::Contains("nope.json") && Catch::Contains("--vocab-file"));
  }
  SECTION("malformed vocab") {
    write(vocab, "{\"a\": 0,");
    CHECK_THAT(load_error(gpt2_files(vocab, merges)), Catch::Contains("vocab.json: not valid JSON"));
  }
  SECTION("vocab without <|endoftext|>") {
    write(vocab, R"({"a": 0, "b": 1, "ab": 2})");
    CHECK_THAT(load_error(gpt2_files(vocab, merges)), Catch::Contains("<|endoftext|>"));
  }
  SECTION("malformed merges line") {
    write(merges, "#version: 0.2\na b\nab\n");
    CHECK_THAT(load_error(gpt2_files(vocab, merges)), Catch::Contains("merges.txt:3:"));
  }
  SECTION("merge with a token missing from the vocab") {
    write(merges, "#version: 0.2\na c\n");
    CHECK_THAT(load_error(gpt2_files(vocab, merges)),
               Catch::Contains("merges.txt") && Catch::Contains("merge 1 'a c'"));
  }
  SECTION("missing flags") {
    CHECK_THAT(load_error(gpt2_files("", merges)), Catch::Contains("--vocab-file"));
    CHECK_THAT(load_error(gpt2_files(vocab, "")), Catch::Contains("--merge-file"));
  }
}

TEST_CASE("HuggingFaceTokenizer file errors name the file") {
  fs::path dir = mcpp::test::scratch_dir("hf-errors");
  fs::path json = dir / "tokenizer.json";

  SECTION("a directory without tokenizer.json") {
    CHECK_THAT(load_error(hf(dir)), Catch::Contains("no tokenizer.json"));
  }
  SECTION("not JSON") {
    write(json, "{\"model\": ");
    CHECK_THAT(load_error(hf(dir)), Catch::Contains("tokenizer.json: not valid JSON"));
  }
  SECTION("malformed vocab") {
    write(json, R"({"model": {"type": "BPE", "vocab": 5, "merges": []}})");
    CHECK_THAT(load_error(hf(json)), Catch::Contains("tokenizer.json") && Catch::Contains("vocab"));
  }
  SECTION("unsupported model type") {
    write(json, tiny_tokenizer_json("WordPiece", "null"));
    CHECK_THAT(load_error(hf(json)), Catch::Contains("model type \"WordPiece\" is not supported"));
  }
  SECTION("unsupported pre-tokenizer") {
    write(json, tiny_tokenizer_json("BPE", R"({"type": "Metaspace", "replacement": "_"})"));
    CHECK_THAT(load_error(hf(json)), Catch::Contains("pre-tokenizer \"Metaspace\" is not supported"));
  }
  SECTION("without tokenizer_config.json: encodes, but has no end-of-document id") {
    write(json, tiny_tokenizer_json("BPE", "null"));
    auto t = make_tokenizer(hf(json));
    CHECK(t->encode("abba") == std::vector<int32_t>{2, 1, 0});
    CHECK(t->decode(std::vector<int32_t>{2, 1}) == "ab b");  // no decoder: joined by spaces
    CHECK_THROWS_WITH(t->eod(), Catch::Contains("tokenizer_config.json"));
  }
  SECTION("an eos_token that is not a token") {
    write(json, tiny_tokenizer_json("BPE", "null"));
    write(dir / "tokenizer_config.json", R"({"eos_token": "</s>"})");
    CHECK_THAT(load_error(hf(dir)), Catch::Contains("tokenizer_config.json: eos_token '</s>'"));
  }
  SECTION("an unsupported decoder fails at decode time only") {
    write(json, tiny_tokenizer_json("BPE", "null", R"({"type": "WordPiece"})"));
    write(dir / "tokenizer_config.json", R"({"eos_token": {"content": "b"}})");
    auto t = make_tokenizer(hf(dir));
    CHECK(t->eod() == 1);
    CHECK(t->encode("ab") == std::vector<int32_t>{2});
    CHECK_THROWS_WITH(t->decode(std::vector<int32_t>{2}), Catch::Contains("decoder \"WordPiece\""));
  }
}

TEST_CASE("make_tokenizer builds NullTokenizer and rejects unknown types") {
  TokenizerOptions o;
  o.type = "NullTokenizer";
  o.vocab_size = 100;
  auto t = make_tokenizer(o);
  CHECK(t->vocab_size() == 100);
  CHECK(t->eod() == 99);
  CHECK(t->encode("5 7") == std::vector<int32_t>{5, 7});
  o.vocab_size.reset();
  CHECK_THAT(load_error(o), Catch::Contains("--vocab-size"));
  o.type = "BertWordPieceCase";
  CHECK_THAT(load_error(o), Catch::Contains("--tokenizer-type BertWordPieceCase"));
}
