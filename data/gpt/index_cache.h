#pragma once
// On-disk cache of a GPT dataset's indices, so large datasets are indexed once. Our own format
// and names (never Megatron's .npy names, which can sit in the same directory):
//   <dir>/<key hash>-mcpp-GPTDataset-<split>.idxcache
// File: magic "MCPPGPTI", u32 format version, u64 description bytes, the description (JSON of
// every input that shapes the indices), i64 tokens/epoch, i64 epochs, u8 separate final epoch,
// u64 array lengths (document, sample, shuffle), the three arrays (int32, int64, int64),
// then a u64 checksum (hash_bytes) of everything before it. A file whose description or
// checksum does not match is ignored and rebuilt.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "data/gpt/gpt_indices.h"

namespace mcpp::data {

// A fast 64-bit hash for change detection (checksums, cache keys); not cryptographic. Chaining
// calls through `hash` depends on how the bytes are split into calls.
uint64_t hash_bytes(const void* data, size_t bytes, uint64_t hash = 0xCBF29CE484222325ULL);
// hash_bytes with a final mix, as 16 hex digits.
std::string hash_hex(const void* data, size_t bytes);

// "<dir>/<16 hex digits of the description hash>-mcpp-GPTDataset-<split>.idxcache"
std::string index_cache_path(const std::string& dir, const std::string& description,
                             const std::string& split);

// The cached indices when `path` holds a complete file for exactly `description`.
std::optional<GptIndices> load_index_cache(const std::string& path, const std::string& description);

// Writes atomically (temp file + rename), creating `path`'s directory. Throws mcpp::Error when
// the location is not writable.
void save_index_cache(const std::string& path, const std::string& description,
                      const GptIndices& indices);

}  // namespace mcpp::data
