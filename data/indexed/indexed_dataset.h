#pragma once
// Reader of Megatron's MMIDIDX indexed dataset: `<prefix>.idx` (header + int arrays) and
// `<prefix>.bin` (raw token ids), both memory-mapped. The layout:
//   0  magic "MMIDIDX\0\0" (9 bytes)       9  u64 version = 1      17 u8 dtype code
//   18 u64 S (sequences)                   26 u64 D (document-index entries = documents + 1)
//   34 int32 sequence_lengths[S], int64 sequence_pointers[S] (byte offsets into .bin),
//      int64 document_indices[D] (first 0, last S); little-endian, no padding.
// open() checks every structural invariant, so later code can index the arrays without checks.
// The arrays start at unaligned offsets (34, 34+4S, ...): they are used in place, as numpy does,
// which x86-64 and AArch64 allow.
#include <cstdint>
#include <span>
#include <string>

#include "data/indexed/dtype.h"
#include "data/indexed/mapped_file.h"

namespace mcpp::data {

inline constexpr size_t kIndexHeaderBytes = 34;
inline constexpr char kIndexMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

inline std::string idx_path(const std::string& prefix) { return prefix + ".idx"; }
inline std::string bin_path(const std::string& prefix) { return prefix + ".bin"; }

class IndexedDataset {
 public:
  // Maps and validates <prefix>.idx and <prefix>.bin. Any inconsistency throws mcpp::Error with
  // one line naming the file and what is wrong.
  static IndexedDataset open(const std::string& prefix);

  const std::string& prefix() const { return prefix_; }
  size_t num_sequences() const { return num_sequences_; }
  // Documents (D - 1).
  size_t num_documents() const { return num_doc_indices_ - 1; }
  // Σ sequence lengths.
  uint64_t num_tokens() const { return num_tokens_; }
  DType dtype() const { return dtype_; }
  size_t itemsize() const { return data::itemsize(dtype_); }

  std::span<const int32_t> sequence_lengths() const;
  std::span<const int64_t> sequence_pointers() const;
  std::span<const int64_t> document_indices() const;

  // Copies `count` token ids of `sequence`, starting `offset` tokens into it, to `out`,
  // converting from the stored integer dtype. Throws on a range outside the sequence, on float
  // data and on int64 ids that do not fit int32.
  void read(size_t sequence, size_t offset, size_t count, int32_t* out) const;

  // The raw .bin bytes (all sequences back to back).
  std::span<const uint8_t> bin_data() const { return {bin_.data(), bin_.size()}; }
  size_t bin_bytes() const { return bin_.size(); }
  size_t idx_bytes() const { return idx_.size(); }

 private:
  IndexedDataset() = default;

  std::string prefix_;
  MappedFile idx_;
  MappedFile bin_;
  DType dtype_ = DType::int32;
  size_t num_sequences_ = 0;
  size_t num_doc_indices_ = 0;
  uint64_t num_tokens_ = 0;
};

}  // namespace mcpp::data
