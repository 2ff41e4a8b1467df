// megatron-train under mpirun: every parallel layout trains the tiny GPT-2 exactly like one
// process (per-iteration losses within fp32 tolerance). Dropout is off (its masks follow the
// micro-batch a rank holds, which differs with data parallelism) and the vocabulary is padded
// to a multiple of 64 · tp so that every layout has the same padded vocabulary.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "test/common/test_support.h"
#include "test/common/train_support.h"

namespace fs = std::filesystem;
using namespace mcpp::test;

namespace {

constexpr int kIterations = 4;

std::string equivalence_flags(const fs::path& metrics) {
  return tiny_gpt2_flags() + " --make-vocab-size-divisible-by 64 --attention-dropout 0 --hidden-dropout 0 "
         "--train-iters " + std::to_string(kIterations) + " --metrics-file " + metrics.string();
}

// Runs megatron-train on `ranks` MPI processes (one thread each: CI has two cores for all).
std::string train_on_ranks(int ranks, const std::string& flags) {
  const std::string command =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --oversubscribe --bind-to none -np " +
      std::to_string(ranks) + " " + program("megatron-train").string() + " " + flags + " 2>&1";
  const RunResult result = run(command);
  INFO(command);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return result.output;
}

// The single-process losses of the tiny model with `model` flags added (e.g. another
// --num-layers), computed once per test process.
const std::vector<double>& reference_losses(const std::string& model = "") {
  static std::map<std::string, std::vector<double>> runs;
  if (!runs.count(model)) {
    const fs::path metrics = scratch_dir("train-mpi-reference-" + std::to_string(runs.size())) / "metrics.jsonl";
    fs::remove(metrics);
    train_or_fail(equivalence_flags(metrics) + " " + model);
    runs[model] = metrics_losses(metrics);
  }
  return runs[model];
}

// The losses of `layout` on `ranks` ranks, trained once per test process.
const std::vector<double>& layout_losses(int ranks, const std::string& layout) {
  static std::map<std::string, std::vector<double>> runs;
  const std::string id = std::to_string(ranks) + " " + layout;
  if (!runs.count(id)) {
    const fs::path metrics = scratch_dir("train-mpi-" + std::to_string(runs.size())) / "metrics.jsonl";
    fs::remove(metrics);
    train_on_ranks(ranks, equivalence_flags(metrics) + " " + layout);
    runs[id] = metrics_losses(metrics);
  }
  return runs[id];
}

// `layout` on `ranks` ranks against one process, both with the `model` flags.
void check_layout_matches_single_process(int ranks, const std::string& layout, const std::string& model = "") {
  const std::vector<double>& expected = reference_losses(model);
  REQUIRE(expected.size() == kIterations);
  check_losses_close(layout_losses(ranks, model.empty() ? layout : model + " " + layout), expected, 1e-5);
}

const std::string kTp2Pp2Dp2 =
    "--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --sequence-parallel --use-distributed-optimizer";

}  // namespace

TEST_CASE("DP2 trains like one process") {
  check_layout_matches_single_process(2, "");
}

TEST_CASE("DP2 with the distributed optimizer and overlapped grad reduce trains like one process") {
  const std::string layout = "--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 20000";
  check_layout_matches_single_process(2, layout);
  // The reduction averages inside the collective with or without --ddp-average-in-collective.
  const std::vector<double>& averaged = layout_losses(2, layout + " --ddp-average-in-collective");
  const std::vector<double>& prescaled = layout_losses(2, layout);
  REQUIRE(averaged.size() == prescaled.size());
  for (size_t i = 0; i < averaged.size(); ++i) CHECK(averaged[i] == prescaled[i]);  // bit-exact
}

TEST_CASE("DP2 with --ddp-num-buckets sizes the buckets from the rank's parameter count and trains like one process") {
  const fs::path metrics = scratch_dir("train-mpi-num-buckets") / "metrics.jsonl";
  const std::string output = train_on_ranks(
      2, equivalence_flags(metrics) + " --use-distributed-optimizer --overlap-grad-reduce --ddp-num-buckets 3");
  // Every DP rank holds the whole model: bucket size = its parameter count / 3 (Megatron's rule).
  const std::string model_line = "model: ";
  const size_t at = output.find(model_line);
  REQUIRE(at != std::string::npos);
  const int64_t parameters = std::stoll(output.substr(at + model_line.size()));
  INFO(output);
  CHECK(output.find("(bucket size " + std::to_string(parameters / 3) + " elements)") != std::string::npos);
  check_losses_close(metrics_losses(metrics), reference_losses(), 1e-5);
}

