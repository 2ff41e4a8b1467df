#include "data/tokenizers/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_set>

#include "core/base/error.h"
#include "data/tokenizers/byte_level.h"
#include "data/unicode/utf8.h"

namespace mcpp::data {
namespace {

// The 256 bytes in the order of the code points that stand for them (GPT-2's vocabulary order).
std::array<uint8_t, 256> bytes_in_alphabet_order() {
  std::array<uint8_t, 256> bytes{};
  for (int b = 0; b < 256; ++b) bytes[b] = static_cast<uint8_t>(b);
  std::sort(bytes.begin(), bytes.end(),
            [](uint8_t x, uint8_t y) { return byte_level::char_of_byte(x) < byte_level::char_of_byte(y); });
  return bytes;
}

std::string mapped(std::string_view raw) {
  std::string out;
  byte_level::append_mapped(raw, out);
  return out;
}

using Pair = std::pair<int32_t, int32_t>;

uint64_t pair_key(Pair pair) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(pair.first)) << 32) | static_cast<uint32_t>(pair.second);
}
Pair pair_of(uint64_t key) { return {static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFFu)}; }

struct Word {
  std::vector<int32_t> symbols;
  uint64_t count;
};

// Heap entry: a pair with the count it had when pushed. Highest count first, then smallest pair.
struct Candidate {
  int64_t count;
  uint64_t key;
  bool operator<(const Candidate& other) const {
    if (count != other.count) return count < other.count;
    return key > other.key;  // (left, right) compare as the 64-bit key does
  }
};

// Merges every non-overlapping occurrence of `pair`, left to right, into `merged`.
void merge_word(std::vector<int32_t>& symbols, Pair pair, int32_t merged) {
  size_t out = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i + 1 < symbols.size() && symbols[i] == pair.first && symbols[i + 1] == pair.second) {
      symbols[out++] = merged;
      ++i;
    } else {
      symbols[out++] = symbols[i];
    }
  }
  symbols.resize(out);
}

}  // namespace

BpeTrainer::BpeTrainer(BpeTrainerOptions options)
    : options_(std::move(options)), split_(SplitPattern::compile(gpt2_split_regex())) {
  std::unordered_set<std::string> seen;
  for (const auto& token : options_.special_tokens) {
    check(!token.empty(), "--special-tokens: a special token must not be empty");
    check(seen.insert(token).second, "--special-tokens: '" + token + "' is given twice");
    check(unicode::find_invalid_utf8(token) == std::string::npos,
          "--special-tokens: '" + token + "' is not valid UTF-8");
  }
  const int64_t base = 256 + static_cast<int64_t>(options_.special_tokens.size());
  check(options_.vocab_size >= base, "--vocab-size " + std::to_string(options_.vocab_size) +
                                         " is too small: the 256 byte symbols and " +
                                         std::to_string(options_.special_tokens.size()) +
                                         " special tokens already need " + std::to_string(base));
}

void BpeTrainer::add_document(std::string_view text) {
  // Special tokens are never part of a learned token: cut the text at every occurrence.
  while (!text.empty()) {
    size_t first = std::string_view::npos;
    size_t length = 0;
    for (const auto& token : options_.special_tokens) {
      const size_t at = text.find(token);
      if (at < first || (at == first && token.size() > length)) {
        first = at;
        length = token.size();
      }
    }
    if (first == std::string_view::npos) {
      add_words(text);
      return;
    }
    add_words(text.substr(0, first));
    text.remove_prefix(first + length);
  }
}

void BpeTrainer::add_words(std::string_view text) {
  std::vector<std::string_view> pieces;
  split_->split(text, pieces);
  for (const auto piece : pieces) {
    auto it = word_counts_.find(std::string(piece));
    if (it == word_counts_.end()) it = word_counts_.emplace(std::string(piece), 0).first;
    ++it->second;
  }
}

