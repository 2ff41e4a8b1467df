#pragma once
// Ids -> text: the token strings pass through a chain of Hugging Face decoders (ByteLevel,
// Replace, ByteFallback, Fuse, Strip), each taking and giving a list of strings, then are joined.
#include <cstddef>
#include <string>
#include <vector>

namespace mcpp::data {

struct DecodeStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip };
  Kind kind;
  std::string pattern;      // kReplace: the string to replace
  std::string replacement;  // kReplace: what replaces it; kStrip: the character to strip
  size_t strip_start = 0;   // kStrip: at most this many from the front of each token
  size_t strip_stop = 0;    // kStrip: at most this many from the back
};

class Decoder {
 public:
  void add(DecodeStep step) { steps_.push_back(std::move(step)); }

  // Makes decode() throw mcpp::Error(message): the file names a decoder this code lacks.
  void set_unsupported(std::string message) { unsupported_ = std::move(message); }

  // Without steps, tokens are joined with spaces (Hugging Face's behaviour with no decoder).
  std::string decode(std::vector<std::string> tokens) const;

 private:
  std::vector<DecodeStep> steps_;
  std::string unsupported_;
};

}  // namespace mcpp::data