TEST_CASE("DP2 checks that the replicas' weights match (--check-weight-hash-across-dp-replicas-interval)") {
  const fs::path metrics = scratch_dir("train-mpi-weight-hash") / "metrics.jsonl";
  const std::string output =
      train_on_ranks(2, equivalence_flags(metrics) + " --use-distributed-optimizer --overlap-grad-reduce "
                                                     "--overlap-param-gather --check-weight-hash-across-dp-replicas-interval 2");
  INFO(output);
  CHECK(output.find(">>> Weight hashes match after 2 iterations...") != std::string::npos);
  CHECK(output.find(">>> Weight hashes match after 4 iterations...") != std::string::npos);
  CHECK(output.find("match after 3 iterations") == std::string::npos);
}

TEST_CASE("DP2 with --overlap-param-gather gives the same losses as gathering in the optimizer step") {
  const std::string layout = "--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 20000";
  check_layout_matches_single_process(2, layout + " --overlap-param-gather");
  const std::vector<double>& gathered_in_step = layout_losses(2, layout);
  const std::vector<double>& overlapped = layout_losses(2, layout + " --overlap-param-gather");
  REQUIRE(overlapped.size() == gathered_in_step.size());
  for (size_t i = 0; i < overlapped.size(); ++i) CHECK(overlapped[i] == gathered_in_step[i]);  // bit-exact
  // Megatron's --overlap-param-gather-with-optimizer-step is what the gathers do here anyway.
  const std::vector<double>& with_step =
      layout_losses(2, layout + " --overlap-param-gather --overlap-param-gather-with-optimizer-step");
  REQUIRE(with_step.size() == overlapped.size());
  for (size_t i = 0; i < with_step.size(); ++i) CHECK(with_step[i] == overlapped[i]);
}

TEST_CASE("DP2 with --grad-reduce-in-bf16 trains close to one process, rounding what the reduction moves") {
  const std::string layout = "--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 20000";
  const std::vector<double>& in_bf16 = layout_losses(2, "--bf16 " + layout + " --grad-reduce-in-bf16");
  const std::vector<double>& in_fp32 = layout_losses(2, "--bf16 " + layout);
  // bf16-rounded gradients move the updates by well under a percent.
  check_losses_close(in_bf16, reference_losses("--bf16"), 2e-3);
  REQUIRE(in_bf16.size() == in_fp32.size());
  CHECK(in_bf16.front() == in_fp32.front());  // the first loss comes before any update
  bool differs = false;
  for (size_t i = 1; i < in_bf16.size(); ++i) differs = differs || in_bf16[i] != in_fp32[i];
  CHECK(differs);
}

TEST_CASE("SGD (--optimizer sgd) trains like one process at DP2 with the distributed optimizer and at PP2") {
  const std::string sgd = "--optimizer sgd --sgd-momentum 0.9";
  check_layout_matches_single_process(2, "--use-distributed-optimizer", sgd);
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2", sgd);
}

TEST_CASE("fp16 loss scaling trains like one process at DP2 with the distributed optimizer and at PP2") {
  const std::string fp16 = "--fp16 --initial-loss-scale 65536";
  check_layout_matches_single_process(2, "--use-distributed-optimizer", fp16);
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2", fp16);
}

TEST_CASE("fp16 overflow steps are skipped on every rank like in one process") {
  // A loss scale beyond fp32 makes every gradient Inf: those steps are skipped (Megatron logs no
  // loss for them) and, with --hysteresis 1, each halves the scale until the gradients are finite
  // and training starts. A rank that updated during a skipped step would change later losses.
  const fs::path dir = scratch_dir("train-mpi-fp16-overflow");
  const std::string overflow = " --fp16 --initial-loss-scale 1e41 --hysteresis 1 --train-iters 20";
  fs::remove(dir / "one.jsonl");
  fs::remove(dir / "pp2.jsonl");
  train_or_fail(equivalence_flags(dir / "one.jsonl") + overflow);
  train_on_ranks(2, equivalence_flags(dir / "pp2.jsonl") + overflow + " --pipeline-model-parallel-size 2");
  const auto expected = metrics_losses_and_scales(dir / "one.jsonl");
  const auto got = metrics_losses_and_scales(dir / "pp2.jsonl");
  REQUIRE(expected.size() == 20);
  REQUIRE(got.size() == expected.size());
  CHECK_FALSE(expected.front().first.has_value());  // the first step overflowed
  CHECK(expected.back().first.has_value());         // and training started later
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("iteration " << i + 1);
    CHECK(got[i].second == expected[i].second);
    REQUIRE(got[i].first.has_value() == expected[i].first.has_value());
    if (got[i].first) CHECK(*got[i].first == Approx(*expected[i].first).epsilon(1e-5));
  }
}

TEST_CASE("per-token loss (--calculate-per-token-loss) trains like one process at DP2 and at PP2") {
  check_layout_matches_single_process(2, "--use-distributed-optimizer", "--calculate-per-token-loss");
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2", "--calculate-per-token-loss");
}

