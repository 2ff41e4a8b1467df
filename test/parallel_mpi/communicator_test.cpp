// The MPI communicator's collectives on host tensors, at 3 ranks (odd on purpose).
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "parallel/group_communicator.h"
#include "parallel/mpi_communicator.h"
#include "parallel/process_groups.h"
#include "test/common/mpi_test_util.h"

using namespace mcpp;
using namespace mcpp::parallel;
using mcpp::parallel::testing::mpi;
using mcpp::parallel::testing::run_on_ranks;

TEST_CASE("rank body: MPI communicator", "[.][rank-comm]") {
  const int n = mpi().size();
  MpiCommunicator world = MpiCommunicator::world();
  const int r = world.rank();
  REQUIRE(world.size() == n);

  Tensor f = Tensor::empty({4});
  for (int i = 0; i < 4; ++i) f.data<float>()[i] = float(r * 10 + i);
  world.all_reduce(f);
  for (int i = 0; i < 4; ++i) CHECK(f.data<float>()[i] == float(10 * n * (n - 1) / 2 + n * i));
  for (int i = 0; i < 4; ++i) f.data<float>()[i] = float(r == 1 ? 100 + i : -i);
  world.all_reduce(f, comm::ReduceOp::max);
  for (int i = 0; i < 4; ++i) CHECK(f.data<float>()[i] == float(100 + i));
  // average: every input times 1/n, then summed (Megatron's gradient averaging).
  for (int i = 0; i < 4; ++i) f.data<float>()[i] = float(n * (r + i));
  world.all_reduce(f, comm::ReduceOp::average);
  for (int i = 0; i < 4; ++i) CHECK(f.data<float>()[i] == float(n * (n - 1) / 2 + n * i));
  Tensor averaged = Tensor::empty({2});
  Tensor whole = Tensor::empty({2 * int64_t(n)});
  for (int64_t i = 0; i < whole.numel(); ++i) whole.data<float>()[i] = float(n * (r + 1));
  world.reduce_scatter_async(whole, averaged, comm::ReduceOp::average).wait();
  for (int i = 0; i < 2; ++i) CHECK(averaged.data<float>()[i] == float(n * (n + 1) / 2));
  // reduce: the root's tensor ends with the sum (or average) of every rank's, blocking or not.
  for (int root = 0; root < n; ++root) {
    Tensor reduced = Tensor::empty({3});
    for (int i = 0; i < 3; ++i) reduced.data<float>()[i] = float(r * 10 + i);
    world.reduce(reduced, root);
    if (r == root)
      for (int i = 0; i < 3; ++i) CHECK(reduced.data<float>()[i] == float(10 * n * (n - 1) / 2 + n * i));
    for (int i = 0; i < 3; ++i) reduced.data<float>()[i] = float(n * (r + i));
    world.reduce_async(reduced, root, comm::ReduceOp::average).wait();
    if (r == root)
      for (int i = 0; i < 3; ++i) CHECK(reduced.data<float>()[i] == float(n * (n - 1) / 2 + n * i));
  }
  Tensor averaged_b16 = Tensor::empty({3}, DType::BF16);
  Tensor twos = Tensor::empty({3});
  twos.fill(2.0 * n);
  averaged_b16.copy_from(twos);
  world.all_reduce(averaged_b16, comm::ReduceOp::average);  // bf16 goes through fp32 on the host
  Tensor averaged_f32 = Tensor::empty({3});
  averaged_f32.copy_from(averaged_b16);
  for (int i = 0; i < 3; ++i) CHECK(averaged_f32.data<float>()[i] == float(2 * n));

  Tensor i64 = Tensor::empty({2}, DType::I64);
  i64.data<int64_t>()[0] = int64_t(1) << 40;
  i64.data<int64_t>()[1] = r;
  world.all_reduce(i64);
  CHECK(i64.data<int64_t>()[0] == (int64_t(1) << 40) * n);
  CHECK(i64.data<int64_t>()[1] == n * (n - 1) / 2);

  Tensor b16 = Tensor::empty({3}, DType::BF16);
  Tensor ones = Tensor::empty({3});
  ones.fill(1.5);
  b16.copy_from(ones);
  world.all_reduce(b16);
  Tensor back = Tensor::empty({3});
  back.copy_from(b16);
  CHECK(back.data<float>()[2] == 1.5f * n);

  // reduce_scatter: part k of the sum goes to rank k; also in place into a slice of the input.
  Tensor big = Tensor::empty({int64_t(2 * n)});
  for (int i = 0; i < 2 * n; ++i) big.data<float>()[i] = float(i + r);
  Tensor part = Tensor::empty({2});
  world.reduce_scatter(big, part);
  for (int i = 0; i < 2; ++i) CHECK(part.data<float>()[i] == float(n * (2 * r + i) + n * (n - 1) / 2));
  world.reduce_scatter(big, big.sub(2 * r, {2}));
  for (int i = 0; i < 2; ++i) CHECK(big.data<float>()[2 * r + i] == part.data<float>()[i]);

  // all_gather, separate and in place (input = own slice of the output).
  Tensor gathered = Tensor::empty({int64_t(2 * n)}, DType::I64);
  Tensor mine = Tensor::empty({2}, DType::I64);
  mine.data<int64_t>()[0] = r;
  mine.data<int64_t>()[1] = -r;
  world.all_gather(mine, gathered);
  for (int k = 0; k < n; ++k) CHECK(gathered.data<int64_t>()[2 * k + 1] == -k);
  Tensor inplace = Tensor::zeros({int64_t(3 * n)});
  inplace.sub(3 * r, {3}).fill(double(r + 1));
  world.all_gather(inplace.sub(3 * r, {3}), inplace);
  for (int k = 0; k < n; ++k) CHECK(inplace.data<float>()[3 * k + 2] == float(k + 1));

  Tensor value = Tensor::empty({2});
  value.fill(double(r));
  world.broadcast(value, n - 1);
  CHECK(value.data<float>()[1] == float(n - 1));

  // A ring of send/recv (even ranks send first to avoid a cycle of blocking sends).
  Tensor out = Tensor::empty({5}), in = Tensor::empty({5});
  out.fill(double(r));
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  if (r % 2 == 0) {
    world.send(out, next);
    world.recv(in, prev);
  } else {
    world.recv(in, prev);
    world.send(out, next);
  }
  CHECK(in.data<float>()[4] == float(prev));
  // Everyone sends and receives at once: one exchange each.
  out.fill(double(10 + r));
  world.send_recv(out, next, in, prev);
  CHECK(in.data<float>()[0] == float(10 + prev));
  CHECK_THROWS_AS(world.recv(Tensor::empty({3}), r), mcpp::Error);

  Tensor async = Tensor::empty({7});
  async.fill(2.0);
  world.all_reduce_async(async).wait();
  CHECK(async.data<float>()[6] == 2.0f * n);
  world.barrier();

  // The generic non-blocking forms give the blocking results: a reduce-scatter into the input's
  // own part (through a separate result), an in-place all-gather, and max (blocking fallback).
  auto bucket_values = [&](int64_t count) {
    Tensor values = Tensor::empty({count});
    for (int64_t i = 0; i < count; ++i) values.data<float>()[i] = float((i * 5 + r * 3) % 11);
    return values;
  };
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.numel() == b.numel() && std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>());
  };
  Tensor scattered = bucket_values(4 * n), scattered_expected = bucket_values(4 * n);
  comm::PendingCollective scatter = world.reduce_scatter_async(scattered, scattered.sub(4 * r, {4}));
  CHECK(scatter.in_flight());
  scatter.wait();
  CHECK_FALSE(scatter.in_flight());
  world.reduce_scatter(scattered_expected, scattered_expected.sub(4 * r, {4}));
  CHECK(same(scattered.sub(4 * r, {4}), scattered_expected.sub(4 * r, {4})));
  Tensor gathered_async = bucket_values(3 * n), gathered_expected = bucket_values(3 * n);
  world.all_gather_async(gathered_async.sub(3 * r, {3}), gathered_async).wait();
  world.all_gather(gathered_expected.sub(3 * r, {3}), gathered_expected);
  CHECK(same(gathered_async, gathered_expected));
  for (comm::ReduceOp op : {comm::ReduceOp::sum, comm::ReduceOp::max}) {
    Tensor reduced = bucket_values(9), reduced_expected = bucket_values(9);
    {
      const comm::PendingCollective pending = world.all_reduce_async(reduced, op);  // waits when destroyed
    }
    world.all_reduce(reduced_expected, op);
    CHECK(same(reduced, reduced_expected));
  }

  // The group-communicator factory on CPU: MPI over a duplicate, so the caller's stays its own.
  const auto everyone = make_group_communicator(Device::CPU, world.handle(), "everyone");
  const auto* duplicate = dynamic_cast<const MpiCommunicator*>(everyone.get());
  REQUIRE(duplicate != nullptr);
  CHECK(duplicate->name() == "everyone");
  CHECK(duplicate->handle() != world.handle());
  CHECK(everyone->rank() == r);
  Tensor counted = Tensor::empty({2});
  counted.fill(1.0);
  everyone->all_reduce(counted);
  CHECK(counted.data<float>()[1] == float(n));
}

