#include <catch2/catch.hpp>

#include "test/preprocess/preprocess_support.h"

namespace fs = std::filesystem;
using mcpp::test::quoted;
using mcpp::test::write_text;

namespace {

mcpp::test::RunResult preprocess(const fs::path& dir, const std::string& extra = "") {
  return mcpp::test::run(mcpp::test::quoted(mcpp::test::program("preprocess")) + " --input " +
                         quoted(dir / "in.jsonl") + " --output-prefix " + quoted(dir / "out") +
                         " --tokenizer-type NullTokenizer --vocab-size 100 --append-eod "
                         "--workers 2 --log-interval 1 " + extra);
}

const std::string kGood = "{\"text\": \"1 2\"}\n";

}  // namespace

TEST_CASE("bad input lines stop preprocess with file:line and leave no output") {
  struct Case {
    std::string line;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"{\"text\": \"1 2\"", "expected ',' or '}'"},
      {"{\"text\": \"1 2\"} x", "extra data"},
      {"[\"1 2\"]", "expected a JSON object"},
      {"", "empty line"},
      {"{\"txt\": \"1 2\"}", "no key 'text'"},
      {"{\"text\": 12}", "holds a number, not a string"},
      {"{\"text\": null}", "holds null"},
      {"{\"text\": [\"1\", 2]}", "list element 1 is a number"},
      {"{\"text\": \"1 \xff\"}", "invalid UTF-8"},
      {"{\"text\": \"1 \xed\xa0\x80\"}", "invalid UTF-8"},  // an encoded surrogate
      {"{\"text\": \"\\ud800 x\"}", "lone UTF-16 high surrogate"},
      {"{\"text\": \"\\udc00\"}", "lone UTF-16 low surrogate"},
      {"{\"text\": \"\\ud800\\u0041\"}", "lone UTF-16 high surrogate"},
      {"{\"text\": \"a\tb\"}", "raw control character"},
      {"{\"text\": \"\\q\"}", "invalid escape"},
      {"{\"text\": \"1 2\", \"n\": 01}", "expected ',' or '}'"},
      {"{\"text\": \"1 x\"}", "'x' is not an integer id"},
      {"{\"text\": \"1 100\"}", "out of range"},
  };
  for (const Case& c : cases) {
    fs::path dir = mcpp::test::scratch_dir("bad-input");
    write_text(dir / "in.jsonl", kGood + kGood + c.line + "\n" + kGood);
    auto result = preprocess(dir);
    INFO("line: " << c.line << "\noutput: " << result.output);
    CHECK(result.exit_code == 1);
    const std::string expected_start = "error: " + (dir / "in.jsonl").string() + ":3: ";
    CHECK(result.output.find(expected_start) != std::string::npos);
    CHECK(result.output.find(c.what) != std::string::npos);
    // The error is one line (progress lines may precede it).
    auto at = result.output.find("error: ");
    CHECK(result.output.find('\n', at) == result.output.size() - 1);
    CHECK(mcpp::test::files_in(dir) == std::vector<std::string>{"in.jsonl"});
  }
}

TEST_CASE("skip-invalid drops bad lines, counts them and keeps the rest") {
  fs::path dir = mcpp::test::scratch_dir("bad-input");
  write_text(dir / "in.jsonl", "{\"text\": \"1 2\"}\n{\"text\": 5}\n\n{\"text\": \"3\"}\n{\"x\": 1}\n");
  auto result = preprocess(dir, "--skip-invalid");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("Skipped 3 invalid lines; the first: " + (dir / "in.jsonl").string() +
                           ":2: ") != std::string::npos);
  CHECK(mcpp::test::read_documents((dir / "out_text_document").string()) ==
        mcpp::test::Documents{{{1, 2, 99}}, {{3, 99}}});
  // --log-interval 1: one progress line per document written, then the summary.
  CHECK(result.output.find("Processed 1 documents (") != std::string::npos);
  CHECK(result.output.find("Processed 2 documents (") != std::string::npos);
  CHECK(result.output.find("Processed 3 documents") == std::string::npos);
  CHECK(result.output.find("Done: 2 documents, 5 tokens") != std::string::npos);
}

TEST_CASE("preprocess flags: Megatron's unsupported ones and bad values are rejected clearly") {
  fs::path dir = mcpp::test::scratch_dir("bad-input");
  write_text(dir / "in.jsonl", kGood);
  struct Case {
    std::string flags;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"--split-sentences", "--split-sentences: NLTK sentence splitting is not supported"},
      {"--lang english", "--lang: it only applies to --split-sentences"},
      {"--keep-newlines", "--keep-newlines"},
      {"--find-optimal-num-workers", "benchmark mode"},
      {"--partitions 3", "not divisible by --partitions 3"},
      {"--json-keys text text", "listed twice"},
      {"--vocab-extra-ids 3", "--vocab-extra-ids"},
      {"--no-such-flag", "no-such-flag"},
  };
  for (const Case& c : cases) {
    auto result = preprocess(dir, c.flags);
    INFO(c.flags << "\n" << result.output);
    CHECK(result.exit_code == 1);
    CHECK(result.output.rfind("error: ", 0) == 0);
    CHECK(result.output.find(c.what) != std::string::npos);
  }
  auto missing = mcpp::test::run(mcpp::test::quoted(mcpp::test::program("preprocess")) +
                                 " --input " + quoted(dir / "nope.jsonl") + " --output-prefix " +
                                 quoted(dir / "o") +
                                 " --tokenizer-type NullTokenizer --vocab-size 10 --workers 1");
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("nope.jsonl: no such file") != std::string::npos);
  CHECK(mcpp::test::files_in(dir) == std::vector<std::string>{"in.jsonl"});
}
