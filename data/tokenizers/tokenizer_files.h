#pragma once
// Reading and parsing the files a tokenizer is made from, with one-line errors that name the file.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mcpp::data {

// The whole file; `flag` names where the path came from (e.g. "--vocab-file").
std::string read_tokenizer_file(const std::filesystem::path& path, const std::string& flag);

// The file parsed as JSON.
nlohmann::json read_tokenizer_json(const std::filesystem::path& path, const std::string& flag);

}  // namespace mcpp::data