TEST_CASE("TP2 trains like one process") {
  check_layout_matches_single_process(2, "--tensor-model-parallel-size 2");
}

TEST_CASE("TP2 with sequence parallelism trains like one process") {
  check_layout_matches_single_process(2, "--tensor-model-parallel-size 2 --sequence-parallel");
}

TEST_CASE("TP2 x DP2 with SP and overlapped grad reduce (first-layer weight gradients deferred) trains like one process") {
  check_layout_matches_single_process(4, "--tensor-model-parallel-size 2 --sequence-parallel --use-distributed-optimizer "
                                         "--overlap-grad-reduce --ddp-bucket-size 2000");
}

TEST_CASE("PP2 trains like one process") {
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2");
}

TEST_CASE("PP4 trains like one process, the middle stages reading no data") {
  check_layout_matches_single_process(4, "--pipeline-model-parallel-size 4", "--num-layers 4");
  const fs::path metrics = scratch_dir("train-mpi-pp4-data") / "metrics.jsonl";
  const std::string output =
      train_on_ranks(4, equivalence_flags(metrics) + " --num-layers 4 --pipeline-model-parallel-size 4");
  CHECK(output.find("data: read by tensor-parallel rank 0 of the first and last pipeline stages") != std::string::npos);
}

TEST_CASE("TP2 x PP4 with SP (the middle stages' TP ranks read nothing either) trains like one process") {
  check_layout_matches_single_process(8, "--tensor-model-parallel-size 2 --pipeline-model-parallel-size 4 --sequence-parallel",
                                      "--num-layers 4");
}

TEST_CASE("PP4 with --reset-attention-mask (every stage reads the document offsets) trains like one process") {
  const std::string model = "--num-layers 4 --reset-attention-mask --reset-position-ids --eod-mask-loss";
  check_layout_matches_single_process(4, "--pipeline-model-parallel-size 4", model);
  // The document boundaries matter on the middle stages: the losses differ from plain masking.
  REQUIRE(reference_losses(model).size() == kIterations);
  CHECK(reference_losses(model)[0] != reference_losses("--num-layers 4 --reset-position-ids --eod-mask-loss")[0]);
}

TEST_CASE("PP2 with an uneven split (1 + 3 layers) trains like one process") {
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2 --decoder-first-pipeline-num-layers 1",
                                      "--num-layers 4");
}

TEST_CASE("PP2 with the embedding or the loss taking a layer's place in the split trains like one process") {
  // 3 layers + the embedding: stage 0 builds layer 0 only; + the loss: stage 1 builds layer 2 only.
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2 --account-for-embedding-in-pipeline-split",
                                      "--num-layers 3");
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2 --account-for-loss-in-pipeline-split",
                                      "--num-layers 3");
  // 1 layer + the embedding: stage 0 holds the embedding alone.
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2 --account-for-embedding-in-pipeline-split",
                                      "--num-layers 1");
}

TEST_CASE("PP4 with uneven first and last stages (1 + 1 + 1 + 3 layers) trains like one process") {
  check_layout_matches_single_process(
      4, "--pipeline-model-parallel-size 4 --decoder-first-pipeline-num-layers 1 --decoder-last-pipeline-num-layers 3",
      "--num-layers 6");
}

const std::string kInterleavedPp2 = "--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2";

TEST_CASE("PP2 interleaved (2 chunks of 1 layer per rank) trains like one process") {
  check_layout_matches_single_process(2, "--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 1",
                                      "--num-layers 4");
}

TEST_CASE("PP2 x DP2 interleaved with the distributed optimizer and overlapped grad reduce trains like one process") {
  // 4 micro-batches per pipeline: two groups of P = 2 in the schedule table.
  const std::string layout = kInterleavedPp2 + " --use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 2000";
  const std::string model = "--num-layers 4 --global-batch-size 16 --micro-batch-size 2";
  check_layout_matches_single_process(4, layout, model);
  // Overlapped parameter gathers with two chunks per rank (an optimizer and a gatherer each).
  check_layout_matches_single_process(4, layout + " --overlap-param-gather", model);
}

TEST_CASE("PP2 interleaved with an uneven split (2 + 4 layers, 2 chunks per rank) trains like one process") {
  check_layout_matches_single_process(2, kInterleavedPp2 + " --decoder-first-pipeline-num-layers 2 "
                                         "--decoder-last-pipeline-num-layers 4", "--num-layers 6");
}

TEST_CASE("PP2 interleaved in micro-batch groups of 3 (5 micro-batches) trains like one process") {
  check_layout_matches_single_process(2, kInterleavedPp2 + " --microbatch-group-size-per-virtual-pipeline-stage 3",
                                      "--num-layers 4 --global-batch-size 10");
}

