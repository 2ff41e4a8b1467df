#pragma once
// The state saved once per checkpoint (by rank 0) in common.json: iteration, consumed samples,
// the run's arguments and named JSON blobs the caller owns (scheduler, RNG, loss scaler...).
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace mcpp::ckpt {

struct CommonState {
  int64_t iteration = 0;
  int64_t consumed_train_samples = 0;
  int64_t consumed_valid_samples = 0;
  // Snapshot of the run's arguments (flag name -> value), compared on load by the caller.
  nlohmann::json args = nlohmann::json::object();
  // Caller-defined state by name, e.g. "opt_param_scheduler", "rng", "grad_scaler". Stored and
  // returned verbatim; the storage layer does not interpret it.
  nlohmann::json state = nlohmann::json::object();
};

// common.json content; `world_size` is the number of rank files the checkpoint holds.
nlohmann::json common_to_json(const CommonState& common, int world_size);
// Parses common.json (validating format and version); `where` names the file in errors.
CommonState common_from_json(const nlohmann::json& json, const std::string& where, int* world_size);

// Reads a JSON file, throwing mcpp::Error (naming the file and the fix) when it cannot be read
// or parsed.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace mcpp::ckpt
