#include "app/metrics_writer.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace mcpp::app {

namespace {

// JSON has no NaN/Inf: those become null too.
nlohmann::json number_or_null(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return nullptr;
  return *value;
}

}  // namespace

std::string metrics_json(const LogLineValues& v) {
  nlohmann::ordered_json j;
  j["iteration"] = v.iteration;
  j["consumed_samples"] = v.consumed_samples;
  j["lm_loss"] = number_or_null(v.lm_loss);
  j["lr"] = number_or_null(v.learning_rate);
  j["grad_norm"] = number_or_null(v.grad_norm);
  j["loss_scale"] = number_or_null(v.loss_scale);
  j["iteration_ms"] = number_or_null(v.ms_per_iteration);
  j["tokens_per_sec"] = number_or_null(v.tokens_per_second);
  j["tflops_per_gpu"] = number_or_null(v.tflops_per_gpu);
  j["mfu"] = number_or_null(v.mfu);
  j["mem_gb"] = number_or_null(v.memory_gb);
  return j.dump();
}

MetricsWriter::MetricsWriter(const std::string& path, bool append) : path_(path) {
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  check(file_ != nullptr, "--metrics-file " + path + ": cannot open for writing");
}

MetricsWriter::~MetricsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsWriter::write(const LogLineValues& values) {
  const std::string line = metrics_json(values) + "\n";
  check(std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
        "--metrics-file " + path_ + ": write failed");
}

}  // namespace mcpp::app
