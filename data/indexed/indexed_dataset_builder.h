#pragma once
// Writes a Megatron MMIDIDX dataset (<prefix>.bin + <prefix>.idx), byte-identical to Megatron's
// IndexedDatasetBuilder. Token ids stream to a temporary .bin as documents arrive; only the
// per-sequence lengths and the document index stay in memory (12 bytes a sequence). finalize()
// writes the .idx and renames both files into place; a builder destroyed before that leaves
// nothing behind.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/atomic_file.h"
#include "data/indexed/dtype.h"

namespace mcpp::data {

class IndexedDataset;

class IndexedDatasetBuilder {
 public:
  IndexedDatasetBuilder(std::string prefix, DType dtype);

  // One document made of sequences: `tokens` is their concatenation and `sequence_lengths` the
  // token count of each (their sum must equal tokens.size()). An empty document (no sequences)
  // still counts as a document.
  void add_document(std::span<const int32_t> tokens, std::span<const int32_t> sequence_lengths);

  // Appends every document of `other` (same dtype required), as Megatron's add_index does.
  void add_index(const IndexedDataset& other);

  // Writes <prefix>.idx and commits both files. Call once.
  void finalize();

  const std::string& prefix() const { return prefix_; }
  DType dtype() const { return dtype_; }
  size_t num_sequences() const { return sequence_lengths_.size(); }
  size_t num_documents() const { return document_indices_.size() - 1; }
  uint64_t num_tokens() const { return num_tokens_; }

 private:
  std::string prefix_;
  DType dtype_;
  std::unique_ptr<AtomicFile> bin_;
  std::vector<int32_t> sequence_lengths_;
  std::vector<int64_t> document_indices_{0};
  std::vector<uint8_t> scratch_;  // tokens converted to dtype_, reused between documents
  uint64_t num_tokens_ = 0;
  bool finalized_ = false;
};

}  // namespace mcpp::data
