#include "data/tokenizers/bpe_tokenizer.h"

#include <deque>

#include "core/base/error.h"
#include "data/tokenizers/piece_cache.h"
#include "data/tokenizers/replace_all.h"
#include "data/unicode/normalize.h"

namespace mcpp::data {
namespace {

// Scratch buffers of one thread, reused across calls so steady-state encoding does not allocate.
struct EncodeScratch {
  std::string normalized;
  std::vector<std::string_view> pieces;
  std::vector<std::string_view> next_pieces;
  std::deque<std::string> prefixed;  // pieces that got a leading space (stable addresses)
};

EncodeScratch& scratch() {
  thread_local EncodeScratch s;
  return s;
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpePipeline pipeline)
    : p_(std::move(pipeline)), cache_serial_(PieceCache::new_serial()) {
  for (const AddedToken& t : p_.added_tokens) {
    (t.normalized ? normalized_added_ : raw_added_).add(t.content, t.id);
    if (t.id >= 0) {
      if (size_t(t.id) >= added_by_id_.size()) added_by_id_.resize(size_t(t.id) + 1);
      added_by_id_[t.id] = t.content;
    }
  }
  const std::string sentencepiece_space = "\xE2\x96\x81";  // U+2581 "▁"
  if (p_.pre_tokenizers.empty() && p_.model->starts_words(sentencepiece_space))
    word_start_ = sentencepiece_space;
}

int32_t BpeTokenizer::eod() const {
  check(p_.eod.has_value(), p_.eod_missing_message);
  return *p_.eod;
}

void BpeTokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  out.insert(out.end(), p_.prefix_ids.begin(), p_.prefix_ids.end());
  PieceCache& cache = PieceCache::for_thread(cache_serial_);
  raw_added_.split(text, out, [&](std::string_view segment, std::vector<int32_t>& ids) {
    encode_segment(segment, cache, ids);
  });
  out.insert(out.end(), p_.suffix_ids.begin(), p_.suffix_ids.end());
}

void BpeTokenizer::encode_segment(std::string_view segment, PieceCache& cache,
                                  std::vector<int32_t>& out) const {
  if (p_.normalizers.empty() && normalized_added_.empty()) {
    encode_normalized(segment, cache, out);
    return;
  }
  std::string& normalized = scratch().normalized;
  normalized.assign(segment);
  for (const NormalizeStep& step : p_.normalizers) {
    switch (step.kind) {
      case NormalizeStep::Kind::kNfc:
        // Hugging Face's flavour: its Unicode 9.0 data leaves newer marks alone.
        normalized = unicode::huggingface_nfc(normalized);
        break;
      case NormalizeStep::Kind::kPrepend:
        if (!normalized.empty()) normalized.insert(0, step.text);
        break;
      case NormalizeStep::Kind::kReplace:
        replace_all(normalized, step.text, step.replacement);
        break;
    }
  }
  normalized_added_.split(normalized, out, [&](std::string_view text, std::vector<int32_t>& ids) {
    encode_normalized(text, cache, ids);
  });
}

void BpeTokenizer::encode_normalized(std::string_view text, PieceCache& cache,
                                     std::vector<int32_t>& out) const {
  if (p_.pre_tokenizers.empty()) {
    if (word_start_.empty()) {
      encode_piece(text, cache, out);
      return;
    }
    // Cut before each word-start mark that follows another character.
    const std::string_view mark = word_start_;
    size_t start = 0;
    for (size_t at = text.find(mark, 1); at != std::string_view::npos; at = text.find(mark, at + mark.size())) {
      if (at >= mark.size() && text.compare(at - mark.size(), mark.size(), mark) == 0) continue;
      encode_piece(text.substr(start, at - start), cache, out);
      start = at;
    }
    encode_piece(text.substr(start), cache, out);
    return;
  }
  EncodeScratch& s = scratch();
  s.pieces.assign(1, text);
  s.prefixed.clear();
  for (const PreTokenizeStep& step : p_.pre_tokenizers) {
    if (step.add_prefix_space) {
      for (std::string_view& piece : s.pieces) {
        if (!piece.empty() && piece.front() == ' ') continue;
        s.prefixed.push_back(" " + std::string(piece));
        piece = s.prefixed.back();
      }
    }
    if (step.pattern) {
      s.next_pieces.clear();
      for (std::string_view piece : s.pieces) step.pattern->split(piece, s.next_pieces);
      s.pieces.swap(s.next_pieces);
    }
  }
  for (std::string_view piece : s.pieces) encode_piece(piece, cache, out);
}

void BpeTokenizer::encode_piece(std::string_view piece, PieceCache& cache,
                                std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (piece.size() > PieceCache::kMaxPieceBytes) {
    p_.model->encode(piece, out);
    return;
  }
  uint64_t hash = hash_bytes(piece);
  if (cache.find(piece, hash, out)) return;
  size_t start = out.size();
  p_.model->encode(piece, out);
  cache.insert(piece, hash, std::span<const int32_t>(out.data() + start, out.size() - start));
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    // Ids that name no token are skipped, as Hugging Face does.
    if (id >= 0 && size_t(id) < added_by_id_.size() && !added_by_id_[id].empty()) {
      tokens.push_back(added_by_id_[id]);
    } else if (const std::string* token = p_.model->token_of(id)) {
      tokens.push_back(*token);
    }
  }
  return p_.decoder.decode(std::move(tokens));
}

}  // namespace mcpp::data
