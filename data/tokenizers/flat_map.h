#pragma once
// Small open-addressing hash maps for the tokenizer hot paths: merge ranks keyed by a packed
// (left id, right id) pair, and token strings keyed by their bytes. Both are built once and then
// only read, so they need no erase and no locking; lookups never allocate.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mcpp::data {

inline uint64_t mix64(uint64_t x) {
  // splitmix64 finaliser: cheap and spreads packed id pairs over all bits.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t hash_bytes(std::string_view s) {
  // 8 bytes at a time, then the tail; good enough for short token strings and fast.
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ s.size();
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix64(h ^ w);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return mix64(h ^ tail ^ (uint64_t(n) << 56));
}

// memcmp(a, b, n) == 0 for the short strings tokenizers compare, without a library call.
inline bool bytes_equal(const char* a, const char* b, size_t n) {
  while (n >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8;
    b += 8;
    n -= 8;
  }
  while (n--)
    if (*a++ != *b++) return false;
  return true;
}

// uint64 key -> uint64 value. The all-ones key is reserved as the empty marker. Key and value
// sit side by side so that a lookup touches one cache line.
class U64Map {
 public:
  static constexpr uint64_t kEmpty = ~0ULL;

  void reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < n * 2) capacity *= 2;
    entries_.assign(capacity, Entry{});
    mask_ = capacity - 1;
    size_ = 0;
  }

  // Inserts or overwrites; returns false when the key was already present.
  bool insert(uint64_t key, uint64_t value) {
    if ((size_ + 1) * 2 > entries_.size()) grow();
    size_t i = mix64(key) & mask_;
    while (entries_[i].key != kEmpty) {
      if (entries_[i].key == key) {
        entries_[i].value = value;
        return false;
      }
      i = (i + 1) & mask_;
    }
    entries_[i] = Entry{key, value};
    ++size_;
    return true;
  }

  const uint64_t* find(uint64_t key) const {
    if (entries_.empty()) return nullptr;
    size_t i = mix64(key) & mask_;
    while (true) {
      const Entry& e = entries_[i];
      if (e.key == key) return &e.value;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return size_; }

 private:
  struct Entry {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };

  void grow() {
    std::vector<Entry> old = std::move(entries_);
    reserve(old.empty() ? 8 : old.size());
    for (const Entry& e : old)
      if (e.key != kEmpty) insert(e.key, e.value);
  }

  std::vector<Entry> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Byte string -> int32 id. Keys are copied into one arena.
class StringIdMap {
 public:
  // Inserts `key` unless present; returns false when it was already there (the id is kept).
  bool insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (slots_[i].used) {
      if (slots_[i].hash == h && view(slots_[i]) == key) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{h, uint32_t(arena_.size()), uint32_t(key.size()), id, true};
    arena_.append(key);
    ++size_;
    return true;
  }

  // The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (slots_[i].used) {
      if (slots_[i].hash == h && slots_[i].length == key.size() &&
          bytes_equal(arena_.data() + slots_[i].offset, key.data(), key.size()))
        return slots_[i].id;
      i = (i + 1) & mask_;
    }
    return -1;
  }

  size_t size() const { return size_; }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.used) f(view(s), s.id);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    int32_t id = -1;
    bool used = false;
  };

  std::string_view view(const Slot& s) const { return {arena_.data() + s.offset, s.length}; }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    size_t capacity = old.empty() ? 16 : old.size() * 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (!s.used) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace mcpp::data
