#include "checkpoint/shard_index.h"

#include "checkpoint/format.h"
#include "core/base/error.h"

namespace mcpp::ckpt {

int64_t element_count(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

std::string shape_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

void check_region(const Shape& global_shape, const Shape& offsets, const Shape& shape,
                  const std::string& where) {
  check(offsets.size() == global_shape.size() && shape.size() == global_shape.size(),
        where + ": region offsets " + shape_string(offsets) + " / shape " + shape_string(shape) +
            " do not have the " + std::to_string(global_shape.size()) +
            " dimensions of the global shape " + shape_string(global_shape));
  for (size_t d = 0; d < global_shape.size(); ++d) {
    check(global_shape[d] >= 0 && offsets[d] >= 0 && shape[d] >= 0 &&
              offsets[d] + shape[d] <= global_shape[d],
          where + ": region offsets " + shape_string(offsets) + " shape " + shape_string(shape) +
              " lies outside the global shape " + shape_string(global_shape));
  }
}

nlohmann::json rank_index_to_json(const RankIndex& index) {
  nlohmann::json shards = nlohmann::json::array();
  for (const ShardRecord& s : index.shards) {
    shards.push_back({{"key", s.key},
                      {"dtype", dtype_name(s.dtype)},
                      {"global_shape", s.global_shape},
                      {"offsets", s.offsets},
                      {"shape", s.shape},
                      {"file_offset", s.file_offset},
                      {"byte_length", s.byte_length},
                      {"crc32", s.crc32}});
  }
  return {{"format_version", kFormatVersion},
          {"rank", index.rank},
          {"data_file", index.data_file},
          {"data_bytes", index.data_bytes},
          {"shards", shards}};
}

RankIndex rank_index_from_json(const nlohmann::json& json, const std::string& where) {
  try {
    check_format_version(json.at("format_version").get<int>(), where);
    RankIndex index;
    index.rank = json.at("rank").get<int>();
    index.data_file = json.at("data_file").get<std::string>();
    index.data_bytes = json.at("data_bytes").get<uint64_t>();
    for (const auto& s : json.at("shards")) {
      ShardRecord record;
      record.key = s.at("key").get<std::string>();
      record.dtype = parse_dtype(s.at("dtype").get<std::string>(), where);
      record.global_shape = s.at("global_shape").get<Shape>();
      record.offsets = s.at("offsets").get<Shape>();
      record.shape = s.at("shape").get<Shape>();
      record.file_offset = s.at("file_offset").get<uint64_t>();
      record.byte_length = s.at("byte_length").get<uint64_t>();
      record.crc32 = s.at("crc32").get<uint32_t>();
      check_region(record.global_shape, record.offsets, record.shape,
                   where + ": tensor '" + record.key + "'");
      check(record.byte_length ==
                uint64_t(element_count(record.shape)) * dtype_size(record.dtype),
            where + ": tensor '" + record.key + "' has a byte length that does not match its "
                "shape and dtype (the index is corrupt; use another checkpoint)");
      index.shards.push_back(std::move(record));
    }
    return index;
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed checkpoint index (" + e.what() +
                "); the checkpoint is corrupt, use another one");
  }
}

}  // namespace mcpp::ckpt