TEST_CASE("PP4 interleaved (2 chunks per rank, 8 micro-batches) trains like one process") {
  // The ring's wrap-around joins two different ranks, and the warm-ups differ by rank.
  check_layout_matches_single_process(4, "--pipeline-model-parallel-size 4 --num-virtual-stages-per-pipeline-rank 2",
                                      "--num-layers 8 --global-batch-size 8 --micro-batch-size 1");
}

TEST_CASE("TP2 x PP2 interleaved with SP trains like one process") {
  check_layout_matches_single_process(4, kInterleavedPp2 + " --tensor-model-parallel-size 2 --sequence-parallel",
                                      "--num-layers 4");
}

TEST_CASE("TP2 x PP2 x DP2 with SP and the distributed optimizer trains like one process") {
  check_layout_matches_single_process(8, kTp2Pp2Dp2);
}

namespace {

// Trains the first half on `save_ranks` ranks with `save_layout` (exiting after a checkpoint at
// iteration 2), then the second half from it on `load_ranks` ranks with `load_layout`; returns
// the second half's losses.
std::vector<double> resumed_losses(const std::string& tag, int save_ranks, const std::string& save_layout,
                                   int load_ranks, const std::string& load_layout) {
  const fs::path dir = scratch_dir("train-mpi-ckpt-" + tag);
  fs::remove_all(dir / "ckpt");
  const std::string first = equivalence_flags(dir / "first.jsonl") + " --exit-interval 2 --save-interval 2 --save " +
                            (dir / "ckpt").string() + " " + save_layout;
  if (save_ranks == 1) {
    train_or_fail(first);
  } else {
    train_on_ranks(save_ranks, first);
  }
  fs::remove(dir / "second.jsonl");
  const std::string second = equivalence_flags(dir / "second.jsonl") + " --load " + (dir / "ckpt").string() +
                             " " + load_layout;
  if (load_ranks == 1) {
    train_or_fail(second);
  } else {
    train_on_ranks(load_ranks, second);
  }
  return metrics_losses(dir / "second.jsonl");
}

void check_second_half(const std::vector<double>& losses, const std::vector<double>& expected) {
  REQUIRE(losses.size() == 2);
  REQUIRE(expected.size() == kIterations);
  for (size_t i = 0; i < losses.size(); ++i) {
    INFO("iteration " << i + 3);
    CHECK(losses[i] == Approx(expected[i + 2]).epsilon(1e-5));
  }
}

const std::string kTp2Pp2 = "--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --use-distributed-optimizer";

}  // namespace

TEST_CASE("checkpoint saved at TP2 x PP2 loads in one process and continues like a straight run") {
  check_second_half(resumed_losses("tp2pp2-to-1", 4, kTp2Pp2, 1, ""), reference_losses());
}

TEST_CASE("checkpoint saved at interleaved PP2 loads in one process, and one saved there loads interleaved") {
  const std::string model = "--num-layers 4";
  const std::string interleaved = model + " " + kInterleavedPp2;
  check_second_half(resumed_losses("vp-to-1", 2, interleaved, 1, model), reference_losses(model));
  check_second_half(resumed_losses("1-to-vp", 1, model, 2, interleaved), reference_losses(model));
}

TEST_CASE("checkpoint saved at TP2 x PP2 loads at DP4 with the distributed optimizer") {
  // Global batch 4 over 4 replicas: micro-batches of 1 (every sample has the same token count, so
  // the mean of per-micro-batch means is the single process's mean).
  check_second_half(resumed_losses("tp2pp2-to-dp4", 4, kTp2Pp2, 4, "--micro-batch-size 1 --use-distributed-optimizer"),
                    reference_losses());
}

TEST_CASE("resume at TP2 x PP2 x DP2 is identical to the uninterrupted run") {
  const std::string layout = kTp2Pp2Dp2;
  const std::vector<double>& straight = layout_losses(8, layout);
  REQUIRE(straight.size() == kIterations);
  const std::vector<double> second = resumed_losses("resume-8", 8, layout, 8, layout);
  REQUIRE(second.size() == 2);
  CHECK(second[0] == straight[2]);  // bit-exact: same layout, same reduction order
  CHECK(second[1] == straight[3]);
}

TEST_CASE("mpirun: unsupported flags fail with one-line errors") {
  const std::string command =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --oversubscribe --bind-to none -np 2 " +
      program("megatron-train").string() + " " + tiny_gpt2_flags() + " --train-iters 2 --context-parallel-size 2 2>&1";
  const RunResult result = run(command);
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("--context-parallel-size 2: context parallelism is not implemented yet; use 1") !=
        std::string::npos);
}
