#pragma once
// Megatron's training log line and validation/test block (training.py: training_log,
// evaluate_and_print_results), followed by our own fields. Values are gathered per iteration by
// LogAccumulator and averaged over the log interval the way Megatron does:
// - lm loss: mean over the interval's iterations that were not skipped;
// - time per iteration: mean over all the interval's iterations (skipped ones included);
// - learning rate, loss scale, grad norm, batch size: the last iteration's values;
// - skipped / nan iterations: counts over the interval (nan counted among skipped ones).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mcpp::app {

// What the training loop knows after one iteration.
struct IterationRecord {
  int64_t iteration = 0;         // 1-based, after the step
  int64_t consumed_samples = 0;  // after the step
  double seconds = 0.0;          // wall time of this iteration
  double learning_rate = 0.0;
  int64_t global_batch_size = 0;
  int64_t tokens = 0;            // tokens processed this iteration (all ranks)
  double lm_loss = 0.0;          // mean over micro-batches (and ranks)
  double loss_scale = 1.0;
  std::optional<double> grad_norm;  // none on skipped steps
  bool skipped = false;             // fp16 overflow: no optimizer step
  bool loss_is_nan = false;
  double memory_gb = 0.0;           // peak device memory of this rank
};

// One printed line's values (also what --metrics-file and TensorBoard receive).
struct LogLineValues {
  int64_t iteration = 0;
  int64_t train_iters = 0;
  int64_t consumed_samples = 0;
  double ms_per_iteration = 0.0;
  double tflops_per_gpu = 0.0;
  bool show_throughput = false;  // --log-throughput: print TFLOP/s/GPU
  double learning_rate = 0.0;
  int64_t global_batch_size = 0;
  std::optional<double> lm_loss;  // none when every iteration of the interval was skipped
  double loss_scale = 1.0;
  std::optional<double> grad_norm;
  int64_t skipped_iterations = 0;
  int64_t nan_iterations = 0;
  double tokens_per_second = 0.0;
  std::optional<double> mfu;  // fraction of peak; none when the peak is unknown
  double memory_gb = 0.0;
};

class LogAccumulator {
 public:
  void add(const IterationRecord& record);
  bool empty() const { return iterations_ == 0; }

  // Averages over everything added since the last call and starts a new interval.
  // flops_per_iteration: megatron_flops(args, global batch); peak_tflops: per GPU, or none.
  LogLineValues take(int64_t train_iters, double flops_per_iteration, int64_t world_size,
                     std::optional<double> peak_tflops, bool log_throughput);

 private:
  IterationRecord last_;
  int64_t iterations_ = 0;
  int64_t advanced_ = 0;
  int64_t skipped_ = 0;
  int64_t nan_ = 0;
  double loss_sum_ = 0.0;
  double seconds_ = 0.0;
  int64_t tokens_ = 0;
  double memory_gb_ = 0.0;
};

// Megatron's line plus ours:
//  [2026-01-02 03:04:05.123456] iteration        5/     100 | consumed samples: ... | MFU: 41.2% | mem (GB): 12.34 |
std::string format_train_log_line(const LogLineValues& values, std::chrono::system_clock::time_point now);

// The three lines Megatron prints after an evaluation (dashes, values, dashes), e.g. for
// prefix "iteration 100": " validation loss at iteration 100 | lm loss value: ... | lm loss PPL: ... | ".
// PPL = exp(min(20, loss)). Losses are (name, value) in print order.
std::string format_eval_block(const std::string& prefix, const std::vector<std::pair<std::string, double>>& losses);

// Peak dense TFLOP/s of one device for MFU, by device name (e.g. "NVIDIA H100 80GB HBM3"), or
// none when unknown. half_precision: bf16/fp16 tensor cores, else TF32.
std::optional<double> device_peak_tflops(const std::string& device_name, bool half_precision);

}  // namespace mcpp::app
