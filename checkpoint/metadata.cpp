#include "checkpoint/metadata.h"

#include <fstream>

#include "checkpoint/format.h"
#include "core/base/error.h"

namespace mcpp::ckpt {

nlohmann::json common_to_json(const CommonState& common, int world_size) {
  return {{"format", kFormatName},
          {"format_version", kFormatVersion},
          {"world_size", world_size},
          {"iteration", common.iteration},
          {"consumed_train_samples", common.consumed_train_samples},
          {"consumed_valid_samples", common.consumed_valid_samples},
          {"args", common.args},
          {"state", common.state}};
}

CommonState common_from_json(const nlohmann::json& json, const std::string& where, int* world_size) {
  try {
    check(json.value("format", "") == kFormatName,
          where + " is not a megatron-cpp checkpoint file (missing \"format\": \"" +
              std::string(kFormatName) + "\"); point --load at a directory written by --save");
    check_format_version(json.at("format_version").get<int>(), where);
    CommonState common;
    common.iteration = json.at("iteration").get<int64_t>();
    common.consumed_train_samples = json.at("consumed_train_samples").get<int64_t>();
    common.consumed_valid_samples = json.at("consumed_valid_samples").get<int64_t>();
    common.args = json.at("args");
    common.state = json.at("state");
    if (world_size) *world_size = json.at("world_size").get<int>();
    return common;
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed checkpoint metadata (" + e.what() +
                "); the checkpoint is corrupt, use another one");
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  check(in.good(), "cannot open " + path.string() +
                       " (the checkpoint is incomplete; use another iteration)");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + " is not valid JSON (" + e.what() +
                "); the checkpoint is corrupt, use another iteration");
  }
}

}  // namespace mcpp::ckpt
