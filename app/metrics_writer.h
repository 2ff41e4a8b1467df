#pragma once
// --metrics-file PATH: one JSON object per logged iteration (JSON lines), flushed as written, with
// the keys iteration, consumed_samples, lm_loss, lr, grad_norm, loss_scale, iteration_ms,
// tokens_per_sec, tflops_per_gpu, mfu, mem_gb. Values that do not exist for an interval (no loss
// when every step was skipped, MFU without a known peak) are null.
#include <cstdio>
#include <string>

#include "app/log_line.h"

namespace mcpp::app {

// The JSON object for one log line (no trailing newline).
std::string metrics_json(const LogLineValues& values);

class MetricsWriter {
 public:
  // append: keep earlier lines (a resumed run); otherwise the file starts empty.
  MetricsWriter(const std::string& path, bool append);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  void write(const LogLineValues& values);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace mcpp::app