TEST_CASE("MPI communicator collectives at 3 ranks") { CHECK(run_on_ranks(3, "[rank-comm]")); }

// exchange(): every rank sends to and receives from both ring neighbours in one call, with
// tensors of different sizes and dtypes per direction. With 2 ranks both neighbours are the same
// rank, and the two transfers each way match in list order.
TEST_CASE("rank body: batched exchange", "[.][rank-exchange]") {
  REQUIRE(mpi().size() >= 2);  // starts MPI
  MpiCommunicator world = MpiCommunicator::world();
  const int r = world.rank(), n = world.size();
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  auto filled = [](int64_t count, DType dtype, double value) {
    Tensor values = Tensor::empty({count});
    values.fill(value);
    Tensor typed = Tensor::empty({count}, dtype);
    typed.copy_from(values);
    return typed;
  };
  auto last_value = [](const Tensor& tensor) {
    Tensor values = Tensor::empty(tensor.shape());
    values.copy_from(tensor);
    return values.data<float>()[tensor.numel() - 1];
  };
  for (int round = 0; round < 3; ++round) {
    const Tensor to_next = filled(7 + round, DType::F32, 100 * r + round);
    const Tensor to_prev = filled(3, DType::BF16, -(r + 1) - round);
    const Tensor from_prev = Tensor::empty({7 + round});
    const Tensor from_next = Tensor::empty({3}, DType::BF16);
    // Ranks list sends and receives in different orders; only the order of the transfers
    // between one pair of ranks (activation, then gradient) has to agree.
    std::vector<comm::P2POp> ops = {comm::P2POp::send(to_next, next), comm::P2POp::send(to_prev, prev),
                                    comm::P2POp::recv(from_prev, prev), comm::P2POp::recv(from_next, next)};
    if ((r + round) % 2 == 1) std::rotate(ops.begin(), ops.begin() + 2, ops.end());
    world.exchange(ops);
    CHECK(last_value(from_prev) == float(100 * prev + round));
    CHECK(last_value(from_next) == float(-(next + 1) - round));
  }
  // Only some ranks exchange (rank 0 with rank 1); the others pass no ops and return at once.
  const Tensor single = filled(4, DType::F32, r);
  if (r < 2) {
    const comm::P2POp ops[] = {comm::P2POp::recv(single, 1 - r),
                               comm::P2POp::send(filled(4, DType::F32, 10 + r), 1 - r)};
    world.exchange(ops);
    CHECK(last_value(single) == float(10 + (1 - r)));
  } else {
    world.exchange({});
  }
  const comm::P2POp to_self[] = {comm::P2POp::send(single, r)};
  CHECK_THROWS_WITH(world.exchange(to_self), Catch::Contains("bad send peer"));
  world.barrier();
}

TEST_CASE("MPI batched exchange with both ring neighbours at 2 ranks (one rank on both sides)") {
  CHECK(run_on_ranks(2, "[rank-exchange]"));
}
TEST_CASE("MPI batched exchange with both ring neighbours at 3 ranks") { CHECK(run_on_ranks(3, "[rank-exchange]")); }

TEST_CASE("rank body: singleton", "[.][rank-singleton]") {
  REQUIRE(mpi().size() == 1);
  CHECK(mpi().rank() == 0);
  CHECK(mpi().local_rank() == 0);
  ProcessGroups groups(ProcessGroupOptions{});
  CHECK(groups.sizes().dp == 1);
  CHECK(groups.tp.size() == 1);
  CHECK(groups.embedding.members == std::vector<int>{0});
  Tensor t = Tensor::empty({2});
  t.fill(3.0);
  groups.dp_cp.comm->all_reduce(t);
  CHECK(t.data<float>()[1] == 3.0f);
}

TEST_CASE("a process started without mpirun is an MPI world of one rank") {
  CHECK(mcpp::parallel::testing::run_without_launcher("[rank-singleton]"));
}
