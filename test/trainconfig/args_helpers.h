#pragma once
// Small helpers shared by the flag tests.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "app/train_args.h"
#include "core/base/error.h"

namespace mcpp::test {

// Splits on spaces (no quoting needed in these tests).
inline std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

inline app::TrainArgs parse(const std::string& text) { return app::parse_train_args(words(text)); }

// The message of the mcpp::Error that `fn` throws ("" when it does not throw).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const mcpp::Error& e) {
    return e.what();
  }
  return "";
}

// A small valid GPT model and training setup; tests add or change flags on top.
inline const char* kTinyModel =
    "--num-layers 4 --hidden-size 64 --num-attention-heads 4 --seq-length 32 "
    "--max-position-embeddings 32 --micro-batch-size 2 --train-iters 10 --lr 1e-3 --vocab-size 1000 ";

}  // namespace mcpp::test
