#include "data/tokenizers/tokenizer_files.h"

#include <fstream>
#include <sstream>

#include "core/base/error.h"

namespace mcpp::data {

std::string read_tokenizer_file(const std::filesystem::path& path, const std::string& flag) {
  std::error_code ec;
  check(std::filesystem::is_regular_file(path, ec),
        flag + " " + path.string() + ": no such file; check the path");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), flag + " " + path.string() + ": cannot be read; check its permissions");
  std::ostringstream text;
  text << in.rdbuf();
  check(!in.bad(), flag + " " + path.string() + ": read error");
  return std::move(text).str();
}

nlohmann::json read_tokenizer_json(const std::filesystem::path& path, const std::string& flag) {
  std::string text = read_tokenizer_file(path, flag);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path.string() + ": not valid JSON (byte " + std::to_string(e.byte) +
                "); pass an intact file");
  }
}

}  // namespace mcpp::data
