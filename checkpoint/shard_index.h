#pragma once
// One stored piece of a global tensor, as listed in a rank's index file: which tensor (key,
// dtype, global shape), which hyper-rectangle of it ([offsets, offsets + shape)), and where its
// bytes lie in the rank's data file, with their CRC-32.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/dtype.h"

namespace mcpp::ckpt {

using Shape = std::vector<int64_t>;

struct ShardRecord {
  std::string key;
  DType dtype = DType::kFloat32;
  Shape global_shape;
  Shape offsets;  // of this shard inside the global tensor, one per dimension
  Shape shape;    // of this shard
  uint64_t file_offset = 0;
  uint64_t byte_length = 0;
  uint32_t crc32 = 0;
};

int64_t element_count(const Shape& shape);
std::string shape_string(const Shape& shape);  // "[4, 8]"

// The rank's index file: {"format_version", "rank", "data_file", "data_bytes", "shards": [...]}.
struct RankIndex {
  int rank = 0;
  std::string data_file;  // relative to the checkpoint directory
  uint64_t data_bytes = 0;
  std::vector<ShardRecord> shards;
};

nlohmann::json rank_index_to_json(const RankIndex& index);
// `where` names the file in error messages.
RankIndex rank_index_from_json(const nlohmann::json& json, const std::string& where);

// Throws mcpp::Error (prefixed by `where`) unless `offsets`/`shape` have the global rank and
// describe a region inside `global_shape`.
void check_region(const Shape& global_shape, const Shape& offsets, const Shape& shape,
                  const std::string& where);

}  // namespace mcpp::ckpt
