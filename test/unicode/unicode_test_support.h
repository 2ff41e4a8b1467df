#pragma once
// Small readers for the unicode tests: whole lines of a gzip file, and a command's stdout.
#include <zlib.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace mcpp::test {

// Every line (without '\n') of the gzip-compressed file at `path`; throws when it cannot be read.
inline std::vector<std::string> read_gzip_lines(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string data;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(in, buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<size_t>(n));
  gzclose(in);
  if (n < 0) throw std::runtime_error("corrupt gzip file " + path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    lines.push_back(data.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// stdout of `command` run through /bin/sh; throws when it exits non-zero.
inline std::string command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buffer[1 << 16];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error("command failed: " + command);
  return out;
}

}  // namespace mcpp::test
