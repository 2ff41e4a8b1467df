// The NCCL communicator against the MPI communicator under `mpirun -np 2` (one GPU per rank):
// every operation on the same data must give the same bytes. Inputs are small integers, so
// fp32 and bf16 sums are exact whatever the order of accumulation.
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/base/cuda/device_allocator.h"
#include "core/base/cuda/stream.h"
#include "core/comm/communicator.h"
#include "parallel/cuda/local_device.h"
#include "parallel/cuda/nccl_communicator.h"
#include "parallel/group_communicator.h"
#include "parallel/local_rank.h"
#include "parallel/process_groups.h"
#include "parallel/watchdog.h"
#include "test/common/mpi_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::launch_on_ranks;
using mcpp::parallel::testing::run_on_ranks;

namespace {

constexpr int kRanks = 2;

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

// Initialises MPI (first use) and selects this rank's GPU.
void use_local_device() {
  REQUIRE(mpi().size() == kRanks);
  const int device = use_local_cuda_device(MPI_COMM_WORLD);
  CHECK(device == device_for_local_rank(node_local_rank(MPI_COMM_WORLD), device_count()));
  int current = -1;
  cudaGetDevice(&current);
  CHECK(current == device);
}

// A host tensor of `n` elements with small integer values that differ by rank and position.
Tensor host_values(int64_t n, DType dtype, int rank, int salt = 0) {
  Tensor values = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) values.data<float>()[i] = float((i * 7 + rank * 3 + salt) % 17 - 8);
  if (dtype == DType::F32) return values;
  Tensor converted = Tensor::empty({n}, dtype);
  if (dtype == DType::I64) {
    for (int64_t i = 0; i < n; ++i)
      converted.data<int64_t>()[i] = (int64_t(1) << 40) * (rank + 1) + int64_t(values.data<float>()[i]);
  } else {
    converted.copy_from(values);
  }
  return converted;
}

Tensor on(Device device, const Tensor& host) {
  if (device == Device::CPU) return host;
  Tensor copy = Tensor::empty(host.shape(), host.dtype(), device);
  copy.copy_from(host);
  return copy;
}

Tensor to_host(const Tensor& tensor) {
  Tensor copy = Tensor::empty(tensor.shape(), tensor.dtype());
  copy.copy_from(tensor);
  return copy;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.nbytes() == b.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Runs `operation` through the MPI communicator on host tensors and through the NCCL one on
// device tensors; the results must be equal bytes.
using Operation = std::function<Tensor(comm::Communicator&, Device)>;

struct Communicators {
  std::shared_ptr<Watchdog> watchdog = std::make_shared<Watchdog>(DistributedTimeout{std::chrono::minutes(2), "test"},
                                                                  mpi().rank());
  std::unique_ptr<comm::Communicator> host = make_group_communicator(Device::CPU, MPI_COMM_WORLD, "world", watchdog);
  std::unique_ptr<comm::Communicator> device = make_group_communicator(Device::CUDA, MPI_COMM_WORLD, "world", watchdog);

  void check_same(const std::string& what, DType dtype, const Operation& operation) {
    INFO(what << " " << dtype_name(dtype) << " on rank " << mpi().rank());
    const Tensor expected = operation(*host, Device::CPU);
    const Tensor got = to_host(operation(*device, Device::CUDA));
    CHECK(same_bytes(expected, got));
  }
};

}  // namespace

