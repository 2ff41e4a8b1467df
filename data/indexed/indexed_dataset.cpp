#include "data/indexed/indexed_dataset.h"

#include <cstring>
#include <limits>

#include "core/base/error.h"

namespace mcpp::data {
namespace {

template <typename T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

const char* kRerun = "; re-run preprocess to rebuild it";

}  // namespace

IndexedDataset IndexedDataset::open(const std::string& prefix) {
  IndexedDataset ds;
  ds.prefix_ = prefix;
  const std::string idx_name = idx_path(prefix);
  const std::string bin_name = bin_path(prefix);
  ds.idx_ = MappedFile(idx_name);
  const uint8_t* idx = ds.idx_.data();
  const size_t idx_size = ds.idx_.size();

  check(idx_size >= kIndexHeaderBytes,
        idx_name + ": truncated: " + std::to_string(idx_size) + " bytes, shorter than the " +
            std::to_string(kIndexHeaderBytes) + "-byte header" + kRerun);
  check(std::memcmp(idx, kIndexMagic, sizeof kIndexMagic) == 0,
        idx_name + ": not a Megatron MMIDIDX index (bad magic bytes); pass the prefix of a "
                   "dataset written by preprocess");
  const uint64_t version = load<uint64_t>(idx + 9);
  check(version == 1, idx_name + ": unsupported index version " + std::to_string(version) +
                          " (only version 1 exists)" + kRerun);
  const uint8_t code = idx[17];
  auto dtype = dtype_from_code(code);
  check(dtype.has_value(), idx_name + ": unknown dtype code " + std::to_string(code) +
                               " (valid codes are 1..8)" + kRerun);
  ds.dtype_ = *dtype;

  const uint64_t s = load<uint64_t>(idx + 18);
  const uint64_t d = load<uint64_t>(idx + 26);
  // Compare in a way that cannot overflow for absurd header values.
  const uint64_t body = idx_size - kIndexHeaderBytes;
  const bool fits = s <= body / 12 && d <= (body - 12 * s) / 8;
  const uint64_t expected = fits ? kIndexHeaderBytes + 12 * s + 8 * d : 0;
  if (!fits || expected != idx_size) {
    std::string what = "header says " + std::to_string(s) + " sequences and " +
                       std::to_string(d) + " document-index entries";
    if (fits && idx_size == expected + s && s > 0) {
      throw Error(idx_name + ": has per-sequence modes (a multimodal dataset), which is not "
                             "supported; use a text dataset");
    }
    if (!fits || idx_size < expected) {
      throw Error(idx_name + ": truncated: " + what + " but the file holds only " +
                  std::to_string(idx_size) + " bytes" + kRerun);
    }
    throw Error(idx_name + ": " + std::to_string(idx_size - expected) +
                " unexpected bytes after the arrays (" + what + ")" + kRerun);
  }
  check(d >= 1, idx_name + ": the document index is empty (it must start with 0)" + kRerun);
  ds.num_sequences_ = s;
  ds.num_doc_indices_ = d;

  // Lengths are non-negative and the pointers are their running byte sums.
  const size_t item = data::itemsize(ds.dtype_);
  auto lengths = ds.sequence_lengths();
  auto pointers = ds.sequence_pointers();
  uint64_t offset = 0;
  for (size_t i = 0; i < s; ++i) {
    if (lengths[i] < 0) {
      throw Error(idx_name + ": sequence " + std::to_string(i) + " has negative length " +
                  std::to_string(lengths[i]) + kRerun);
    }
    if (pointers[i] != static_cast<int64_t>(offset)) {
      throw Error(idx_name + ": sequence " + std::to_string(i) + " points to byte " +
                  std::to_string(pointers[i]) + " but the lengths before it put it at byte " +
                  std::to_string(offset) + kRerun);
    }
    offset += static_cast<uint64_t>(lengths[i]) * item;
  }
  ds.num_tokens_ = offset / item;

  auto docs = ds.document_indices();
  check(docs[0] == 0, idx_name + ": the document index starts at " + std::to_string(docs[0]) +
                          " instead of 0" + kRerun);
  for (size_t k = 1; k < d; ++k) {
    if (docs[k] < docs[k - 1]) {
      throw Error(idx_name + ": document index entry " + std::to_string(k) + " (" +
                  std::to_string(docs[k]) + ") is smaller than the one before it (" +
                  std::to_string(docs[k - 1]) + ")" + kRerun);
    }
  }
  check(docs[d - 1] == static_cast<int64_t>(s),
        idx_name + ": the last document index is " + std::to_string(docs[d - 1]) +
            " but the file has " + std::to_string(s) + " sequences" + kRerun);

  ds.bin_ = MappedFile(bin_name);
  if (ds.bin_.size() != offset) {
    throw Error(bin_name + ": holds " + std::to_string(ds.bin_.size()) + " bytes but " +
                idx_name + " describes " + std::to_string(offset) + " bytes (" +
                std::to_string(ds.num_tokens_) + " " + dtype_name(ds.dtype_) +
                " tokens); the pair does not belong together or one is truncated" + kRerun);
  }
  return ds;
}

std::span<const int32_t> IndexedDataset::sequence_lengths() const {
  return {reinterpret_cast<const int32_t*>(idx_.data() + kIndexHeaderBytes), num_sequences_};
}

std::span<const int64_t> IndexedDataset::sequence_pointers() const {
  return {reinterpret_cast<const int64_t*>(idx_.data() + kIndexHeaderBytes + 4 * num_sequences_),
          num_sequences_};
}

std::span<const int64_t> IndexedDataset::document_indices() const {
  return {reinterpret_cast<const int64_t*>(idx_.data() + kIndexHeaderBytes + 12 * num_sequences_),
          num_doc_indices_};
}

namespace {

template <typename T>
void convert(const uint8_t* src, size_t count, int32_t* out, const std::string& prefix) {
  for (size_t i = 0; i < count; ++i) {
    T value = load<T>(src + i * sizeof(T));
    if constexpr (sizeof(T) > sizeof(int32_t)) {
      if (value < std::numeric_limits<int32_t>::min() ||
          value > std::numeric_limits<int32_t>::max()) {
        throw Error(bin_path(prefix) + ": token id " + std::to_string(value) +
                    " does not fit int32");
      }
    }
    out[i] = static_cast<int32_t>(value);
  }
}

}  // namespace

void IndexedDataset::read(size_t sequence, size_t offset, size_t count, int32_t* out) const {
  // Hot path: messages are built only on failure.
  if (sequence >= num_sequences_) {
    throw Error(bin_path(prefix_) + ": sequence " + std::to_string(sequence) +
                " out of range (the dataset has " + std::to_string(num_sequences_) + ")");
  }
  const size_t length = static_cast<size_t>(sequence_lengths()[sequence]);
  if (offset > length || count > length - offset) {
    throw Error(bin_path(prefix_) + ": tokens [" + std::to_string(offset) + ", " +
                std::to_string(offset + count) + ") are outside sequence " +
                std::to_string(sequence) + " of length " + std::to_string(length));
  }
  const uint8_t* src = bin_.data() + sequence_pointers()[sequence] + offset * itemsize();
  switch (dtype_) {
    case DType::uint8: return convert<uint8_t>(src, count, out, prefix_);
    case DType::int8: return convert<int8_t>(src, count, out, prefix_);
    case DType::int16: return convert<int16_t>(src, count, out, prefix_);
    case DType::uint16: return convert<uint16_t>(src, count, out, prefix_);
    case DType::int32:
      if (count) std::memcpy(out, src, count * sizeof(int32_t));
      return;
    case DType::int64: return convert<int64_t>(src, count, out, prefix_);
    case DType::float32:
    case DType::float64:
      throw Error(bin_path(prefix_) + ": holds " + dtype_name(dtype_) + " values, not token ids");
  }
}

}  // namespace mcpp::data
