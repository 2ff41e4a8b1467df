// Four processes save one checkpoint concurrently, synchronised by a file-based barrier (standing
// in for MPI), each writing its tensor-parallel shard; the data-parallel replica writes nothing.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/format.h"
#include "test/checkpoint/checkpoint_test_util.h"
#include "test/common/test_support.h"

namespace fs = std::filesystem;
using namespace mcpp::ckpt;
using namespace mcpp::ckpt::test;

namespace {

// Each call is the next barrier: rank r announces itself with a file, then waits for all.
std::function<void()> file_barrier(const fs::path& sync_dir, int rank, int world) {
  auto generation = std::make_shared<int>(0);
  return [=] {
    int g = (*generation)++;
    std::ofstream(sync_dir / ("b" + std::to_string(g) + "_" + std::to_string(rank))).put('x');
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int r = 0; r < world; ++r) {
      while (!fs::exists(sync_dir / ("b" + std::to_string(g) + "_" + std::to_string(r)))) {
        if (std::chrono::steady_clock::now() > deadline) ::_exit(4);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  };
}

}  // namespace

TEST_CASE("ranks in separate processes save one checkpoint together") {
  fs::path dir = mcpp::test::scratch_dir("ckpt-mp");
  fs::path sync = mcpp::test::scratch_dir("ckpt-mp-sync");
  std::mt19937_64 rng(21);
  // tp = 2 (column-parallel split of dim 0), dp = 2 (ranks 2, 3 replicate ranks 0, 1).
  HostTensor fc1 = random_tensor(DType::kBFloat16, {32, 10}, rng);
  HostTensor exp_avg = random_tensor(DType::kFloat32, {32, 10}, rng);
  const int world = 4;
  std::vector<pid_t> children;
  for (int rank = 0; rank < world; ++rank) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        int tp_rank = rank % 2;
        bool dp_leader = rank < 2;
        Shape offsets{16 * tp_rank, 0}, shape{16, 10};
        CheckpointWriter writer(dir, 9, SaveOptions{rank, world, file_barrier(sync, rank, world)});
        std::vector<uint8_t> piece = slice(fc1, offsets, shape, fc1.dtype);
        writer.add("decoder.layers.0.mlp.linear_fc1.weight", fc1.dtype, fc1.shape, offsets, shape,
                   piece.data(), dp_leader);
        piece = slice(exp_avg, offsets, shape, exp_avg.dtype);
        writer.add("optimizer.exp_avg.decoder.layers.0.mlp.linear_fc1.weight", exp_avg.dtype,
                   exp_avg.shape, offsets, shape, piece.data(), dp_leader);
        if (rank == 0) {
          CommonState common;
          common.consumed_train_samples = 72;
          writer.set_common(common);
        }
        writer.commit();
        // After commit returns on any rank, the checkpoint is published.
        if (read_tracker(dir) != 9) status = 5;
      } catch (...) {
        status = 3;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  CheckpointReader reader = CheckpointReader::open(dir);
  REQUIRE(reader.iteration() == 9);
  REQUIRE(reader.common().consumed_train_samples == 72);
  // Load at tp = 4 (each quarter lies inside one saved half) and as one whole tensor.
  for (int part = 0; part < 4; ++part) {
    Shape offsets{8 * part, 0}, shape{8, 10};
    std::vector<uint8_t> out(80 * 2);
    reader.read("decoder.layers.0.mlp.linear_fc1.weight", offsets, shape, DType::kBFloat16, out.data());
    REQUIRE(out == slice(fc1, offsets, shape, DType::kBFloat16));
  }
  std::vector<uint8_t> out(320 * 4);
  reader.read_whole("optimizer.exp_avg.decoder.layers.0.mlp.linear_fc1.weight", DType::kFloat32, out.data());
  REQUIRE(out == exp_avg.bytes);
  REQUIRE(fs::file_size(dir / "iter_0000009" / "rank_2.bin") == 0);
  REQUIRE(fs::file_size(dir / "iter_0000009" / "rank_3.bin") == 0);
}
