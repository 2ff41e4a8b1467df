// train-tokenizer: learns a byte-level BPE vocabulary (GPT-2 pre-tokenization) from JSONL text
// and writes a Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json) that
// `preprocess --tokenizer-type HuggingFaceTokenizer --tokenizer-model DIR` and Hugging Face
// `tokenizers` / `transformers` load.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/main_guard.h"
#include "data/tokenizers/bpe_trainer.h"
#include "data/unicode/utf8.h"

namespace {

// Feeds every document of a JSONL file (the string under each of `keys`) to the trainer.
size_t read_jsonl(const std::string& path, const std::vector<std::string>& keys, mcpp::data::BpeTrainer& trainer) {
  std::ifstream in(path, std::ios::binary);
  mcpp::check(static_cast<bool>(in), "--input " + path + ": cannot open the file");
  std::string line;
  size_t line_number = 0;
  size_t documents = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string where = path + ":" + std::to_string(line_number);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    mcpp::check(!line.empty(), where + ": empty line; every line must be a JSON object");
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw mcpp::Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    mcpp::check(record.is_object(), where + ": expected a JSON object");
    for (const auto& key : keys) {
      const auto it = record.find(key);
      mcpp::check(it != record.end(), where + ": no key \"" + key + "\" (choose the key with --json-keys)");
      mcpp::check(it->is_string(), where + ": \"" + key + "\" is not a string");
      const auto& text = it->get_ref<const std::string&>();
      mcpp::check(mcpp::data::unicode::find_invalid_utf8(text) == std::string::npos,
                  where + ": \"" + key + "\" is not valid UTF-8");
      trainer.add_document(text);
      ++documents;
    }
  }
  mcpp::check(!in.bad(), "--input " + path + ": read error");
  return documents;
}

}  // namespace

int main(int argc, char** argv) {
  return mcpp::run_main([&] {
    CLI::App app{"Train a byte-level BPE tokenizer (GPT-2 pre-tokenization) and write a Hugging Face tokenizer.json"};
    std::vector<std::string> inputs;
    std::vector<std::string> json_keys{"text"};
    int64_t vocab_size = 0;
    std::string output;
    std::vector<std::string> special_tokens{"<|endoftext|>"};
    uint64_t min_frequency = 2;
    app.add_option("--input", inputs, "JSONL file(s), one JSON object per line")->required();
    app.add_option("--json-keys", json_keys, "keys whose strings are the documents (default: text)");
    app.add_option("--vocab-size", vocab_size, "vocabulary size, special tokens and 256 byte symbols included")
        ->required();
    app.add_option("--output", output, "directory to write tokenizer.json and tokenizer_config.json into")->required();
    app.add_option("--special-tokens", special_tokens,
                   "special tokens (ids 0, 1, ...); the first is eos_token (default: <|endoftext|>)");
    app.add_option("--min-frequency", min_frequency, "merge only pairs seen at least this often (default: 2)");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    mcpp::check(!json_keys.empty(), "--json-keys: give at least one key");
    mcpp::check(min_frequency >= 1, "--min-frequency must be at least 1");

    const auto start = std::chrono::steady_clock::now();
    mcpp::data::BpeTrainerOptions options;
    options.vocab_size = vocab_size;
    options.min_frequency = min_frequency;
    options.special_tokens = special_tokens;
    mcpp::data::BpeTrainer trainer(options);
    size_t documents = 0;
    for (const auto& input : inputs) documents += read_jsonl(input, json_keys, trainer);
    const auto counted = std::chrono::steady_clock::now();
    mcpp::log::info("counted {} distinct words in {} documents ({:.2f} s)", trainer.word_count(), documents,
                    std::chrono::duration<double>(counted - start).count());

    const auto bpe = trainer.train();
    const auto trained = std::chrono::steady_clock::now();
    mcpp::log::info("learned {} merges, vocabulary of {} ({:.2f} s)", bpe.merges.size(), bpe.tokens.size(),
                    std::chrono::duration<double>(trained - counted).count());
    if (static_cast<int64_t>(bpe.tokens.size()) < vocab_size) {
      mcpp::log::warn("no pair occurs --min-frequency {} times any more: the vocabulary has {} of the {} requested tokens",
                      min_frequency, bpe.tokens.size(), vocab_size);
    }

    std::error_code error;
    std::filesystem::create_directories(output, error);
    mcpp::check(!error && std::filesystem::is_directory(output),
                "--output " + output + ": cannot create the directory (" + error.message() + ")");
    const auto dir = std::filesystem::path(output);
    mcpp::AtomicFile tokenizer_file((dir / "tokenizer.json").string());
    tokenizer_file.write(mcpp::data::trained_bpe_tokenizer_json(bpe));
    mcpp::AtomicFile config_file((dir / "tokenizer_config.json").string());
    config_file.write(mcpp::data::trained_bpe_tokenizer_config_json(bpe));
    tokenizer_file.commit();
    config_file.commit();
    mcpp::log::info("wrote {}", (dir / "tokenizer.json").string());
    return 0;
  });
}
