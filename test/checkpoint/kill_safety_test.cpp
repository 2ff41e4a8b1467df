// A save killed at any moment must leave the previous checkpoint loadable: a child process
// writes a large checkpoint and is SIGKILLed while its files are being written.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "test/checkpoint/checkpoint_test_util.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;
using namespace mcpp::ckpt::test;

namespace {

void save_small(const fs::path& dir, int64_t iteration, const HostTensor& t) {
  CheckpointWriter writer(dir, iteration);
  writer.add_whole("embedding.word_embeddings.weight", t.dtype, t.shape, t.bytes.data());
  CommonState common;
  common.consumed_train_samples = iteration * 8;
  writer.set_common(common);
  writer.commit();
}

void require_loads(const fs::path& dir, int64_t iteration, const HostTensor& t) {
  CheckpointReader reader = CheckpointReader::open(dir);
  REQUIRE(reader.iteration() == iteration);
  REQUIRE(reader.common().consumed_train_samples == iteration * 8);
  std::vector<uint8_t> out(t.bytes.size());
  reader.read_whole("embedding.word_embeddings.weight", t.dtype, out.data());
  REQUIRE(out == t.bytes);
}

}  // namespace

TEST_CASE("SIGKILL during a save leaves the previous checkpoint loadable") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-kill");
  std::mt19937_64 rng(11);
  HostTensor previous = random_tensor(DType::kBFloat16, {100, 64}, rng);
  save_small(dir, 1, previous);

  fs::path temp_data = dir / "iter_0000002.tmp" / "rank_0.bin";
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: a checkpoint of 400 x 1 MiB tensors, far more than is written before the kill.
    int status = 0;
    try {
      std::vector<float> block(1 << 18, 0.5f);
      CheckpointWriter writer(dir, 2);
      for (int i = 0; i < 400; ++i) {
        writer.add_whole("decoder.layers." + std::to_string(i) + ".mlp.linear_fc1.weight",
                         DType::kFloat32, {512, 512}, block.data());
      }
      writer.commit();
    } catch (...) {
      status = 3;
    }
    ::_exit(status);
  }
  // Parent: wait until the child has started writing data, then kill it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::error_code ec;
  while (!(fs::exists(temp_data, ec) && fs::file_size(temp_data, ec) > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // killed mid-save, not finished
  REQUIRE(WTERMSIG(status) == SIGKILL);

  REQUIRE(fs::exists(dir / "iter_0000002.tmp"));
  REQUIRE_FALSE(fs::exists(dir / "iter_0000002"));
  REQUIRE(mcpp::test::read_file(dir / "latest_checkpointed_iteration.txt") == "1");
  require_loads(dir, 1, previous);
  require_error([&] { CheckpointReader::open(dir, 2); }, {"iter_0000002", "does not exist"});

  // The next save ignores and removes the leftover, then becomes the latest.
  std::ofstream(dir / "latest_checkpointed_iteration.txt.tmp.99999") << "5";  // a killed tracker update
  HostTensor next = random_tensor(DType::kBFloat16, {100, 64}, rng);
  save_small(dir, 2, next);
  REQUIRE_FALSE(fs::exists(dir / "iter_0000002.tmp"));
  REQUIRE_FALSE(fs::exists(dir / "latest_checkpointed_iteration.txt.tmp.99999"));
  require_loads(dir, 2, next);
}
