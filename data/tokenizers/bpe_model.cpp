#include "data/tokenizers/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "core/base/error.h"
#include "data/tokenizers/byte_level.h"
#include "data/unicode/utf8.h"

namespace mcpp::data {
namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

// A candidate merge in the queue: lowest rank first, then leftmost position.
struct Candidate {
  uint32_t rank;
  uint32_t pos;
  int32_t merged_id;
  bool operator>(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

// Reused per thread so the merge loop allocates nothing once warm.
struct MergeScratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> queue;
};

MergeScratch& scratch() {
  thread_local MergeScratch s;
  return s;
}

}  // namespace

BpeModel::BpeModel(const Vocab& vocab, const Merges& merges, BpeModelOptions options,
                   const std::string& source)
    : options_(std::move(options)) {
  std::fill(std::begin(ascii_ids_), std::end(ascii_ids_), -1);
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  std::fill(std::begin(fallback_ids_), std::end(fallback_ids_), -1);

  int32_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    check(id >= 0, source + ": token '" + token + "' has a negative id; fix the vocabulary");
    max_id = std::max(max_id, id);
  }
  tokens_.assign(size_t(max_id + 1), std::string());
  has_token_.assign(size_t(max_id + 1), false);
  std::string raw;
  for (const auto& [token, id] : vocab) {
    token_ids_.insert(token, id);
    tokens_[id] = token;
    has_token_[id] = true;
    // Single-character tokens seed the merge loop.
    int length = 0;
    char32_t c = token.empty() ? unicode::kInvalidCodePoint
                               : unicode::decode_utf8(token.data(), token.data() + token.size(), &length);
    if (c != unicode::kInvalidCodePoint && size_t(length) == token.size()) {
      if (c < 128) ascii_ids_[c] = id;
      char_ids_.insert(c, uint64_t(id));
      if (options_.byte_level) {
        int byte = byte_level::byte_of_char(c);
        if (byte >= 0) byte_ids_[byte] = id;
      }
    }
    if (options_.byte_level) {
      raw.clear();
      if (byte_level::append_unmapped(token, raw)) raw_ids_.insert(raw, id);
    }
  }
  if (options_.byte_fallback) {
    char name[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      fallback_ids_[b] = token_ids_.find(name);
    }
  }
  if (options_.unk_token) {
    unk_id_ = token_ids_.find(*options_.unk_token);
    check(unk_id_ >= 0, source + ": unk_token '" + *options_.unk_token +
                            "' is not in the vocabulary; add it or remove unk_token");
  }

  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    int32_t left_id = token_ids_.find(left);
    int32_t right_id = token_ids_.find(right);
    int32_t merged_id = token_ids_.find(left + right);
    check(left_id >= 0 && right_id >= 0 && merged_id >= 0,
          source + ": merge " + std::to_string(rank + 1) + " '" + left + " " + right +
              "' uses a token missing from the vocabulary; the merges do not belong to this vocabulary");
    // The first (lowest-ranked) occurrence of a pair wins, as in Hugging Face.
    if (!merges_.find(pair_key(left_id, right_id)))
      merges_.insert(pair_key(left_id, right_id), (uint64_t(rank) << 32) | uint32_t(merged_id));
  }
}