TEST_CASE("rank body: NCCL against MPI", "[.][rank-nccl]") {
  REQUIRE(mpi().size() == kRanks);
  use_local_device();
  Communicators c;
  const int r = mpi().rank(), n = mpi().size();
  REQUIRE(c.device->rank() == r);
  REQUIRE(c.device->size() == n);
  REQUIRE(dynamic_cast<NcclCommunicator*>(c.device.get()) != nullptr);

  for (DType dtype : {DType::F32, DType::BF16, DType::I64}) {
    for (comm::ReduceOp op : {comm::ReduceOp::sum, comm::ReduceOp::max}) {
      const char* name = op == comm::ReduceOp::sum ? "all_reduce sum" : "all_reduce max";
      c.check_same(name, dtype, [&](comm::Communicator& comm, Device device) {
        Tensor t = on(device, host_values(1000, dtype, r));
        comm.all_reduce(t, op);
        return t;
      });
      c.check_same("reduce_scatter", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor input = on(device, host_values(6 * n, dtype, r));
        Tensor output = Tensor::empty({6}, dtype, device);
        comm.reduce_scatter(input, output, op);
        return output;
      });
      c.check_same("reduce_scatter in place", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor input = on(device, host_values(5 * n, dtype, r));
        comm.reduce_scatter(input, input.sub(5 * r, {5}), op);
        return input.sub(5 * r, {5});
      });
      c.check_same("reduce_scatter overlapping", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor input = on(device, host_values(4 * n, dtype, r));
        comm.reduce_scatter(input, input.sub(1, {4}), op);  // overlaps, but not the in-place part
        return input;
      });
    }
    c.check_same("all_gather", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor input = on(device, host_values(7, dtype, r));
      Tensor output = Tensor::empty({int64_t(7 * n)}, dtype, device);
      comm.all_gather(input, output);
      return output;
    });
    c.check_same("all_gather in place", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor output = on(device, host_values(3 * n, dtype, r));
      comm.all_gather(output.sub(3 * r, {3}), output);
      return output;
    });
    c.check_same("broadcast", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor t = on(device, host_values(9, dtype, r));
      comm.broadcast(t, n - 1);
      return t;
    });
    c.check_same("send/recv", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor out = on(device, host_values(11, dtype, r, 1));
      Tensor in = Tensor::zeros({11}, dtype, device);
      const int next = (r + 1) % n, prev = (r + n - 1) % n;
      if (r % 2 == 0) {
        comm.send(out, next);
        comm.recv(in, prev);
      } else {
        comm.recv(in, prev);
        comm.send(out, next);
      }
      return in;
    });
    c.check_same("send_recv", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor out = on(device, host_values(13, dtype, r, 2));
      Tensor in = Tensor::zeros({13}, dtype, device);
      comm.send_recv(out, (r + 1) % n, in, (r + n - 1) % n);
      return in;
    });
    c.check_same("exchange", dtype, [&](comm::Communicator& comm, Device device) {
      // Both neighbours at once, tensors of two sizes (with 2 ranks both are the same rank).
      const Tensor to_next = on(device, host_values(13, dtype, r, 3));
      const Tensor to_prev = on(device, host_values(6, dtype, r, 4));
      Tensor received = Tensor::zeros({19}, dtype, device);
      const int next = (r + 1) % n, prev = (r + n - 1) % n;
      const comm::P2POp ops[] = {comm::P2POp::send(to_next, next), comm::P2POp::send(to_prev, prev),
                                 comm::P2POp::recv(received.sub(0, {13}), prev),
                                 comm::P2POp::recv(received.sub(13, {6}), next)};
      comm.exchange(ops);
      return received;
    });
  }
  c.device->barrier();
  CHECK_THROWS_WITH(c.device->all_reduce(Tensor::zeros({2})), Catch::Contains("CUDA tensors only"));
  CHECK_THROWS_WITH(c.device->all_reduce(Tensor::empty({2}, DType::F8E4M3, Device::CUDA)),
                    Catch::Contains("cannot reduce"));
  // Every operation's GPU work has finished and been noticed by the watchdog.
  cudaDeviceSynchronize();
  for (int i = 0; i < 300 && c.watchdog->in_flight() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(c.watchdog->in_flight() == 0);
}

TEST_CASE("rank body: NCCL work is ordered with the compute stream", "[.][rank-nccl-order]") {
  use_local_device();
  Communicators c;
  const int r = mpi().rank(), n = mpi().size();
  // Large enough that an unordered kernel would visibly overtake or trail the all-reduce.
  const int64_t count = int64_t(1) << 26;
  Tensor t = Tensor::empty({count}, DType::F32, Device::CUDA);
  for (int round = 0; round < 3; ++round) {
    t.fill(double(r + 1));  // compute stream, before: the all-reduce must see it
    c.device->all_reduce(t);
    Tensor sum = Tensor::empty({count}, DType::F32, Device::CUDA);
    sum.copy_from(t);       // compute stream, after: must see the result
    t.fill(-1.0);           // and must not be overwritten by the all-reduce finishing late
    const Tensor host_sum = to_host(sum), host_t = to_host(t);
    const float expected = float(n * (n + 1) / 2);
    int64_t wrong_sum = 0, wrong_fill = 0;
    for (int64_t i = 0; i < count; i += 4093) {
      wrong_sum += host_sum.data<float>()[i] != expected;
      wrong_fill += host_t.data<float>()[i] != -1.0f;
    }
    CHECK(wrong_sum == 0);
    CHECK(wrong_fill == 0);
  }
}

