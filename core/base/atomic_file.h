#pragma once
// Files that appear all at once or not at all: data is written to "<path>.tmp.<pid>", flushed,
// fsync'ed and renamed over <path> by commit(). If the object is destroyed without commit()
// (an error, an exception), the temporary file is removed and <path> is untouched.
#include <cstdio>
#include <string>
#include <string_view>

namespace mcpp {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Bytes written so far.
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Flush, fsync, rename into place. Throws mcpp::Error on any I/O failure.
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  size_t size_ = 0;
  bool committed_ = false;
};

// fsync a directory so a rename inside it is durable.
void fsync_directory(const std::string& dir);

}  // namespace mcpp
