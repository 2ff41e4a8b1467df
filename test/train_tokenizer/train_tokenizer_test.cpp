#include <catch2/catch.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/tokenizers/bpe_trainer.h"
#include "data/tokenizers/byte_level.h"
#include "data/tokenizers/split_pattern.h"
#include "data/tokenizers/tokenizer.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string byte_level_encode(std::string_view raw) {
  std::string out;
  mcpp::data::byte_level::append_mapped(raw, out);
  return out;
}

constexpr int kDocuments = 3000;  // as in test/fixtures/train_tokenizer/make_hf_bpe_fixture.py

std::string read_gzip(const fs::path& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  REQUIRE(in != nullptr);
  std::string data;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(in, buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<size_t>(n));
  gzclose(in);
  REQUIRE(n == 0);
  return data;
}

// The first kDocuments lines of fortunes.jsonl, as a file in `dir`.
fs::path fortunes_slice(const fs::path& dir) {
  std::ifstream in(mcpp::test::data_file("text/fortunes.jsonl"));
  const fs::path path = dir / "slice.jsonl";
  std::ofstream out(path);
  std::string line;
  for (int i = 0; i < kDocuments && std::getline(in, line); ++i) out << line << '\n';
  return path;
}

std::string train_command(const fs::path& input, const fs::path& output, const std::string& extra = "") {
  return mcpp::test::program("train-tokenizer").string() + " --input " + input.string() + " --output " +
         output.string() + " --vocab-size 1000 --special-tokens '<|endoftext|>' '<pad>' " + extra + " 2>&1";
}

// GPT-2 style BPE with the learned merges: within each pre-token, repeatedly merge the adjacent
// pair of lowest merge rank.
std::vector<std::string> bpe_encode(const std::string& text, const std::map<std::pair<std::string, std::string>, size_t>& ranks) {
  const auto split = mcpp::data::SplitPattern::compile(mcpp::data::gpt2_split_regex());
  std::vector<std::string_view> pieces;
  split->split(text, pieces);
  std::vector<std::string> tokens;
  for (const auto piece : pieces) {
    std::vector<std::string> symbols;
    for (char byte : piece) symbols.push_back(byte_level_encode(std::string_view(&byte, 1)));
    while (symbols.size() > 1) {
      size_t best = ranks.size();
      size_t at = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto it = ranks.find({symbols[i], symbols[i + 1]});
        if (it != ranks.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == ranks.size()) break;
      symbols[at] += symbols[at + 1];
      symbols.erase(symbols.begin() + static_cast<long>(at) + 1);
    }
    tokens.insert(tokens.end(), symbols.begin(), symbols.end());
  }
  return tokens;
}

}  // namespace

