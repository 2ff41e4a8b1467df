#include "data/indexed/indexed_dataset_builder.h"

#include <cstring>
#include <limits>

#include "core/base/error.h"
#include "data/indexed/indexed_dataset.h"

namespace mcpp::data {
namespace {

// Stores `tokens` as T into `out`, rejecting ids that T cannot hold (numpy would refuse too).
template <typename T>
void narrow(std::span<const int32_t> tokens, std::vector<uint8_t>& out, DType dtype,
            const std::string& prefix) {
  out.resize(tokens.size() * sizeof(T));
  T* dst = reinterpret_cast<T*>(out.data());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t id = tokens[i];
    if (id < std::numeric_limits<T>::min() || id > std::numeric_limits<T>::max()) {
      throw Error(bin_path(prefix) + ": token id " + std::to_string(id) + " does not fit the file's dtype " +
                  dtype_name(dtype) +
                  "; use a tokenizer whose vocabulary matches");
    }
    dst[i] = static_cast<T>(id);
  }
}

}  // namespace

IndexedDatasetBuilder::IndexedDatasetBuilder(std::string prefix, DType dtype)
    : prefix_(std::move(prefix)), dtype_(dtype) {
  check(is_integer(dtype_), bin_path(prefix_) + ": token files need an integer dtype, not " +
                                dtype_name(dtype_));
  bin_ = std::make_unique<AtomicFile>(bin_path(prefix_));
}

void IndexedDatasetBuilder::add_document(std::span<const int32_t> tokens,
                                         std::span<const int32_t> sequence_lengths) {
  // Runs once per document: messages are built only on failure.
  if (finalized_) throw Error(bin_path(prefix_) + ": add_document after finalize");
  int64_t total = 0;
  for (int32_t length : sequence_lengths) {
    if (length < 0) throw Error(bin_path(prefix_) + ": negative sequence length");
    total += length;
  }
  if (total != static_cast<int64_t>(tokens.size())) {
    throw Error(bin_path(prefix_) + ": sequence lengths add up to " + std::to_string(total) +
                " but the document has " + std::to_string(tokens.size()) + " tokens");
  }

  switch (dtype_) {
    case DType::int32:
      bin_->write(tokens.data(), tokens.size_bytes());
      break;
    case DType::uint16: narrow<uint16_t>(tokens, scratch_, dtype_, prefix_); break;
    case DType::int16: narrow<int16_t>(tokens, scratch_, dtype_, prefix_); break;
    case DType::uint8: narrow<uint8_t>(tokens, scratch_, dtype_, prefix_); break;
    case DType::int8: narrow<int8_t>(tokens, scratch_, dtype_, prefix_); break;
    case DType::int64: {
      scratch_.resize(tokens.size() * sizeof(int64_t));
      auto* dst = reinterpret_cast<int64_t*>(scratch_.data());
      for (size_t i = 0; i < tokens.size(); ++i) dst[i] = tokens[i];
      break;
    }
    case DType::float32:
    case DType::float64: break;  // rejected in the constructor
  }
  if (dtype_ != DType::int32) bin_->write(scratch_.data(), scratch_.size());

  sequence_lengths_.insert(sequence_lengths_.end(), sequence_lengths.begin(),
                           sequence_lengths.end());
  document_indices_.push_back(static_cast<int64_t>(sequence_lengths_.size()));
  num_tokens_ += tokens.size();
}

void IndexedDatasetBuilder::add_index(const IndexedDataset& other) {
  if (finalized_) throw Error(bin_path(prefix_) + ": add_index after finalize");
  check(other.dtype() == dtype_,
        idx_path(other.prefix()) + ": dtype " + dtype_name(other.dtype()) + " differs from " +
            dtype_name(dtype_) + " of the datasets before it; only datasets of one dtype merge");
  const int64_t offset = static_cast<int64_t>(sequence_lengths_.size());
  auto lengths = other.sequence_lengths();
  sequence_lengths_.insert(sequence_lengths_.end(), lengths.begin(), lengths.end());
  auto docs = other.document_indices();
  for (size_t k = 1; k < docs.size(); ++k) document_indices_.push_back(offset + docs[k]);
  auto bytes = other.bin_data();
  bin_->write(bytes.data(), bytes.size());
  num_tokens_ += other.num_tokens();
}

void IndexedDatasetBuilder::finalize() {
  if (finalized_) throw Error(bin_path(prefix_) + ": finalize called twice");
  AtomicFile idx(idx_path(prefix_));
  const uint64_t version = 1;
  const uint8_t code = static_cast<uint8_t>(dtype_);
  const uint64_t s = sequence_lengths_.size();
  const uint64_t d = document_indices_.size();
  idx.write(kIndexMagic, sizeof kIndexMagic);
  idx.write(&version, sizeof version);
  idx.write(&code, sizeof code);
  idx.write(&s, sizeof s);
  idx.write(&d, sizeof d);
  idx.write(sequence_lengths_.data(), sequence_lengths_.size() * sizeof(int32_t));

  // Pointers are derived, so they are computed here in chunks instead of being kept.
  const int64_t item = static_cast<int64_t>(itemsize(dtype_));
  std::vector<int64_t> chunk;
  chunk.reserve(1 << 16);
  int64_t pointer = 0;
  for (int32_t length : sequence_lengths_) {
    chunk.push_back(pointer);
    pointer += static_cast<int64_t>(length) * item;
    if (chunk.size() == chunk.capacity()) {
      idx.write(chunk.data(), chunk.size() * sizeof(int64_t));
      chunk.clear();
    }
  }
  idx.write(chunk.data(), chunk.size() * sizeof(int64_t));
  idx.write(document_indices_.data(), document_indices_.size() * sizeof(int64_t));

  bin_->commit();
  idx.commit();
  finalized_ = true;
}

}  // namespace mcpp::data