TEST_CASE("rank body: NCCL async collectives", "[.][rank-nccl-async]") {
  use_local_device();
  Communicators c;
  const int r = mpi().rank(), n = mpi().size();
  // The same bytes as the MPI communicator's (blocking) results.
  for (DType dtype : {DType::F32, DType::BF16}) {
    c.check_same("all_reduce_async", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor t = on(device, host_values(1000, dtype, r));
      comm.all_reduce_async(t).wait();
      return t;
    });
    c.check_same("reduce_scatter_async in place", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor input = on(device, host_values(5 * n, dtype, r));
      comm.reduce_scatter_async(input, input.sub(5 * r, {5})).wait();
      return input.sub(5 * r, {5});
    });
    c.check_same("reduce_scatter_async", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor input = on(device, host_values(6 * n, dtype, r));
      Tensor output = Tensor::empty({6}, dtype, device);
      comm.reduce_scatter_async(input, output).wait();
      return output;
    });
    // Megatron's averaging: MPI scales the input first, NCCL multiplies inside the collective
    // (PreMulSum); the results must be the same bytes.
    c.check_same("all_reduce_async average", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor t = on(device, host_values(1000, dtype, r));
      comm.all_reduce_async(t, comm::ReduceOp::average).wait();
      return t;
    });
    c.check_same("reduce_scatter_async average", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor input = on(device, host_values(6 * n, dtype, r));
      Tensor output = Tensor::empty({6}, dtype, device);
      comm.reduce_scatter_async(input, output, comm::ReduceOp::average).wait();
      return output;
    });
    // reduce onto each rank in turn: the root's result (the others' tensors are unspecified).
    for (int root = 0; root < n; ++root) {
      c.check_same("reduce_async average onto a root", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor t = on(device, host_values(1000, dtype, r));
        comm.reduce_async(t, root, comm::ReduceOp::average).wait();
        return r == root ? t : on(device, host_values(1, dtype, 0));
      });
      c.check_same("reduce onto a root", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor t = on(device, host_values(1000, dtype, r));
        comm.reduce(t.sub(100, {500}), root);
        return r == root ? t : on(device, host_values(1, dtype, 0));
      });
    }
    c.check_same("reduce_scatter average in place", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor input = on(device, host_values(5 * n, dtype, r));
      comm.reduce_scatter(input, input.sub(5 * r, {5}), comm::ReduceOp::average);
      return input.sub(5 * r, {5});
    });
    c.check_same("all_gather_async in place", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor output = on(device, host_values(3 * n, dtype, r));
      comm.all_gather_async(output.sub(3 * r, {3}), output).wait();
      return output;
    });
    c.check_same("several async in flight, waited out of order", dtype, [&](comm::Communicator& comm, Device device) {
      Tensor all = on(device, host_values(3 * 64, dtype, r));
      std::vector<comm::PendingCollective> pending;
      for (int part = 0; part < 3; ++part) pending.push_back(comm.all_reduce_async(all.sub(64 * part, {64})));
      for (int part = 2; part >= 0; --part) pending[size_t(part)].wait();
      return all;
    });
  }

  // The compute stream runs on while an async all-reduce waits for a late peer, and waits for it
  // once the handle's wait() is called.
  const int64_t count = int64_t(1) << 24;
  Tensor t = Tensor::empty({count}, DType::F32, Device::CUDA);
  Tensor other = Tensor::empty({1024}, DType::F32, Device::CUDA);
  c.device->all_reduce(t);  // connections for this size are set up before the timing below
  t.fill(double(r + 1));
  cudaEvent_t compute_done = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&compute_done, cudaEventDisableTiming) == cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  MPI_Barrier(MPI_COMM_WORLD);
  if (r == 1) std::this_thread::sleep_for(std::chrono::seconds(2));
  comm::PendingCollective pending = c.device->all_reduce_async(t);
  if (r == 0) {
    other.fill(3.0);  // compute work issued after the collective
    REQUIRE(cudaEventRecord(compute_done, current_stream()) == cudaSuccess);
    bool ran = false;
    for (int i = 0; i < 500 && !ran; ++i) {
      ran = cudaEventQuery(compute_done) == cudaSuccess;
      if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(ran);  // it did not wait for the all-reduce, which waits for rank 1 (asleep)
    pending.wait();
    REQUIRE(cudaEventRecord(compute_done, current_stream()) == cudaSuccess);
    CHECK(cudaEventQuery(compute_done) == cudaErrorNotReady);  // now it does
  } else {
    pending.wait();
  }
  const Tensor sum = to_host(t);
  CHECK(sum.data<float>()[0] == float(n * (n + 1) / 2));
  CHECK(sum.data<float>()[count - 1] == float(n * (n + 1) / 2));
  if (r == 0) CHECK(to_host(other).data<float>()[0] == 3.0f);
  cudaEventDestroy(compute_done);
}