TEST_CASE("train-tokenizer writes a consistent byte-level BPE tokenizer") {
  const fs::path dir = mcpp::test::scratch_dir("train-tokenizer");
  const fs::path input = fortunes_slice(dir);
  const auto result = mcpp::test::run(train_command(input, dir / "tok"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto spec = json::parse(mcpp::test::read_file(dir / "tok" / "tokenizer.json"));
  const auto config = json::parse(mcpp::test::read_file(dir / "tok" / "tokenizer_config.json"));
  CHECK(config.at("eos_token") == "<|endoftext|>");

  const auto& vocab = spec.at("model").at("vocab");
  REQUIRE(vocab.size() == 1000);
  std::vector<std::string> by_id(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    REQUIRE(id.get<size_t>() < by_id.size());
    REQUIRE(by_id[id.get<size_t>()].empty());
    by_id[id.get<size_t>()] = token;
  }
  CHECK(by_id[0] == "<|endoftext|>");
  CHECK(by_id[1] == "<pad>");
  REQUIRE(spec.at("added_tokens").size() == 2);
  CHECK(spec.at("added_tokens")[0].at("content") == "<|endoftext|>");
  CHECK(spec.at("added_tokens")[0].at("id") == 0);
  CHECK(spec.at("added_tokens")[1].at("special") == true);
  CHECK(spec.at("pre_tokenizer").at("type") == "ByteLevel");
  CHECK(spec.at("decoder").at("type") == "ByteLevel");
  // The 256 byte symbols follow the special tokens, in GPT-2's order.
  std::map<std::string, unsigned char> byte_of_symbol;
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    const std::string symbol = byte_level_encode(std::string_view(&byte, 1));
    REQUIRE(vocab.contains(symbol));
    byte_of_symbol[symbol] = static_cast<unsigned char>(b);
  }
  CHECK(by_id[2] == "!");
  CHECK(by_id[2 + 255] == byte_level_encode(std::string_view("\xAD", 1)));

  // Every merge joins two known tokens into a later one.
  std::map<std::pair<std::string, std::string>, size_t> ranks;
  const auto& merges = spec.at("model").at("merges");
  REQUIRE(merges.size() == 1000 - 2 - 256);
  for (const auto& merge : merges) {
    const std::string text = merge.get<std::string>();
    const size_t space = text.find(' ');
    REQUIRE(space != std::string::npos);
    const std::string left = text.substr(0, space);
    const std::string right = text.substr(space + 1);
    REQUIRE(vocab.contains(left));
    REQUIRE(vocab.contains(right));
    REQUIRE(vocab.contains(left + right));
    CHECK(vocab.at(left + right).get<int>() > std::max(vocab.at(left).get<int>(), vocab.at(right).get<int>()));
    CHECK(ranks.emplace(std::pair{left, right}, ranks.size()).second);
  }

  // Re-tokenizing the training text with the merges gives known tokens that spell the text.
  std::ifstream in(input);
  std::string line;
  size_t tokens_total = 0;
  size_t bytes_total = 0;
  while (std::getline(in, line)) {
    const std::string text = json::parse(line).at("text");
    std::string bytes;
    for (const auto& token : bpe_encode(text, ranks)) {
      REQUIRE(vocab.contains(token));
      ++tokens_total;
      for (size_t i = 0; i < token.size();) {
        const size_t length = (static_cast<unsigned char>(token[i]) < 0x80) ? 1 : 2;  // symbols are U+0021..U+0143
        bytes.push_back(static_cast<char>(byte_of_symbol.at(token.substr(i, length))));
        i += length;
      }
    }
    REQUIRE(bytes == text);
    bytes_total += text.size();
  }
  // The learned merges compress: well under one token per byte.
  CHECK(tokens_total * 2 < bytes_total);
}

TEST_CASE("train-tokenizer learns exactly Hugging Face BpeTrainer's vocabulary and merges") {
  const fs::path dir = mcpp::test::scratch_dir("train-tokenizer-hf");
  const auto reference = json::parse(read_gzip(mcpp::test::source_dir() / "test/fixtures/train_tokenizer/hf-bpe-fortunes-3000.json.gz"));
  REQUIRE(reference.at("documents") == kDocuments);
  const auto result = mcpp::test::run(train_command(fortunes_slice(dir), dir / "tok"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto spec = json::parse(mcpp::test::read_file(dir / "tok" / "tokenizer.json"));
  CHECK(spec.at("model").at("vocab") == reference.at("vocab"));
  CHECK(spec.at("model").at("merges") == reference.at("merges"));

  // Our Hugging Face tokenizer loader encodes with the trained file exactly as Hugging Face does.
  mcpp::data::TokenizerOptions options;
  options.type = "HuggingFaceTokenizer";
  options.tokenizer_model = (dir / "tok").string();
  const auto tokenizer = mcpp::data::make_tokenizer(options);
  CHECK(tokenizer->eod() == 0);
  CHECK(tokenizer->vocab_size() == 1000);
  std::ifstream in(dir / "slice.jsonl");
  const auto& encoded = reference.at("encoded");
  std::string line;
  for (size_t i = 0; i < encoded.size() && std::getline(in, line); ++i) {
    std::string text = json::parse(line).at("text");
    if (i + 1 == encoded.size()) text += "<|endoftext|>";
    INFO("document " << i + 1);
    const auto ids = tokenizer->encode(text);
    CHECK(ids == encoded[i].get<std::vector<int32_t>>());
    CHECK(tokenizer->decode(ids) == text);
  }
}

TEST_CASE("train-tokenizer rejects bad input with file:line and writes nothing") {
  const fs::path dir = mcpp::test::scratch_dir("train-tokenizer-errors");
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name) << content;
    return dir / name;
  };
  struct Case {
    std::string content;
    std::string extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\"text\": \"fine\"}\n{\"text\": oops}\n", "", "bad.jsonl:2: not valid JSON"},
      {"{\"text\": \"fine\"}\n{\"body\": \"x\"}\n", "", "bad.jsonl:2: no key \"text\""},
      {"{\"text\": \"fine\"}\n\n", "", "bad.jsonl:2: empty line"},
      {"{\"text\": 7}\n", "", "bad.jsonl:1: \"text\" is not a string"},
      {"{\"text\": \"fine\"}\n", "--vocab-size 100", "--vocab-size 100 is too small"},
  };
  for (const auto& c : cases) {
    const fs::path input = write("bad.jsonl", c.content);
    const fs::path output = dir / "out";
    fs::remove_all(output);
    std::string command = mcpp::test::program("train-tokenizer").string() + " --input " + input.string() +
                          " --output " + output.string() + " " + (c.extra.empty() ? "--vocab-size 300" : c.extra) + " 2>&1";
    const auto result = mcpp::test::run(command);
    INFO(result.output);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(c.message) != std::string::npos);
    CHECK_FALSE(fs::exists(output / "tokenizer.json"));
  }
}

TEST_CASE("BpeTrainer stops at min_frequency and keeps ties deterministic") {
  mcpp::data::BpeTrainerOptions options;
  options.vocab_size = 300;
  options.min_frequency = 2;
  options.special_tokens = {"<s>"};
  mcpp::data::BpeTrainer trainer(options);
  trainer.add_document("ab ab ab cd cd xy<s>ab");
  const auto bpe = trainer.train();
  // Pairs: "a b" x4 (the text after <s> counts too; <s> itself is cut out), " a" x2, " c" x2,
  // "c d" x2, "x y" x1 (below min_frequency).
  REQUIRE(bpe.merges.size() >= 2);
  CHECK(bpe.tokens[bpe.merge_results[0]] == "ab");
  for (const auto result : bpe.merge_results) CHECK(bpe.tokens[result] != "xy");
  CHECK(bpe.tokens.size() < 300);
}
