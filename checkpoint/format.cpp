#include "checkpoint/format.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace fs = std::filesystem;

namespace mcpp::ckpt {

void check_format_version(int version, const std::string& where) {
  check(version >= 1 && version <= kFormatVersion,
        where + ": checkpoint format version " + std::to_string(version) +
            " is not supported (this build reads versions 1.." + std::to_string(kFormatVersion) +
            "; use a newer megatron-cpp)");
}

std::string iteration_dir_name(int64_t iteration) {
  char name[32];
  std::snprintf(name, sizeof(name), "iter_%07lld", static_cast<long long>(iteration));
  return name;
}

fs::path iteration_dir(const fs::path& save_dir, int64_t iteration) {
  return save_dir / iteration_dir_name(iteration);
}

fs::path iteration_temp_dir(const fs::path& save_dir, int64_t iteration) {
  return save_dir / (iteration_dir_name(iteration) + ".tmp");
}

bool is_leftover_dir_name(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.rfind("iter_", 0) == 0 && (ends_with(".tmp") || ends_with(".old"));
}

std::string rank_data_file_name(int rank) { return "rank_" + std::to_string(rank) + ".bin"; }
std::string rank_index_file_name(int rank) { return "rank_" + std::to_string(rank) + ".json"; }

std::optional<int64_t> read_tracker(const fs::path& save_dir) {
  fs::path tracker = save_dir / kTrackerFile;
  if (!fs::exists(tracker)) return std::nullopt;
  std::ifstream in(tracker);
  check(in.good(), "cannot read " + tracker.string() + " (check its permissions)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  // Megatron writes no newline; tolerate surrounding whitespace from hand edits.
  size_t first = text.find_first_not_of(" \t\r\n");
  size_t last = text.find_last_not_of(" \t\r\n");
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  check(text != "release", tracker.string() + " holds 'release': a Megatron release checkpoint; "
                             "megatron-cpp cannot read it yet (conversion tool planned)");
  bool is_number = !text.empty() && text.size() <= 18 &&
                   text.find_first_not_of("0123456789") == std::string::npos;
  check(is_number, tracker.string() + " holds '" + text.substr(0, 40) +
                       "', not an iteration number (write the number of an existing iter_XXXXXXX "
                       "directory into it, or pass --ckpt-step)");
  return std::stoll(text);
}

void write_tracker(const fs::path& save_dir, int64_t iteration) {
  AtomicFile tracker((save_dir / kTrackerFile).string());
  tracker.write(std::to_string(iteration));
  tracker.commit();
}

std::optional<std::string> megatron_checkpoint_kind(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  if (fs::exists(dir / ".metadata") || fs::exists(dir / "common.pt")) return "torch_dist";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".distcp") return "torch_dist";
    if (name.rfind("mp_rank_", 0) == 0 && fs::exists(entry.path() / "model_optim_rng.pt"))
      return "legacy torch";
  }
  return std::nullopt;
}

}  // namespace mcpp::ckpt
