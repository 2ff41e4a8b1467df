#include "checkpoint/checkpoint_writer.h"

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/format.h"
#include "checkpoint/shard_writer.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace fs = std::filesystem;

namespace mcpp::ckpt {

namespace {

// Removes what killed saves left behind: their directories and a half-written tracker.
void remove_leftovers(const fs::path& save_dir) {
  const std::string tracker_temp = std::string(kTrackerFile) + ".tmp.";
  for (const auto& entry : fs::directory_iterator(save_dir)) {
    std::string name = entry.path().filename().string();
    if ((entry.is_directory() && is_leftover_dir_name(name)) || name.rfind(tracker_temp, 0) == 0) {
      fs::remove_all(entry.path());
    }
  }
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  check(std::rename(from.c_str(), to.c_str()) == 0,
        "cannot rename " + from.string() + " to " + to.string() + ": " + std::strerror(errno));
}

// Puts `fresh` at `target` where `target` already exists. Atomic exchange where the filesystem
// supports it, so `target` names a complete checkpoint at every instant; the old one ends up at
// `fresh` and is removed.
void replace_directory(const fs::path& fresh, const fs::path& target) {
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(fresh);
    return;
  }
#endif
  // Fallback: a kill between the two renames leaves `target` missing until the next save.
  fs::path old = target;
  old += ".old";
  fs::remove_all(old);
  rename_or_throw(target, old);
  rename_or_throw(fresh, target);
  fs::remove_all(old);
}

}  // namespace

CheckpointWriter::CheckpointWriter(fs::path save_dir, int64_t iteration, SaveOptions options)
    : save_dir_(std::move(save_dir)), iteration_(iteration), options_(std::move(options)) {
  check(iteration >= 0, "checkpoint iteration must be >= 0, got " + std::to_string(iteration));
  check(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
        "checkpoint writer: rank " + std::to_string(options_.rank) + " is outside world size " +
            std::to_string(options_.world_size));
  check(options_.world_size == 1 || options_.barrier,
        "checkpoint writer: a barrier is required when saving from several ranks");
  temp_dir_ = iteration_temp_dir(save_dir_, iteration_);
  if (options_.rank == 0) {
    std::error_code ec;
    fs::create_directories(save_dir_, ec);
    check(fs::is_directory(save_dir_),
          "--save directory " + save_dir_.string() + " cannot be created (" + ec.message() +
              "); check the path and its permissions");
    remove_leftovers(save_dir_);
    fs::create_directory(temp_dir_, ec);
    check(!ec, "cannot create " + temp_dir_.string() + ": " + ec.message() +
                   " (check that the --save directory is writable)");
  }
  if (options_.barrier) options_.barrier();
  shards_ = std::make_unique<ShardWriter>(temp_dir_, options_.rank);
}

CheckpointWriter::~CheckpointWriter() = default;

void CheckpointWriter::add(const std::string& key, DType dtype, const Shape& global_shape,
                           const Shape& offsets, const Shape& shape, const void* data,
                           bool designated_writer) {
  check(!committed_, "checkpoint tensor '" + key + "' added after commit()");
  if (!designated_writer) {
    check_region(global_shape, offsets, shape, "checkpoint tensor '" + key + "'");
    return;
  }
  shards_->write(key, dtype, global_shape, offsets, shape, data);
}

void CheckpointWriter::add_whole(const std::string& key, DType dtype, const Shape& shape,
                                 const void* data, bool designated_writer) {
  add(key, dtype, shape, Shape(shape.size(), 0), shape, data, designated_writer);
}

void CheckpointWriter::set_common(CommonState common) { common_ = std::move(common); }

void CheckpointWriter::commit() {
  check(!committed_, "checkpoint committed twice");
  committed_ = true;
  shards_->finish();
  if (options_.barrier) options_.barrier();
  if (options_.rank == 0) publish();
  if (options_.barrier) options_.barrier();
}

void CheckpointWriter::publish() {
  for (int r = 0; r < options_.world_size; ++r) {
    check(fs::exists(temp_dir_ / rank_index_file_name(r)),
          "checkpoint " + temp_dir_.string() + " lacks " + rank_index_file_name(r) +
              ": rank " + std::to_string(r) + " did not finish its part (the save is abandoned)");
  }
  common_.iteration = iteration_;
  AtomicFile common_file((temp_dir_ / kCommonFile).string());
  common_file.write(common_to_json(common_, options_.world_size).dump(2));
  common_file.commit();  // also fsyncs temp_dir_, making the rank files' names durable

  fs::path final_dir = iteration_dir(save_dir_, iteration_);
  if (fs::exists(final_dir)) replace_directory(temp_dir_, final_dir);
  else rename_or_throw(temp_dir_, final_dir);
  fsync_directory(save_dir_.string());
  // Only now may the tracker name this iteration.
  write_tracker(save_dir_, iteration_);
}

}  // namespace mcpp::ckpt
