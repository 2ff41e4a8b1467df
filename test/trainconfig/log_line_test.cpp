#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

#include "app/log_line.h"

using mcpp::app::IterationRecord;
using mcpp::app::LogAccumulator;

namespace {

// 2026-01-02 03:04:05.000123 UTC.
std::chrono::system_clock::time_point fixed_time() {
  setenv("TZ", "UTC", 1);
  tzset();
  return std::chrono::system_clock::time_point(std::chrono::seconds(1767323045) + std::chrono::microseconds(123));
}

IterationRecord record(int64_t iteration, double loss, double seconds, bool skipped = false) {
  IterationRecord r;
  r.iteration = iteration;
  r.consumed_samples = iteration * 32;
  r.seconds = seconds;
  r.learning_rate = 1e-4 * iteration;
  r.global_batch_size = 32;
  r.tokens = 32 * 1024;
  r.lm_loss = loss;
  r.loss_scale = skipped ? 65536.0 : 131072.0;
  if (!skipped) r.grad_norm = 0.5 * iteration;
  r.skipped = skipped;
  r.memory_gb = 10.0 + iteration;
  return r;
}

}  // namespace

TEST_CASE("log line: Megatron's fields and format, then ours") {
  LogAccumulator acc;
  acc.add(record(1, 10.0, 0.2));
  acc.add(record(2, 11.0, 0.4, /*skipped=*/true));
  acc.add(record(3, 9.0, 0.3));
  // 3 iterations in 0.9 s; 1e15 FLOPs per iteration over 2 GPUs; peak 1000 TFLOP/s.
  auto v = acc.take(100, 1e15, 2, 1000.0, true);
  CHECK(v.iteration == 3);
  CHECK(v.ms_per_iteration == Approx(300.0));
  CHECK(*v.lm_loss == Approx(9.5));  // skipped iteration excluded
  CHECK(v.skipped_iterations == 1);
  CHECK(v.nan_iterations == 0);
  CHECK(v.tflops_per_gpu == Approx(1e15 / (0.3 * 1e12 * 2)));
  CHECK(*v.mfu == Approx(v.tflops_per_gpu / 1000.0));
  CHECK(v.tokens_per_second == Approx(3 * 32 * 1024 / 0.9));
  CHECK(v.memory_gb == 13.0);
  CHECK(acc.empty());
  const std::string line = mcpp::app::format_train_log_line(v, fixed_time());
  CHECK(line ==
        " [2026-01-02 03:04:05.000123] iteration        3/     100 | consumed samples:           96 |"
        " elapsed time per iteration (ms): 300.0 | throughput per GPU (TFLOP/s/GPU): 1666.7 |"
        " learning rate: 3.000000E-04 | global batch size:    32 | lm loss: 9.500000E+00 |"
        " loss scale: 131072.0 | grad norm: 1.500 | number of skipped iterations:   1 |"
        " number of nan iterations:   0 | tokens/s: 109227 | MFU: 166.7% | mem (GB): 13.00 |");
}

TEST_CASE("log line without throughput, loss or peak") {
  LogAccumulator acc;
  IterationRecord r = record(7, std::nan(""), 0.5, /*skipped=*/true);
  acc.add(r);
  auto v = acc.take(10, 1e12, 1, std::nullopt, false);
  CHECK_FALSE(v.lm_loss);
  CHECK_FALSE(v.grad_norm);
  CHECK(v.nan_iterations == 1);
  const std::string line = mcpp::app::format_train_log_line(v, fixed_time());
  CHECK(line.find("throughput") == std::string::npos);
  CHECK(line.find("lm loss") == std::string::npos);
  CHECK(line.find("grad norm") == std::string::npos);
  CHECK(line.find(" loss scale: 65536.0 | number of skipped iterations:   1 | number of nan iterations:   1 |") !=
        std::string::npos);
  CHECK(line.find("| MFU: n/a |") != std::string::npos);
}

TEST_CASE("validation block in Megatron's format") {
  const std::string block = mcpp::app::format_eval_block("iteration 100", {{"lm loss", 2.5}});
  const std::string body = " validation loss at iteration 100 | lm loss value: 2.500000E+00 | lm loss PPL: "
                           "1.218249E+01 | ";
  const std::string dashes(body.size() + 1, '-');
  CHECK(block == dashes + "\n" + body + "\n" + dashes + "\n");
  // PPL is capped at exp(20).
  CHECK(mcpp::app::format_eval_block("iteration 1", {{"lm loss", 50.0}}).find("lm loss PPL: 4.851652E+08") !=
        std::string::npos);
}

TEST_CASE("device peaks for MFU") {
  CHECK(*mcpp::app::device_peak_tflops("NVIDIA H100 80GB HBM3", true) == 989.4);
  CHECK(*mcpp::app::device_peak_tflops("NVIDIA H200", true) == 989.4);
  CHECK(*mcpp::app::device_peak_tflops("NVIDIA H100 80GB HBM3", false) == 494.7);
  CHECK_FALSE(mcpp::app::device_peak_tflops("cpu", false));
}
