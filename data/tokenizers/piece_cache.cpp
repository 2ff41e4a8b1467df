#include "data/tokenizers/piece_cache.h"

#include "data/tokenizers/flat_map.h"

#include <atomic>
#include <cstring>
#include <utility>

namespace mcpp::data {

bool PieceCache::find(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const {
  size_t i = hash & (kSlots - 1);
  const uint32_t high = uint32_t(hash >> 32);
  while (slots_[i].key_length != 0) {
    const Slot& s = slots_[i];
    if (s.hash_high == high && s.key_length == piece.size() &&
        bytes_equal(entries_.data() + s.offset, piece.data(), piece.size())) {
      size_t old_size = out.size();
      out.resize(old_size + s.ids_length);
      std::memcpy(out.data() + old_size, entries_.data() + s.offset + s.key_length,
                  s.ids_length * sizeof(int32_t));
      return true;
    }
    i = (i + 1) & (kSlots - 1);
  }
  return false;
}

void PieceCache::insert(std::string_view piece, uint64_t hash, std::span<const int32_t> ids) {
  if (piece.empty() || piece.size() > kMaxPieceBytes || ids.size() > 0xFFFF) return;
  if (count_ >= kMaxEntries) clear();
  size_t i = hash & (kSlots - 1);
  while (slots_[i].key_length != 0) i = (i + 1) & (kSlots - 1);
  slots_[i] = Slot{uint32_t(hash >> 32), uint32_t(entries_.size()), uint16_t(piece.size()),
                   uint16_t(ids.size())};
  entries_.append(piece);
  entries_.append(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
  ++count_;
}

void PieceCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  entries_.clear();
  count_ = 0;
}

uint64_t PieceCache::new_serial() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

PieceCache& PieceCache::for_thread(uint64_t serial) {
  // A thread rarely uses more than one or two tokenizers; keep the few most recent.
  constexpr size_t kMaxCaches = 4;
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<PieceCache>>> caches;
  for (size_t i = 0; i < caches.size(); ++i) {
    if (caches[i].first != serial) continue;
    if (i != 0) std::swap(caches[i], caches[0]);
    return *caches[0].second;
  }
  if (caches.size() >= kMaxCaches) caches.pop_back();
  caches.insert(caches.begin(), {serial, std::make_unique<PieceCache>()});
  return *caches[0].second;
}

}  // namespace mcpp::data
