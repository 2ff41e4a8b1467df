#include "test/common/test_support.h"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mcpp::test {

fs::path source_dir() { return fs::path(MCPP_SOURCE_DIR); }

fs::path data_dir() {
  fs::path dir;
  if (const char* env = std::getenv("MEGATRON_TEST_DATA"); env && *env) {
    dir = env;
  } else {
    dir = source_dir() / ".." / "shared" / "data";
  }
  if (!fs::is_directory(dir)) {
    throw std::runtime_error("test data folder " + dir.string() +
                             " not found: set MEGATRON_TEST_DATA to the shared data folder");
  }
  return fs::canonical(dir);
}

fs::path data_file(const std::string& relative) {
  fs::path path = data_dir() / relative;
  if (!fs::exists(path)) throw std::runtime_error("missing test data file " + path.string());
  return path;
}

fs::path gunzipped_data_file(const std::string& relative_gz) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  fs::path source = data_file(relative_gz);
  std::string name = relative_gz;
  if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") name.resize(name.size() - 3);
  fs::path target = fs::path(MCPP_BINARY_DIR) / "test-data" / name;
  if (fs::exists(target) && fs::last_write_time(target) >= fs::last_write_time(source)) return target;
  fs::create_directories(target.parent_path());
  gzFile in = gzopen(source.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + source.string());
  fs::path temp = target.string() + ".tmp." + std::to_string(::getpid());
  std::ofstream out(temp, std::ios::binary);
  char buffer[1 << 16];
  int n;
  while ((n = gzread(in, buffer, sizeof buffer)) > 0) out.write(buffer, n);
  gzclose(in);
  out.close();
  if (n < 0) throw std::runtime_error("corrupt gzip file " + source.string());
  fs::rename(temp, target);
  return target;
}

fs::path program(const std::string& name) { return fs::path(MCPP_BINARY_DIR) / "bin" / name; }

fs::path scratch_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::path(MCPP_BINARY_DIR) / "test-tmp" /
                 (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

RunResult run(const std::string& command) {
  RunResult result;
  std::string full = "( " + command + " ) 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
void set_or_unset(const char* name, const std::optional<std::string>& value) {
  if (value) {
    ::setenv(name, value->c_str(), 1);
  } else {
    ::unsetenv(name);
  }
}
}  // namespace

ScopedEnvironment::ScopedEnvironment(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  set_or_unset(name, value);
}

ScopedEnvironment::~ScopedEnvironment() { set_or_unset(name_, old_); }

}  // namespace mcpp::test
