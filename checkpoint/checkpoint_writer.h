#pragma once
// Saves one checkpoint iteration so that a kill at any moment leaves the previous one loadable.
//
// Every rank constructs a CheckpointWriter for the same (save_dir, iteration), adds the pieces
// of the tensors it is the designated writer of, and calls commit(). Files go to
// <save_dir>/iter_XXXXXXX.tmp/ (rank r writes rank_<r>.bin + rank_<r>.json); after all ranks
// finished, rank 0 writes common.json, renames the directory to iter_XXXXXXX/ and only then
// rewrites latest_checkpointed_iteration.txt. Until that rename, readers never see the save.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "checkpoint/metadata.h"
#include "checkpoint/shard_index.h"

namespace mcpp::ckpt {

class ShardWriter;

struct SaveOptions {
  int rank = 0;
  int world_size = 1;
  // Blocks until every rank reached it. Required when world_size > 1 (e.g. an MPI barrier);
  // a single process needs none. A rank that throws never reaches the next barrier, so the
  // caller's error handling must end the job (MPI_Abort) rather than wait forever.
  std::function<void()> barrier;
};

class CheckpointWriter {
 public:
  // Rank 0 creates save_dir if needed, removes directories left by killed saves and creates
  // the temporary directory; then all ranks pass the barrier and open their files.
  CheckpointWriter(std::filesystem::path save_dir, int64_t iteration, SaveOptions options = {});
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // This rank's piece [offsets, offsets + shape) of the global tensor `key` (Megatron state-dict
  // key, global layer numbers), `data` = element_count(shape) contiguous row-major elements.
  // When `designated_writer` is false (a replica, e.g. DP rank != 0) nothing is stored, so each
  // piece is written once.
  void add(const std::string& key, DType dtype, const Shape& global_shape, const Shape& offsets,
           const Shape& shape, const void* data, bool designated_writer = true);
  // A whole (unsharded) tensor.
  void add_whole(const std::string& key, DType dtype, const Shape& shape, const void* data,
                 bool designated_writer = true);

  // The once-per-checkpoint state; only rank 0's is stored. `iteration` is set by the writer.
  void set_common(CommonState common);

  // Finishes this rank's files, waits for all ranks, publishes the checkpoint (rank 0) and
  // waits again so that no rank returns before the checkpoint is loadable.
  void commit();

  const std::filesystem::path& temp_dir() const { return temp_dir_; }

 private:
  void publish();  // rank 0

  std::filesystem::path save_dir_;
  std::filesystem::path temp_dir_;
  int64_t iteration_;
  SaveOptions options_;
  CommonState common_;
  std::unique_ptr<ShardWriter> shards_;
  bool committed_ = false;
};

}  // namespace mcpp::ckpt