TrainedBpe BpeTrainer::train() const {
  TrainedBpe result;
  std::unordered_map<std::string, int32_t> id_of;  // vocabulary text -> id
  // The id of `text`, added to the vocabulary when new (a text reached twice keeps one id).
  auto id_for = [&](std::string text) {
    if (const auto it = id_of.find(text); it != id_of.end()) return it->second;
    const auto id = static_cast<int32_t>(result.tokens.size());
    id_of.emplace(text, id);
    result.tokens.push_back(std::move(text));
    return id;
  };
  for (const auto& token : options_.special_tokens) id_for(token);
  result.special_count = result.tokens.size();
  std::array<int32_t, 256> byte_id{};
  for (uint8_t b : bytes_in_alphabet_order()) {
    byte_id[b] = id_for(mapped(std::string_view(reinterpret_cast<const char*>(&b), 1)));
  }

  // Words in a fixed order (sorted), so training does not depend on hash-map iteration order.
  std::vector<const std::pair<const std::string, uint64_t>*> sorted_words;
  sorted_words.reserve(word_counts_.size());
  for (const auto& entry : word_counts_) sorted_words.push_back(&entry);
  std::sort(sorted_words.begin(), sorted_words.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<Word> words;
  words.reserve(sorted_words.size());
  for (const auto* entry : sorted_words) {
    Word word{{}, entry->second};
    for (unsigned char b : entry->first) word.symbols.push_back(byte_id[b]);
    words.push_back(std::move(word));
  }

  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> words_with_pair;  // may hold stale entries
  for (uint32_t w = 0; w < words.size(); ++w) {
    const auto& symbols = words[w].symbols;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const uint64_t key = pair_key({symbols[i], symbols[i + 1]});
      pair_counts[key] += static_cast<int64_t>(words[w].count);
      auto& list = words_with_pair[key];
      if (list.empty() || list.back() != w) list.push_back(w);
    }
  }
  std::priority_queue<Candidate> queue;
  for (const auto& [key, count] : pair_counts) queue.push({count, key});

  std::vector<uint32_t> visited(words.size(), UINT32_MAX);  // merge step that last visited a word
  std::unordered_map<uint64_t, int64_t> delta;
  const auto vocab_size = static_cast<size_t>(options_.vocab_size);
  while (result.tokens.size() < vocab_size && !queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const auto current = pair_counts.find(top.key);
    if (current == pair_counts.end() || current->second != top.count) {
      // Stale entry: counts only fall, except for pairs that were pushed again when they rose.
      if (current != pair_counts.end() && current->second > 0 && current->second < top.count) {
        queue.push({current->second, top.key});
      }
      continue;
    }
    if (top.count <= 0 || static_cast<uint64_t>(top.count) < options_.min_frequency) break;

    const Pair pair = pair_of(top.key);
    // Byte-level text maps byte by byte, so the merged token's text is the concatenation.
    const int32_t merged = id_for(result.tokens[pair.first] + result.tokens[pair.second]);
    const auto step = static_cast<uint32_t>(result.merges.size());
    result.merges.push_back(pair);
    result.merge_results.push_back(merged);

    delta.clear();
    const std::vector<uint32_t> affected = std::move(words_with_pair[top.key]);
    words_with_pair.erase(top.key);
    for (const uint32_t w : affected) {
      if (visited[w] == step) continue;
      visited[w] = step;
      auto& symbols = words[w].symbols;
      const auto count = static_cast<int64_t>(words[w].count);
      for (size_t i = 0; i + 1 < symbols.size(); ++i) delta[pair_key({symbols[i], symbols[i + 1]})] -= count;
      merge_word(symbols, pair, merged);
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const uint64_t key = pair_key({symbols[i], symbols[i + 1]});
        delta[key] += count;
        if (symbols[i] == merged || symbols[i + 1] == merged) {
          auto& list = words_with_pair[key];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      auto& count = pair_counts[key];
      count += change;
      if (change > 0) queue.push({count, key});
    }
    pair_counts.erase(top.key);
  }
  return result;
}

std::string trained_bpe_tokenizer_json(const TrainedBpe& bpe) {
  using Json = nlohmann::ordered_json;
  Json added = Json::array();
  for (size_t id = 0; id < bpe.special_count; ++id) {
    added.push_back({{"id", id}, {"content", bpe.tokens[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  Json vocab = Json::object();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) vocab[bpe.tokens[id]] = id;
  Json merges = Json::array();
  for (const auto& [left, right] : bpe.merges) merges.push_back(bpe.tokens[left] + " " + bpe.tokens[right]);
  auto byte_level = [](bool add_prefix_space, bool trim_offsets) {
    return Json{{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", trim_offsets},
                {"use_regex", true}};
  };
  Json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level(false, true)},
      {"post_processor", byte_level(true, false)},
      {"decoder", byte_level(true, true)},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
  return tokenizer.dump(2, ' ', false) + "\n";
}

std::string trained_bpe_tokenizer_config_json(const TrainedBpe& bpe) {
  nlohmann::ordered_json config = {
      {"add_prefix_space", false},
      {"clean_up_tokenization_spaces", false},
      {"tokenizer_class", "PreTrainedTokenizerFast"},
  };
  if (bpe.special_count > 0) {
    config["bos_token"] = bpe.tokens[0];
    config["eos_token"] = bpe.tokens[0];
  }
  return config.dump(2, ' ', false) + "\n";
}

}  // namespace mcpp::data
