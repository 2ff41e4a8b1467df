#include "tokenizer_fixtures.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "test/common/test_support.h"

namespace mcpp::test {

namespace fs = std::filesystem;

std::string hf_tokenizer_dir(const std::string& name) {
  const fs::path shared = data_dir() / "tokenizers" / name;
  if (fs::exists(shared / "tokenizer.json")) return shared.string();
  // The gzipped ones: decompressed next to a copy of their tokenizer_config.json.
  fs::path json = gunzipped_data_file("tokenizers/" + name + "/tokenizer.json.gz");
  fs::path config = json.parent_path() / "tokenizer_config.json";
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (!fs::exists(config)) {
    fs::path temp = config.string() + ".tmp";
    fs::copy_file(data_file("tokenizers/" + name + "/tokenizer_config.json"), temp,
                  fs::copy_options::overwrite_existing);
    fs::rename(temp, config);
  }
  return json.parent_path().string();
}

std::unique_ptr<data::Tokenizer> hf_tokenizer(const std::string& name) {
  data::TokenizerOptions options;
  options.type = "HuggingFaceTokenizer";
  options.tokenizer_model = hf_tokenizer_dir(name);
  return data::make_tokenizer(options);
}

std::unique_ptr<data::Tokenizer> gpt2_bpe_tokenizer() {
  data::TokenizerOptions options;
  options.type = "GPT2BPETokenizer";
  options.vocab_file = data_file("tokenizers/gpt2/vocab.json").string();
  options.merge_file = data_file("tokenizers/gpt2/merges.txt").string();
  return data::make_tokenizer(options);
}

const std::vector<std::string>& texts(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<std::string>> loaded;
  std::lock_guard lock(mutex);
  auto it = loaded.find(name);
  if (it != loaded.end()) return it->second;
  std::ifstream in(data_file("text/" + name + ".jsonl"));
  std::vector<std::string> docs;
  for (std::string line; std::getline(in, line);)
    docs.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return loaded[name] = std::move(docs);
}

std::vector<std::vector<int32_t>> fixture_ids(const std::string& text, const std::string& tokenizer) {
  std::ifstream in(gunzipped_data_file("fixtures/token-ids/" + text + "." + tokenizer + ".jsonl.gz"));
  std::vector<std::vector<int32_t>> ids;
  for (std::string line; std::getline(in, line);)
    ids.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
  return ids;
}

}  // namespace mcpp::test