// Values copied into a collective_buffer of `comm` (a symmetric window on NCCL).
Tensor in_collective_buffer(comm::Communicator& comm, Device device, const Tensor& host) {
  Tensor buffer = comm.collective_buffer(host.numel(), host.dtype(), device);
  buffer.copy_from(host);
  return buffer;
}

TEST_CASE("rank body: NCCL collectives within symmetric windows", "[.][rank-nccl-windows]") {
  use_local_device();
  Communicators c;
  const int r = mpi().rank(), n = mpi().size();
  auto& nccl = dynamic_cast<NcclCommunicator&>(*c.device);
  {
    // NCCL allocates a window's memory; the device memory statistics count it while it lives.
    const size_t allocated_before = device_memory_stats().allocated_bytes;
    std::optional<Tensor> counted = nccl.collective_buffer(1000, DType::F32, Device::CUDA);
    CHECK(device_memory_stats().allocated_bytes == allocated_before + 4000);
    CHECK(device_memory_stats().peak_allocated_bytes >= allocated_before + 4000);
    counted.reset();
    CHECK(device_memory_stats().allocated_bytes == allocated_before);

    const Tensor window = nccl.collective_buffer(1000, DType::F32, Device::CUDA);
    CHECK(nccl.in_window(window));
    CHECK(nccl.in_window(window.sub(10, {20})));
    CHECK(!nccl.in_window(Tensor::zeros({1000}, DType::F32, Device::CUDA)));
    CHECK(to_host(window).data<float>()[999] == 0.0f);  // zeroed
  }
  // Small and large sizes (NCCL picks different symmetric kernels by size); averages are a sum
  // and a scaling pass within windows, a PreMulSum outside: the same bytes as MPI's either way.
  for (int64_t part : {int64_t(5), int64_t(64), int64_t(1) << 20}) {
    for (DType dtype : {DType::F32, DType::BF16}) {
      INFO("parts of " << part << " elements");
      c.check_same("reduce_scatter_async average in place, in a window", dtype,
                   [&](comm::Communicator& comm, Device device) {
                     Tensor input = in_collective_buffer(comm, device, host_values(part * n, dtype, r));
                     comm.reduce_scatter_async(input, input.sub(part * r, {part}), comm::ReduceOp::average).wait();
                     return input.sub(part * r, {part});
                   });
      c.check_same("reduce_scatter sum in place, in a window", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor input = in_collective_buffer(comm, device, host_values(part * n, dtype, r));
        comm.reduce_scatter(input, input.sub(part * r, {part}));
        return input.sub(part * r, {part});
      });
      c.check_same("all_reduce_async average, in a window", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor t = in_collective_buffer(comm, device, host_values(part * n, dtype, r));
        comm.all_reduce_async(t, comm::ReduceOp::average).wait();
        return t;
      });
      c.check_same("all_gather_async in place, in a window", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor output = in_collective_buffer(comm, device, host_values(part * n, dtype, r));
        comm.all_gather_async(output.sub(part * r, {part}), output).wait();
        return output;
      });
      c.check_same("reduce_async average onto rank 1, in a window", dtype, [&](comm::Communicator& comm, Device device) {
        Tensor t = in_collective_buffer(comm, device, host_values(part * n, dtype, r));
        comm.reduce_async(t.sub(part, {part}), 1, comm::ReduceOp::average).wait();
        return r == 1 ? t.sub(part, {part}) : on(device, host_values(1, dtype, 0));
      });
    }
  }
  // A buffer may outlive its communicator: the communicator deregisters it, the buffer frees it.
  Tensor survivor;
  {
    auto group = make_group_communicator(Device::CUDA, MPI_COMM_WORLD, "short-lived");
    survivor = group->collective_buffer(4096, DType::BF16, Device::CUDA);
    Tensor gathered = survivor;
    gathered.sub(2048 * r, {2048}).fill(double(r + 1));
    group->all_gather(gathered.sub(2048 * r, {2048}), gathered);
  }
  const Tensor host = to_host(survivor);
  CHECK(bf16_to_float(host.data<bf16>()[0]) == 1.0f);
  CHECK(bf16_to_float(host.data<bf16>()[4095]) == 2.0f);
}

