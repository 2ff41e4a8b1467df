#pragma once
// Per-thread memo of pre-token -> ids. Natural text repeats the same words all the time, so most
// pre-tokens skip the merge loop. Each thread owns its caches (no locks); a cache is tied to one
// tokenizer instance through a serial number that is never reused, and is simply wiped when full.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpp::data {

class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 128;  // longer pieces are rare: not worth keeping

  // The ids stored for `piece`, or an empty span with found = false.
  std::span<const int32_t> find(std::string_view piece, uint64_t hash, bool& found) const;
  void insert(std::string_view piece, uint64_t hash, std::span<const int32_t> ids);

  // The calling thread's cache for tokenizer `serial` (created on first use).
  static PieceCache& for_thread(uint64_t serial);

  // A serial number for a new tokenizer instance.
  static uint64_t new_serial();

 private:
  // 16 bytes; key_length 0 marks an empty slot (pieces are never empty).
  struct Slot {
    uint32_t hash_high = 0;
    uint32_t key_offset = 0;
    uint32_t ids_offset = 0;
    uint16_t key_length = 0;
    uint16_t ids_length = 0;
  };
  static constexpr size_t kSlots = size_t(1) << 18;
  static constexpr size_t kMaxEntries = kSlots / 2;

  void clear();

  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t entries_ = 0;
};

}  // namespace mcpp::data
