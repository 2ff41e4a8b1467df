#include "data/preprocess/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "core/base/error.h"

namespace mcpp::data {
namespace {
constexpr size_t kBlockBytes = 4 << 20;
}

LineReader::LineReader(std::string path) : path_(std::move(path)) {
  gzFile gz = gzopen(path_.c_str(), "rb");
  check(gz != nullptr, "cannot open " + path_ + ": " + std::strerror(errno));
  gzbuffer(gz, 1 << 18);
  gz_ = gz;
  buffer_.resize(kBlockBytes);
}

LineReader::~LineReader() {
  if (gz_) gzclose(static_cast<gzFile>(gz_));
}

bool LineReader::fill() {
  if (eof_) return false;
  // Keep the unfinished tail at the front; grow when a single line fills the whole buffer.
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buffer_.size() - end_ < kBlockBytes / 2) buffer_.resize(buffer_.size() * 2);
  const size_t want = buffer_.size() - end_;
  const int got = gzread(static_cast<gzFile>(gz_), buffer_.data() + end_,
                         static_cast<unsigned>(std::min<size_t>(want, 1u << 30)));
  if (got < 0) {
    int errnum = 0;
    const char* message = gzerror(static_cast<gzFile>(gz_), &errnum);
    throw Error(path_ + ": read failed: " + (message ? message : "unknown error") +
                " (corrupt or truncated gzip file?)");
  }
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(got);
  return true;
}

bool LineReader::next(std::string_view& line) {
  size_t searched = begin_;
  while (true) {
    const void* nl = std::memchr(buffer_.data() + searched, '\n', end_ - searched);
    if (nl) {
      const size_t at = static_cast<const char*>(nl) - buffer_.data();
      line = std::string_view(buffer_.data() + begin_, at - begin_);
      begin_ = at + 1;
      ++line_number_;
      return true;
    }
    const size_t consumed_tail = end_ - begin_;
    if (!fill()) break;
    searched = begin_ + consumed_tail;
  }
  if (begin_ == end_) return false;
  line = std::string_view(buffer_.data() + begin_, end_ - begin_);
  begin_ = end_;
  ++line_number_;
  return true;
}

}  // namespace mcpp::data
