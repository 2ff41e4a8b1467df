#pragma once
// Names and version of the on-disk checkpoint format (docs/checkpoint-format.md): the tracker
// file, the per-iteration directory, the files inside it, and recognising Megatron's own
// checkpoint folders so they are refused with a clear message instead of a confusing one.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace mcpp::ckpt {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kFormatName = "megatron-cpp";
inline constexpr const char* kTrackerFile = "latest_checkpointed_iteration.txt";
inline constexpr const char* kCommonFile = "common.json";

// Throws mcpp::Error naming `where` unless `version` is one this build reads.
void check_format_version(int version, const std::string& where);

// "iter_0000100" (Megatron's iter_%07d).
std::string iteration_dir_name(int64_t iteration);
std::filesystem::path iteration_dir(const std::filesystem::path& save_dir, int64_t iteration);
// The temporary directory a save writes into before it is renamed to iteration_dir.
std::filesystem::path iteration_temp_dir(const std::filesystem::path& save_dir, int64_t iteration);
// True for directory names a save leaves behind when killed ("iter_0000100.tmp", ".old").
bool is_leftover_dir_name(const std::string& name);

std::string rank_data_file_name(int rank);   // "rank_<r>.bin"
std::string rank_index_file_name(int rank);  // "rank_<r>.json"

// The iteration named by <save_dir>/latest_checkpointed_iteration.txt; nullopt when the file
// does not exist. Throws mcpp::Error when the content is not a number ("release", Megatron's
// marker for a released model, is refused as a Megatron checkpoint).
std::optional<int64_t> read_tracker(const std::filesystem::path& save_dir);
// Atomically replaces the tracker with `iteration` (no trailing newline, as Megatron).
void write_tracker(const std::filesystem::path& save_dir, int64_t iteration);

// Describes a Megatron-written checkpoint found in `dir` ("torch_dist" or "legacy torch"), or
// nullopt when `dir` does not look like one.
std::optional<std::string> megatron_checkpoint_kind(const std::filesystem::path& dir);

}  // namespace mcpp::ckpt
