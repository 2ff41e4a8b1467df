#pragma once
// Reads a text file line by line in large blocks, transparently decompressing gzip (zlib detects
// it by its magic bytes, so `.gz` files and plain files take the same path). Memory use is one
// block plus the longest line.
#include <cstdint>
#include <string>
#include <string_view>

namespace mcpp::data {

class LineReader {
 public:
  explicit LineReader(std::string path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n' (a last line without one counts too); false at the end.
  // The view stays valid until the next call.
  bool next(std::string_view& line);

  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  // Reads more data after the unconsumed tail; false when the file is exhausted.
  bool fill();

  std::string path_;
  void* gz_ = nullptr;  // gzFile
  std::string buffer_;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // end of valid data
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

}  // namespace mcpp::data
