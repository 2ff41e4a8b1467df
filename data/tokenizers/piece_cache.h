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

  // Appends the ids stored for `piece` to `out`; false when there are none.
  bool find(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const;
  void insert(std::string_view piece, uint64_t hash, std::span<const int32_t> ids);

  // The calling thread's cache for tokenizer `serial` (created on first use).
  static PieceCache& for_thread(uint64_t serial);

  // A serial number for a new tokenizer instance.
  static uint64_t new_serial();

 private:
  // 12 bytes; key_length 0 marks an empty slot (pieces are never empty). An entry's key bytes
  // and then its ids lie together in `entries_`, so a hit reads one place.
  struct Slot {
    uint32_t hash_high = 0;
    uint32_t offset = 0;
    uint16_t key_length = 0;
    uint16_t ids_length = 0;
  };
  static constexpr size_t kSlots = size_t(1) << 18;
  static constexpr size_t kMaxEntries = kSlots / 2;

  void clear();

  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
  std::string entries_;
  size_t count_ = 0;
};

}  // namespace mcpp::data
