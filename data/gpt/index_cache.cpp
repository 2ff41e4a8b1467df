#include "data/gpt/index_cache.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace mcpp::data {
namespace {

constexpr char kMagic[8] = {'M', 'C', 'P', 'P', 'G', 'P', 'T', 'I'};
constexpr uint32_t kFormatVersion = 1;
// The checksum runs over the same sequence of chunks on write and read (hash_bytes is
// chunk-sensitive), so reader and writer below mirror each other call for call.

// Appends to the file and to the running checksum.
class ChecksummedWriter {
 public:
  explicit ChecksummedWriter(AtomicFile& file) : file_(file) {}
  void write(const void* data, size_t bytes) {
    file_.write(data, bytes);
    hash_ = hash_bytes(data, bytes, hash_);
  }
  template <typename T>
  void value(T v) { write(&v, sizeof v); }
  uint64_t hash() const { return hash_; }

 private:
  AtomicFile& file_;
  uint64_t hash_ = 0xCBF29CE484222325ULL;
};

// Reads a whole file held in memory, tracking the checksum; any overrun marks it bad.
class ChecksummedReader {
 public:
  explicit ChecksummedReader(const std::string& bytes) : bytes_(bytes) {}
  bool read(void* out, size_t n) {
    if (!ok_ || bytes_.size() - position_ < n) return ok_ = false;
    std::memcpy(out, bytes_.data() + position_, n);
    hash_ = hash_bytes(bytes_.data() + position_, n, hash_);
    position_ += n;
    return true;
  }
  template <typename T>
  bool value(T& v) { return read(&v, sizeof v); }
  uint64_t hash() const { return hash_; }
  bool at_end() const { return position_ == bytes_.size(); }
  bool ok() const { return ok_; }

 private:
  const std::string& bytes_;
  size_t position_ = 0;
  uint64_t hash_ = 0xCBF29CE484222325ULL;
  bool ok_ = true;
};

template <typename T>
bool read_array(ChecksummedReader& in, std::vector<T>& out, uint64_t count, uint64_t limit) {
  if (count > limit) return false;  // a corrupt length must not trigger a huge allocation
  out.resize(static_cast<size_t>(count));
  return in.read(out.data(), out.size() * sizeof(T));
}

}  // namespace

uint64_t hash_bytes(const void* data, size_t bytes, uint64_t hash) {
  // FNV-1a steps over whole 64-bit words (8x fewer than bytewise: caches and length arrays run
  // to gigabytes), then over the remaining bytes. Each step is a bijection of the running value,
  // so any single changed word changes the result.
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    hash = (hash ^ word) * 0x100000001B3ULL;
  }
  for (; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001B3ULL;
  return hash;
}

std::string hash_hex(const void* data, size_t bytes) {
  uint64_t h = hash_bytes(data, bytes);
  // Final avalanche so every input bit reaches the low digits too (word steps only carry upward).
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string index_cache_path(const std::string& dir, const std::string& description,
                             const std::string& split) {
  return (std::filesystem::path(dir) /
          (hash_hex(description.data(), description.size()) + "-mcpp-GPTDataset-" + split + ".idxcache"))
      .string();
}

std::optional<GptIndices> load_index_cache(const std::string& path, const std::string& description) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return std::nullopt;
  std::string bytes(static_cast<size_t>(file.tellg()), '\0');
  file.seekg(0);
  if (!file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) return std::nullopt;
  if (bytes.size() < sizeof kMagic + 8) return std::nullopt;

  ChecksummedReader in(bytes);
  char magic[8];
  uint32_t version = 0;
  uint64_t description_bytes = 0;
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0) return std::nullopt;
  if (!in.value(version) || version != kFormatVersion) return std::nullopt;
  if (!in.value(description_bytes) || description_bytes != description.size()) return std::nullopt;
  std::string stored(description.size(), '\0');
  if (!in.read(stored.data(), stored.size()) || stored != description) return std::nullopt;

  GptIndices indices;
  uint8_t separate = 0;
  uint64_t n_document = 0, n_sample = 0, n_shuffle = 0;
  in.value(indices.tokens_per_epoch);
  in.value(indices.num_epochs);
  in.value(separate);
  in.value(n_document);
  in.value(n_sample);
  in.value(n_shuffle);
  if (!in.ok()) return std::nullopt;
  indices.separate_final_epoch = separate != 0;
  const uint64_t limit = bytes.size();
  if (!read_array(in, indices.document_index, n_document, limit) ||
      !read_array(in, indices.sample_index, n_sample, limit) ||
      !read_array(in, indices.shuffle_index, n_shuffle, limit)) {
    return std::nullopt;
  }
  const uint64_t computed = in.hash();
  uint64_t stored_checksum = 0;
  if (!in.value(stored_checksum) || stored_checksum != computed || !in.at_end()) return std::nullopt;
  if (indices.sample_index.size() != 2 * (indices.shuffle_index.size() + 1)) return std::nullopt;
  return indices;
}

void save_index_cache(const std::string& path, const std::string& description,
                      const GptIndices& indices) {
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  check(!error, "cannot create index cache directory " + dir.string() + ": " + error.message());
  AtomicFile file(path);
  ChecksummedWriter out(file);
  out.write(kMagic, sizeof kMagic);
  out.value(kFormatVersion);
  out.value(static_cast<uint64_t>(description.size()));
  out.write(description.data(), description.size());
  out.value(indices.tokens_per_epoch);
  out.value(indices.num_epochs);
  out.value(static_cast<uint8_t>(indices.separate_final_epoch ? 1 : 0));
  out.value(static_cast<uint64_t>(indices.document_index.size()));
  out.value(static_cast<uint64_t>(indices.sample_index.size()));
  out.value(static_cast<uint64_t>(indices.shuffle_index.size()));
  out.write(indices.document_index.data(), indices.document_index.size() * sizeof(int32_t));
  out.write(indices.sample_index.data(), indices.sample_index.size() * sizeof(int64_t));
  out.write(indices.shuffle_index.data(), indices.shuffle_index.size() * sizeof(int64_t));
  const uint64_t checksum = out.hash();
  file.write(&checksum, sizeof checksum);
  file.commit();
}

}  // namespace mcpp::data
