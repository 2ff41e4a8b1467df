#pragma once
// Loads a checkpoint written by CheckpointWriter at any parallel layout: lists the global
// tensors and assembles any region [offsets, offsets + shape) of one from whatever pieces the
// saving ranks stored, converting between fp32/bf16/fp16 and checking CRCs on every read.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/metadata.h"
#include "checkpoint/shard_index.h"

namespace mcpp::ckpt {

struct TensorInfo {
  std::string key;
  DType dtype = DType::kFloat32;
  Shape global_shape;
};

// The latest iteration saved in `load_dir` (from its tracker file), nullopt when the directory
// or the tracker does not exist (nothing to resume from). Throws mcpp::Error when the tracker
// is not a number or `load_dir` holds a Megatron checkpoint.
std::optional<int64_t> latest_iteration(const std::filesystem::path& load_dir);

class CheckpointReader {
 public:
  // Opens <load_dir>/iter_XXXXXXX for `step`, or for the tracker's iteration when no step is
  // given, and validates its metadata, indexes and file sizes.
  static CheckpointReader open(const std::filesystem::path& load_dir,
                               std::optional<int64_t> step = std::nullopt);
  ~CheckpointReader();
  CheckpointReader(CheckpointReader&&) noexcept;
  CheckpointReader& operator=(CheckpointReader&&) noexcept;

  int64_t iteration() const { return common_.iteration; }
  const CommonState& common() const { return common_; }
  const std::filesystem::path& directory() const { return dir_; }

  std::vector<TensorInfo> tensors() const;  // sorted by key
  bool has(const std::string& key) const;
  const TensorInfo& info(const std::string& key) const;  // throws when missing
  // Throws a clear mcpp::Error when `key` is missing or its global shape differs.
  void check_shape(const std::string& key, const Shape& expected_global_shape) const;

  // Fills `out` (element_count(shape) row-major elements of `out_dtype`) with the region
  // [offsets, offsets + shape) of the global tensor `key`.
  void read(const std::string& key, const Shape& offsets, const Shape& shape, DType out_dtype,
            void* out) const;
  void read_whole(const std::string& key, DType out_dtype, void* out) const;

 private:
  struct MappedFile;
  struct StoredPiece {
    const MappedFile* file;
    ShardRecord record;
  };
  struct StoredTensor {
    TensorInfo info;
    std::vector<StoredPiece> pieces;
  };

  CheckpointReader() = default;
  void load_rank(int rank);

  std::filesystem::path dir_;
  CommonState common_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, StoredTensor> tensors_;
};

}  // namespace mcpp::ckpt
