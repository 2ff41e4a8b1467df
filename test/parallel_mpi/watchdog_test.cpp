// The --distributed-timeout-minutes watchdog: a rank stuck in a collective that another rank
// never enters exits non-zero with one line naming rank, group and operation; runs whose
// operations all finish in time are not disturbed.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "parallel/mpi_communicator.h"
#include "parallel/process_groups.h"
#include "parallel/watchdog.h"
#include "test/common/mpi_test_util.h"
#include "test/common/test_support.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::launch_on_ranks;
using mcpp::parallel::testing::launch_without_launcher;
using mcpp::parallel::testing::mpi;
using mcpp::test::ScopedEnvironment;
using namespace std::chrono_literals;

namespace {

constexpr const char* kVariable = "MCPP_DISTRIBUTED_TIMEOUT_SECONDS";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the distributed timeout comes from the flag unless the environment overrides it") {
  {
    ScopedEnvironment unset(kVariable, std::nullopt);
    const DistributedTimeout flag = distributed_timeout(10);
    CHECK(flag.duration == std::chrono::minutes(10));
    CHECK(flag.source == "--distributed-timeout-minutes");
    CHECK(distributed_timeout(0).duration.count() == 0);
  }
  {
    ScopedEnvironment seconds(kVariable, "2");
    const DistributedTimeout timeout = distributed_timeout(10);
    CHECK(timeout.duration == 2s);
    CHECK(timeout.source == kVariable);
  }
  {
    ScopedEnvironment fraction(kVariable, "0.25");
    CHECK(distributed_timeout(10).duration == 250ms);
  }
  for (const char* bad : {"0", "-1", "2m", "nan"}) {
    INFO(bad);
    ScopedEnvironment invalid(kVariable, bad);
    CHECK_THROWS_WITH(distributed_timeout(10), Catch::Contains(kVariable) && Catch::Contains(bad));
  }
}

TEST_CASE("operations that finish within the timeout never trip the watchdog") {
  Watchdog watchdog({150ms, "test"}, 0);
  // Many short operations over several timeouts: each one is cleared when it ends.
  const auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until) {
    const WatchedOperation operation(&watchdog, "tp", "all_reduce");
    std::this_thread::sleep_for(1ms);
  }
  // A device operation is in flight until its probe says it finished.
  std::atomic<bool> gpu_done{false};
  {
    WatchedOperation operation(&watchdog, "dp", "reduce_scatter");
    operation.release_when([&gpu_done] { return gpu_done.load(); });
  }
  CHECK(watchdog.in_flight() == 1);
  std::this_thread::sleep_for(50ms);
  CHECK(watchdog.in_flight() == 1);
  gpu_done = true;
  for (int i = 0; i < 100 && watchdog.in_flight() > 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(watchdog.in_flight() == 0);
  std::this_thread::sleep_for(200ms);  // longer than the timeout: nothing left to expire
}

TEST_CASE("rank body: an operation whose GPU work never finishes", "[.][watchdog-stuck-device]") {
  Watchdog watchdog({300ms, "test timeout"}, 0);
  WatchedOperation operation(&watchdog, "pp", "send_recv");
  operation.release_when([] { return false; });
  std::this_thread::sleep_for(20s);  // the watchdog must end the process long before this
  FAIL("the watchdog did not end the process");
}

TEST_CASE("a device operation that never finishes ends the process") {
  const auto start = std::chrono::steady_clock::now();
  const mcpp::test::RunResult result = launch_without_launcher("[watchdog-stuck-device]");
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.output,
                 "rank 0: collective send_recv on group pp did not finish within 0.3 seconds (test timeout); exiting"));
  CHECK(std::chrono::steady_clock::now() - start < 15s);
}

TEST_CASE("rank body: rank 1 skips an all-reduce", "[.][watchdog-skip]") {
  REQUIRE(mpi().size() == 2);
  ProcessGroups groups(ProcessGroupOptions{});  // dp = world
  REQUIRE(groups.watchdog() != nullptr);
  REQUIRE(groups.dp.size() == 2);
  Tensor values = Tensor::empty({4});
  values.fill(1.0);
  if (groups.world_rank() == 0) {
    groups.dp.comm->all_reduce(values);
    FAIL("the all-reduce without rank 1 returned");
  } else {
    std::this_thread::sleep_for(60s);  // ended by mpirun once rank 0 exits
  }
}

TEST_CASE("a rank waiting for a collective another rank skips exits after the timeout") {
  const auto start = std::chrono::steady_clock::now();
  const mcpp::test::RunResult result =
      launch_on_ranks(2, "[watchdog-skip]", std::string("timeout 90 env ") + kVariable + "=2");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.output, "rank 0: collective all_reduce on group dp did not finish within 2 seconds "
                                "(MCPP_DISTRIBUTED_TIMEOUT_SECONDS); exiting"));
  CHECK_FALSE(contains(result.output, "rank 1: collective"));
  // The timeout plus start-up, far below rank 1's sleep and the outer limit.
  CHECK(elapsed < 30s);
}

TEST_CASE("rank body: collectives in time with the watchdog on", "[.][watchdog-in-time]") {
  REQUIRE(mpi().size() == 4);
  ProcessGroupOptions options;
  options.sizes.pp = 2;
  ProcessGroups groups(options);
  REQUIRE(groups.watchdog() != nullptr);
  CHECK(groups.watchdog()->timeout().duration == 2s);
  CHECK(groups.tp.name == "tp");
  CHECK(groups.dp_cp.name == "dp-cp");
  CHECK(groups.model_parallel.name == "mp");
  CHECK(groups.embedding.name == "embedding");
  CHECK(groups.pp.comm->name() == "pp");
  const int rank = groups.world_rank();
  // About 3 s of operations in all, each waiting well below the 2 s timeout for a late peer.
  for (int step = 0; step < 5; ++step) {
    if (rank == step % groups.world_size()) std::this_thread::sleep_for(600ms);
    Tensor values = Tensor::empty({3});
    values.fill(double(rank));
    groups.grad_stats.comm->all_reduce(values);
    CHECK(values.data<float>()[2] == float(groups.world_size() * (groups.world_size() - 1) / 2));
    groups.dp.comm->all_reduce_async(values).wait();
    Tensor out = Tensor::empty({2}), in = Tensor::empty({2});
    out.fill(double(rank));
    const int peer = 1 - groups.pp.rank();
    groups.pp.comm->send_recv(out, peer, in, peer);
    groups.embedding.comm->barrier();
  }
  CHECK(groups.watchdog()->in_flight() == 0);
}

TEST_CASE("collectives that finish in time run normally with the watchdog on") {
  const mcpp::test::RunResult result =
      launch_on_ranks(4, "[watchdog-in-time]", std::string("timeout 120 env ") + kVariable + "=2");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK_FALSE(contains(result.output, "did not finish"));
}
