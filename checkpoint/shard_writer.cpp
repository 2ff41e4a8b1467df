#include "checkpoint/shard_writer.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/format.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace mcpp::ckpt {

ShardWriter::ShardWriter(std::filesystem::path dir, int rank) : dir_(std::move(dir)) {
  index_.rank = rank;
  index_.data_file = rank_data_file_name(rank);
  std::string path = (dir_ / index_.data_file).string();
  data_ = std::fopen(path.c_str(), "wb");
  check(data_ != nullptr, "cannot create checkpoint file " + path + ": " + std::strerror(errno) +
                              " (check that the --save directory is writable)");
  std::setvbuf(data_, nullptr, _IOFBF, 4 << 20);
}

ShardWriter::~ShardWriter() {
  if (data_) std::fclose(data_);
}

void ShardWriter::write(const std::string& key, DType dtype, const Shape& global_shape,
                        const Shape& offsets, const Shape& shape, const void* data) {
  check(data_ != nullptr, "checkpoint tensor '" + key + "' written after the rank's files were finished");
  std::string where = "checkpoint tensor '" + key + "'";
  check_region(global_shape, offsets, shape, where);
  auto [type, inserted] = tensor_types_.try_emplace(key, dtype, global_shape);
  check(inserted || type->second == std::make_pair(dtype, global_shape),
        where + " is saved twice with different dtypes or global shapes (" +
            dtype_name(type->second.first) + " " + shape_string(type->second.second) + " vs " +
            dtype_name(dtype) + " " + shape_string(global_shape) + ")");
  check(written_regions_.emplace(key, offsets).second,
        where + " region at offsets " + shape_string(offsets) + " is saved twice by rank " +
            std::to_string(index_.rank));

  ShardRecord record;
  record.key = key;
  record.dtype = dtype;
  record.global_shape = global_shape;
  record.offsets = offsets;
  record.shape = shape;
  record.file_offset = index_.data_bytes;
  record.byte_length = uint64_t(element_count(shape)) * dtype_size(dtype);
  record.crc32 = uint32_t(crc32_z(0L, static_cast<const Bytef*>(data), record.byte_length));
  if (record.byte_length > 0) {
    check(std::fwrite(data, 1, record.byte_length, data_) == record.byte_length,
          "write to " + (dir_ / index_.data_file).string() + " failed: " + std::strerror(errno) +
              " (disk full?)");
  }
  index_.data_bytes += record.byte_length;
  index_.shards.push_back(std::move(record));
}

void ShardWriter::finish() {
  check(data_ != nullptr, "checkpoint rank files finished twice");
  std::string path = (dir_ / index_.data_file).string();
  bool flushed = std::fflush(data_) == 0 && ::fsync(::fileno(data_)) == 0;
  int saved_errno = errno;
  std::fclose(data_);
  data_ = nullptr;
  check(flushed, "cannot flush " + path + ": " + std::strerror(saved_errno) + " (disk full?)");

  AtomicFile index_file((dir_ / rank_index_file_name(index_.rank)).string());
  index_file.write(rank_index_to_json(index_).dump());
  index_file.commit();
}

}  // namespace mcpp::ckpt
