#include "checkpoint/checkpoint_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/format.h"
#include "checkpoint/region_copy.h"
#include "core/base/error.h"

namespace fs = std::filesystem;

namespace mcpp::ckpt {

// A rank's data file mapped read-only for the reader's lifetime.
struct CheckpointReader::MappedFile {
  std::string path;
  const uint8_t* bytes = nullptr;
  uint64_t size = 0;

  explicit MappedFile(std::string file_path) : path(std::move(file_path)) {
    int fd = ::open(path.c_str(), O_RDONLY);
    check(fd >= 0, "cannot open " + path + ": " + std::strerror(errno) +
                       " (the checkpoint is incomplete; use another iteration)");
    struct stat info {};
    ::fstat(fd, &info);
    size = uint64_t(info.st_size);
    if (size > 0) {
      void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      int saved_errno = errno;
      ::close(fd);
      check(mapped != MAP_FAILED, "cannot map " + path + ": " + std::strerror(saved_errno));
      bytes = static_cast<const uint8_t*>(mapped);
    } else {
      ::close(fd);
    }
  }
  ~MappedFile() {
    if (bytes) ::munmap(const_cast<uint8_t*>(bytes), size);
  }
};

static std::string refuse_megatron(const fs::path& dir, const std::string& kind) {
  return dir.string() + " is a Megatron " + kind +
         " checkpoint; megatron-cpp cannot read it yet (conversion tool planned)";
}

std::optional<int64_t> latest_iteration(const fs::path& load_dir) {
  if (!fs::is_directory(load_dir)) return std::nullopt;
  std::optional<int64_t> iteration = read_tracker(load_dir);
  if (!iteration) {
    if (auto kind = megatron_checkpoint_kind(load_dir)) throw Error(refuse_megatron(load_dir, *kind));
  }
  return iteration;
}

CheckpointReader::~CheckpointReader() = default;
CheckpointReader::CheckpointReader(CheckpointReader&&) noexcept = default;
CheckpointReader& CheckpointReader::operator=(CheckpointReader&&) noexcept = default;

CheckpointReader CheckpointReader::open(const fs::path& load_dir, std::optional<int64_t> step) {
  check(fs::is_directory(load_dir), "--load directory " + load_dir.string() +
                                        " does not exist (check the path)");
  if (!step) {
    step = latest_iteration(load_dir);
    if (!step) {
      check(!fs::exists(load_dir / kCommonFile),
            "--load " + load_dir.string() + " is a single iteration's directory; pass the "
            "directory given to --save (its parent) instead");
      throw Error("--load directory " + load_dir.string() + " has no " + kTrackerFile +
                  " (pass the directory given to --save, or choose an iteration with --ckpt-step)");
    }
  }
  CheckpointReader reader;
  reader.dir_ = iteration_dir(load_dir, *step);
  check(fs::is_directory(reader.dir_),
        "checkpoint directory " + reader.dir_.string() + " for iteration " +
            std::to_string(*step) + " does not exist (fix " + (load_dir / kTrackerFile).string() +
            " or pass another --ckpt-step)");
  if (auto kind = megatron_checkpoint_kind(reader.dir_)) throw Error(refuse_megatron(reader.dir_, *kind));

  fs::path common_path = reader.dir_ / kCommonFile;
  check(fs::exists(common_path), reader.dir_.string() + " has no " + kCommonFile +
                                     ": not a complete megatron-cpp checkpoint (use another iteration)");
  int world_size = 0;
  reader.common_ = common_from_json(read_json_file(common_path), common_path.string(), &world_size);
  check(reader.common_.iteration == *step,
        common_path.string() + " records iteration " + std::to_string(reader.common_.iteration) +
            " but lies in the directory of iteration " + std::to_string(*step) +
            " (the checkpoint was renamed; restore its directory name)");
  check(world_size >= 1, common_path.string() + ": world_size must be >= 1 (the file is corrupt)");
  for (int rank = 0; rank < world_size; ++rank) reader.load_rank(rank);
  return reader;
}

void CheckpointReader::load_rank(int rank) {
  fs::path index_path = dir_ / rank_index_file_name(rank);
  RankIndex index = rank_index_from_json(read_json_file(index_path), index_path.string());
  check(index.rank == rank, index_path.string() + " belongs to rank " + std::to_string(index.rank) +
                                " (the checkpoint's files were mixed up; use another iteration)");
  files_.push_back(std::make_unique<MappedFile>((dir_ / index.data_file).string()));
  const MappedFile* file = files_.back().get();
  check(file->size >= index.data_bytes,
        file->path + " is truncated: " + std::to_string(file->size) + " bytes, its index lists " +
            std::to_string(index.data_bytes) + " (the save was cut short; use another iteration)");

  for (ShardRecord& record : index.shards) {
    check(record.file_offset + record.byte_length <= file->size,
          file->path + " is truncated: tensor '" + record.key + "' extends past its end (use another iteration)");
    auto [it, inserted] = tensors_.try_emplace(record.key);
    StoredTensor& tensor = it->second;
    if (inserted) tensor.info = {record.key, record.dtype, record.global_shape};
    check(tensor.info.dtype == record.dtype && tensor.info.global_shape == record.global_shape,
          index_path.string() + ": tensor '" + record.key + "' is stored as " +
              dtype_name(record.dtype) + " " + shape_string(record.global_shape) +
              " but other ranks stored it as " + dtype_name(tensor.info.dtype) + " " +
              shape_string(tensor.info.global_shape) + " (the checkpoint is inconsistent)");
    // Replicas saved the same piece twice: keep one, but only if they are the same bytes.
    bool duplicate = false;
    for (const StoredPiece& piece : tensor.pieces) {
      if (piece.record.offsets != record.offsets || piece.record.shape != record.shape) continue;
      check(piece.record.crc32 == record.crc32,
            "tensor '" + record.key + "' region at offsets " + shape_string(record.offsets) +
                " is stored in both " + piece.file->path + " and " + file->path +
                " with different contents (only one replica may save a piece)");
      duplicate = true;
    }
    if (!duplicate) tensor.pieces.push_back({file, std::move(record)});
  }
}

std::vector<TensorInfo> CheckpointReader::tensors() const {
  std::vector<TensorInfo> list;
  for (const auto& [key, tensor] : tensors_) list.push_back(tensor.info);
  return list;
}

bool CheckpointReader::has(const std::string& key) const { return tensors_.count(key) > 0; }

const TensorInfo& CheckpointReader::info(const std::string& key) const {
  auto it = tensors_.find(key);
  check(it != tensors_.end(),
        "tensor '" + key + "' is not in checkpoint " + dir_.string() + " (it holds " +
            std::to_string(tensors_.size()) +
            " tensors; was it saved with a different model configuration?)");
  return it->second.info;
}

void CheckpointReader::check_shape(const std::string& key, const Shape& expected) const {
  const TensorInfo& stored = info(key);
  check(stored.global_shape == expected,
        "tensor '" + key + "' in checkpoint " + dir_.string() + " has shape " +
            shape_string(stored.global_shape) + " but the model expects " + shape_string(expected) +
            " (the checkpoint was saved with a different model configuration; match its "
            "--num-layers/--hidden-size/--ffn-hidden-size/heads/vocabulary flags)");
}

// True when every element of `region` lies in at least one of `parts` (each inside `region`).
static bool covers(const Box& region, const std::vector<Box>& parts) {
  int64_t total = 0;
  for (const Box& part : parts) total += box_volume(part);
  if (total < box_volume(region)) return false;
  bool overlapping = false;
  for (size_t i = 0; i < parts.size() && !overlapping; ++i)
    for (size_t j = i + 1; j < parts.size() && !overlapping; ++j)
      overlapping = !box_empty(intersect(parts[i], parts[j]));
  if (!overlapping) return total == box_volume(region);
  // Pieces overlap (partially): count covered elements exactly.
  std::vector<uint8_t> covered(size_t(box_volume(region)), 0);
  for (const Box& part : parts) {
    Shape index = part.begin;
    const size_t rank = index.size();
    while (true) {
      int64_t at = 0;
      for (size_t d = 0; d < rank; ++d) at = at * (region.end[d] - region.begin[d]) + (index[d] - region.begin[d]);
      covered[size_t(at)] = 1;
      size_t d = rank;
      while (d > 0 && ++index[d - 1] == part.end[d - 1]) {
        index[d - 1] = part.begin[d - 1];
        --d;
      }
      if (d == 0) break;
    }
  }
  for (uint8_t c : covered)
    if (!c) return false;
  return true;
}

void CheckpointReader::read(const std::string& key, const Shape& offsets, const Shape& shape,
                            DType out_dtype, void* out) const {
  const StoredTensor& tensor = tensors_.at(info(key).key);
  check_region(tensor.info.global_shape, offsets, shape,
               "reading tensor '" + key + "' from " + dir_.string());
  const Box region = make_box(offsets, shape);
  if (element_count(shape) == 0) return;

  std::vector<const StoredPiece*> sources;
  std::vector<Box> parts;
  for (const StoredPiece& piece : tensor.pieces) {
    Box part = intersect(region, make_box(piece.record.offsets, piece.record.shape));
    if (box_empty(part)) continue;
    sources.push_back(&piece);
    parts.push_back(part);
  }
  check(covers(region, parts),
        "tensor '" + key + "' region at offsets " + shape_string(offsets) + " shape " +
            shape_string(shape) + " is not covered by the pieces saved in " + dir_.string() +
            " (the checkpoint is incomplete: some rank did not save its part)");

  for (size_t i = 0; i < sources.size(); ++i) {
    const ShardRecord& record = sources[i]->record;
    const uint8_t* bytes = sources[i]->file->bytes + record.file_offset;
    uint32_t crc = uint32_t(crc32_z(0L, bytes, record.byte_length));
    check(crc == record.crc32,
          "CRC mismatch in " + sources[i]->file->path + " for tensor '" + key + "' (bytes " +
              std::to_string(record.file_offset) + ".." +
              std::to_string(record.file_offset + record.byte_length) +
              "): the file is corrupt; use another iteration");
    copy_box(bytes, make_box(record.offsets, record.shape), record.dtype, out, region, out_dtype,
             parts[i]);
  }
}

void CheckpointReader::read_whole(const std::string& key, DType out_dtype, void* out) const {
  const Shape& global_shape = info(key).global_shape;
  read(key, Shape(global_shape.size(), 0), global_shape, out_dtype, out);
}

}  // namespace mcpp::ckpt
