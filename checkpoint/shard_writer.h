#pragma once
// Writes one rank's pieces of a checkpoint: the tensors' bytes appended to rank_<r>.bin in the
// order given, and, on finish(), the index rank_<r>.json that says where each piece lies.
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "checkpoint/shard_index.h"

namespace mcpp::ckpt {

class ShardWriter {
 public:
  ShardWriter(std::filesystem::path dir, int rank);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends the piece [offsets, offsets + shape) of the global tensor `key`; `data` holds
  // element_count(shape) contiguous row-major elements of `dtype`.
  void write(const std::string& key, DType dtype, const Shape& global_shape, const Shape& offsets,
             const Shape& shape, const void* data);

  // Flushes and fsyncs the data file, then writes the index atomically. Nothing may be written
  // afterwards.
  void finish();

 private:
  std::filesystem::path dir_;
  RankIndex index_;
  std::FILE* data_ = nullptr;
  // Per key: the dtype/global shape first seen and the regions written, to catch caller bugs.
  std::map<std::string, std::pair<DType, Shape>> tensor_types_;
  std::set<std::pair<std::string, Shape>> written_regions_;
};

}  // namespace mcpp::ckpt
