#pragma once
// Helpers every test uses: where the shared test data is, where the built programs are, a fresh
// scratch directory, and running a program to capture its exit status and output.
#include <filesystem>
#include <optional>
#include <string>

namespace mcpp::test {

// The shared data folder: $MEGATRON_TEST_DATA, else <repo>/../shared/data. Fails the test
// (throws) when it does not exist: tests never skip for lack of data.
std::filesystem::path data_dir();

// <data_dir>/<relative>, failing when missing.
std::filesystem::path data_file(const std::string& relative);

// A .gz file of the shared data, decompressed once into the build tree; returns that path.
std::filesystem::path gunzipped_data_file(const std::string& relative_gz);

// build/bin/<name>
std::filesystem::path program(const std::string& name);

// The repository root.
std::filesystem::path source_dir();

// A new, empty directory under build/test-tmp/, unique to this call.
std::filesystem::path scratch_dir(const std::string& tag);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh, capturing stdout+stderr.
RunResult run(const std::string& command);

// Reads a whole file as bytes.
std::string read_file(const std::filesystem::path& path);

// Sets an environment variable (unsets it for nullopt) for the lifetime of the object, then
// restores what was there before.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, std::optional<std::string> value);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace mcpp::test
