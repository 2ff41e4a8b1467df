#include "app/log_line.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace mcpp::app {

void LogAccumulator::add(const IterationRecord& record) {
  ++iterations_;
  seconds_ += record.seconds;
  tokens_ += record.tokens;
  memory_gb_ = std::max(memory_gb_, record.memory_gb);
  if (record.skipped) {
    ++skipped_;
    // As Megatron: a NaN/Inf loss is counted only on skipped iterations (otherwise the loop's
    // NaN check stops training).
    if (record.loss_is_nan || !std::isfinite(record.lm_loss)) ++nan_;
  } else {
    ++advanced_;
    loss_sum_ += record.lm_loss;
  }
  last_ = record;
}

LogLineValues LogAccumulator::take(int64_t train_iters, double flops_per_iteration, int64_t world_size,
                                   std::optional<double> peak_tflops, bool log_throughput) {
  LogLineValues v;
  v.iteration = last_.iteration;
  v.train_iters = train_iters;
  v.consumed_samples = last_.consumed_samples;
  const double seconds_per_iteration = iterations_ > 0 ? seconds_ / static_cast<double>(iterations_) : 0.0;
  v.ms_per_iteration = seconds_per_iteration * 1000.0;
  const double tflops =
      seconds_per_iteration > 0.0 ? flops_per_iteration / (seconds_per_iteration * 1e12 * world_size) : 0.0;
  v.tflops_per_gpu = tflops;
  v.show_throughput = log_throughput;
  if (peak_tflops && *peak_tflops > 0.0) v.mfu = tflops / *peak_tflops;
  v.learning_rate = last_.learning_rate;
  v.global_batch_size = last_.global_batch_size;
  if (advanced_ > 0) v.lm_loss = loss_sum_ / static_cast<double>(advanced_);
  v.loss_scale = last_.loss_scale;
  v.grad_norm = last_.grad_norm;
  v.skipped_iterations = skipped_;
  v.nan_iterations = nan_;
  v.tokens_per_second = seconds_ > 0.0 ? static_cast<double>(tokens_) / seconds_ : 0.0;
  v.memory_gb = memory_gb_;
  *this = LogAccumulator();
  return v;
}

std::string format_train_log_line(const LogLineValues& v, std::chrono::system_clock::time_point now) {
  const auto since_epoch = now.time_since_epoch();
  const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count() % 1000000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);

  std::string line = fmt::format(" [{}.{:06d}]", stamp, micros);
  line += fmt::format(" iteration {:8d}/{:8d} |", v.iteration, v.train_iters);
  line += fmt::format(" consumed samples: {:12d} |", v.consumed_samples);
  line += fmt::format(" elapsed time per iteration (ms): {:.1f} |", v.ms_per_iteration);
  if (v.show_throughput) line += fmt::format(" throughput per GPU (TFLOP/s/GPU): {:.1f} |", v.tflops_per_gpu);
  line += fmt::format(" learning rate: {:.6E} |", v.learning_rate);
  line += fmt::format(" global batch size: {:5d} |", v.global_batch_size);
  // Megatron prints a loss only when its interval average is positive.
  if (v.lm_loss && *v.lm_loss > 0.0) line += fmt::format(" lm loss: {:.6E} |", *v.lm_loss);
  line += fmt::format(" loss scale: {:.1f} |", v.loss_scale);
  if (v.grad_norm) line += fmt::format(" grad norm: {:.3f} |", *v.grad_norm);
  line += fmt::format(" number of skipped iterations: {:3d} |", v.skipped_iterations);
  line += fmt::format(" number of nan iterations: {:3d} |", v.nan_iterations);
  line += fmt::format(" tokens/s: {:.0f} |", v.tokens_per_second);
  line += v.mfu ? fmt::format(" MFU: {:.1f}% |", *v.mfu * 100.0) : std::string(" MFU: n/a |");
  line += fmt::format(" mem (GB): {:.2f} |", v.memory_gb);
  return line;
}

std::string format_eval_block(const std::string& prefix, const std::vector<std::pair<std::string, double>>& losses) {
  std::string text = " validation loss at " + prefix + " | ";
  for (const auto& [name, value] : losses) {
    text += fmt::format("{} value: {:.6E} | ", name, value);
    text += fmt::format("{} PPL: {:.6E} | ", name, std::exp(std::min(20.0, value)));
  }
  const std::string dashes(text.size() + 1, '-');
  return dashes + "\n" + text + "\n" + dashes + "\n";
}

std::optional<double> device_peak_tflops(const std::string& name, bool half_precision) {
  struct Peak {
    const char* name_part;
    double half;  // dense bf16/fp16
    double tf32;  // dense TF32
  };
  // Vendor data sheets, dense (no sparsity). H200 shares H100 SXM's compute.
  static const Peak kPeaks[] = {{"H200", 989.4, 494.7}, {"H100 PCIe", 756.0, 378.0}, {"H100", 989.4, 494.7},
                                {"A100", 312.0, 156.0}};
  for (const Peak& p : kPeaks) {
    if (name.find(p.name_part) != std::string::npos) return half_precision ? p.half : p.tf32;
  }
  return std::nullopt;
}

}  // namespace mcpp::app