const std::string* BpeModel::token_of(int32_t id) const {
  if (id < 0 || size_t(id) >= tokens_.size() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

bool BpeModel::starts_words(std::string_view mark) const {
  // ignore_merges looks at whole pieces, so cutting them would change its answer.
  if (mark.empty() || options_.byte_level || options_.ignore_merges || token_ids_.find(mark) < 0)
    return false;
  for (size_t id = 0; id < tokens_.size(); ++id) {
    const std::string& token = tokens_[id];
    for (size_t at = token.find(mark, 1); at != std::string::npos; at = token.find(mark, at + 1)) {
      bool after_mark = at >= mark.size() && token.compare(at - mark.size(), mark.size(), mark) == 0;
      if (!after_mark) return false;
    }
  }
  return true;
}

void BpeModel::initial_symbols(std::string_view piece, std::vector<int32_t>& ids) const {
  auto unknown = [&](const char* bytes, int length) {
    if (options_.byte_fallback) {
      bool all = true;
      for (int i = 0; i < length; ++i) all = all && fallback_ids_[uint8_t(bytes[i])] >= 0;
      if (all) {
        for (int i = 0; i < length; ++i) ids.push_back(fallback_ids_[uint8_t(bytes[i])]);
        return;
      }
    }
    if (unk_id_ < 0) return;  // no unk token: the character is dropped, as in Hugging Face
    if (options_.fuse_unk && !ids.empty() && ids.back() == unk_id_) return;
    ids.push_back(unk_id_);
  };

  const char* p = piece.data();
  const char* end = p + piece.size();
  if (options_.byte_level) {
    for (; p < end; ++p) {
      int32_t id = byte_ids_[uint8_t(*p)];
      if (id >= 0)
        ids.push_back(id);
      else
        unknown(p, 1);
    }
    return;
  }
  while (p < end) {
    uint8_t lead = uint8_t(*p);
    if (lead < 128) {
      int32_t id = ascii_ids_[lead];
      if (id >= 0)
        ids.push_back(id);
      else
        unknown(p, 1);
      ++p;
      continue;
    }
    int length = 0;
    char32_t c = unicode::decode_utf8(p, end, &length);
    const uint64_t* id = c == unicode::kInvalidCodePoint ? nullptr : char_ids_.find(c);
    if (id)
      ids.push_back(int32_t(*id));
    else
      unknown(p, length);
    p += length;
  }
}

void BpeModel::merge(std::vector<int32_t>& ids) const {
  const size_t n = ids.size();
  if (n < 2) return;
  MergeScratch& s = scratch();
  std::vector<Symbol>& symbols = s.symbols;
  std::vector<Candidate>& queue = s.queue;
  symbols.resize(n);
  queue.clear();
  for (size_t i = 0; i < n; ++i)
    symbols[i] = Symbol{ids[i], int32_t(i) - 1, i + 1 < n ? int32_t(i + 1) : -1, true};

  auto push_candidate = [&](int32_t pos) {
    const Symbol& left = symbols[pos];
    if (left.next < 0) return;
    const uint64_t* m = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (!m) return;
    queue.push_back(Candidate{uint32_t(*m >> 32), uint32_t(pos), int32_t(uint32_t(*m))});
    std::push_heap(queue.begin(), queue.end(), std::greater<>());
  };
  for (size_t i = 0; i + 1 < n; ++i) {
    const uint64_t* m = merges_.find(pair_key(ids[i], ids[i + 1]));
    if (m) queue.push_back(Candidate{uint32_t(*m >> 32), uint32_t(i), int32_t(uint32_t(*m))});
  }
  std::make_heap(queue.begin(), queue.end(), std::greater<>());

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), std::greater<>());
    Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    // A stale entry: one of the two symbols has merged with something else since.
    const uint64_t* m = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (!m || int32_t(uint32_t(*m)) != top.merged_id) continue;

    Symbol& right = symbols[left.next];
    right.alive = false;
    left.id = top.merged_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = int32_t(top.pos);
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(int32_t(top.pos));
  }

  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids[out++] = symbols[i].id;
  ids.resize(out);
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (options_.ignore_merges) {
    int32_t whole = options_.byte_level ? raw_ids_.find(piece) : token_ids_.find(piece);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  // Merge in place at the end of `out`: no temporary vector.
  size_t start = out.size();
  initial_symbols(piece, out);
  if (out.size() - start < 2) return;
  thread_local std::vector<int32_t> ids;
  ids.assign(out.begin() + start, out.end());
  merge(ids);
  out.resize(start);
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace mcpp::data
