#include "core/base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/base/error.h"

namespace mcpp {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_path_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  check(file_ != nullptr, "cannot create " + temp_path_ + ": " + std::strerror(errno) +
                              " (check that the directory exists and is writable)");
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (bytes == 0) return;
  check(std::fwrite(data, 1, bytes, file_) == bytes,
        "write to " + temp_path_ + " failed: " + std::strerror(errno) + " (disk full?)");
  size_ += bytes;
}

void AtomicFile::commit() {
  check(std::fflush(file_) == 0, "flush of " + temp_path_ + " failed: " + std::strerror(errno));
  check(::fsync(::fileno(file_)) == 0, "fsync of " + temp_path_ + " failed: " + std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  check(std::rename(temp_path_.c_str(), path_.c_str()) == 0,
        "cannot rename " + temp_path_ + " to " + path_ + ": " + std::strerror(errno));
  committed_ = true;
  auto parent = std::filesystem::path(path_).parent_path();
  fsync_directory(parent.empty() ? "." : parent.string());
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

}  // namespace mcpp