TEST_CASE("rank body: process groups on CUDA", "[.][rank-nccl-groups]") {
  use_local_device();
  ProcessGroupOptions options;
  options.sizes.tp = 2;
  options.device = Device::CUDA;
  ProcessGroups groups(options);
  const int r = groups.world_rank();
  REQUIRE(groups.tp.device_comm != nullptr);
  REQUIRE(groups.dp.device_comm != nullptr);
  CHECK(groups.parallel_context().tp_comm == groups.tp.tensor_comm());
  CHECK(dynamic_cast<NcclCommunicator*>(groups.tp.tensor_comm())->name() == "tp");
  Tensor t = on(Device::CUDA, host_values(8, DType::BF16, r));
  Tensor expected = host_values(8, DType::BF16, r);
  groups.tp.tensor_comm()->all_reduce(t);
  groups.tp.comm->all_reduce(expected);
  CHECK(same_bytes(to_host(t), expected));
  // A group of one rank (dp at world 2, tp 2): the identity.
  Tensor single = on(Device::CUDA, host_values(5, DType::F32, r));
  groups.dp.tensor_comm()->all_reduce(single);
  CHECK(same_bytes(to_host(single), host_values(5, DType::F32, r)));
}

TEST_CASE("rank body: rank 1 skips an NCCL all-reduce", "[.][rank-nccl-skip]") {
  use_local_device();
  ProcessGroups groups(ProcessGroupOptions{.device = Device::CUDA});  // dp = 2
  REQUIRE(groups.watchdog() != nullptr);
  if (groups.world_rank() == 0) {
    Tensor t = Tensor::zeros({1024}, DType::F32, Device::CUDA);
    groups.dp.tensor_comm()->all_reduce(t);
    to_host(t);  // waits for the GPU, which waits for rank 1
    FAIL("the all-reduce without rank 1 finished");
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(60));  // ended by mpirun once rank 0 exits
  }
}

TEST_CASE("NCCL communicator equals the MPI communicator at 2 ranks (2 GPUs)") {
  REQUIRE(device_count() >= kRanks);
  CHECK(run_on_ranks(kRanks, "[rank-nccl]"));
  CHECK(run_on_ranks(kRanks, "[rank-nccl-order]"));
  CHECK(run_on_ranks(kRanks, "[rank-nccl-groups]"));
}

TEST_CASE("NCCL async collectives equal the blocking ones and leave the compute stream free (2 GPUs)") {
  REQUIRE(device_count() >= kRanks);
  CHECK(run_on_ranks(kRanks, "[rank-nccl-async]"));
}

TEST_CASE("NCCL collectives within symmetric windows equal the MPI communicator's (2 GPUs)") {
  REQUIRE(device_count() >= kRanks);
  CHECK(run_on_ranks(kRanks, "[rank-nccl-windows]"));
}

TEST_CASE("a rank whose NCCL all-reduce never completes exits after the timeout (2 GPUs)") {
  REQUIRE(device_count() >= kRanks);
  const auto start = std::chrono::steady_clock::now();
  const mcpp::test::RunResult result =
      launch_on_ranks(kRanks, "[rank-nccl-skip]", "timeout 120 env MCPP_DISTRIBUTED_TIMEOUT_SECONDS=3");
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("rank 0: collective all_reduce on group dp did not finish within 3 seconds "
                           "(MCPP_DISTRIBUTED_TIMEOUT_SECONDS); exiting") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
}
