#pragma once
// A whole file mapped read-only into memory (empty files map to an empty range).
#include <cstddef>
#include <cstdint>
#include <string>

namespace mcpp::data {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path`; throws mcpp::Error naming the file when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mcpp::data
