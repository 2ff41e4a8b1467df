#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/metrics_writer.h"
#include "test/common/test_support.h"

TEST_CASE("metrics file: one JSON object per logged iteration") {
  mcpp::app::LogLineValues v;
  v.iteration = 20;
  v.consumed_samples = 640;
  v.lm_loss = 7.25;
  v.learning_rate = 3e-4;
  v.grad_norm = 1.5;
  v.loss_scale = 1.0;
  v.ms_per_iteration = 812.5;
  v.tokens_per_second = 40330.0;
  v.tflops_per_gpu = 312.25;
  v.mfu = 0.3156;
  v.memory_gb = 41.5;
  const auto path = (mcpp::test::scratch_dir("trainconfig-metrics") / "metrics.jsonl").string();
  {
    mcpp::app::MetricsWriter writer(path, false);
    writer.write(v);
    v.iteration = 40;
    v.lm_loss.reset();
    v.grad_norm.reset();
    v.mfu.reset();
    writer.write(v);
  }
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 2);
  const auto& first = lines[0];
  std::vector<std::string> keys;
  for (const auto& [key, value] : first.items()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"consumed_samples", "grad_norm", "iteration", "iteration_ms", "lm_loss",
                                         "loss_scale", "lr", "mem_gb", "mfu", "tflops_per_gpu", "tokens_per_sec"});
  CHECK(first["iteration"] == 20);
  CHECK(first["consumed_samples"] == 640);
  CHECK(first["lm_loss"] == 7.25);
  CHECK(first["lr"] == 3e-4);
  CHECK(first["grad_norm"] == 1.5);
  CHECK(first["loss_scale"] == 1.0);
  CHECK(first["iteration_ms"] == 812.5);
  CHECK(first["tokens_per_sec"] == 40330.0);
  CHECK(first["tflops_per_gpu"] == 312.25);
  CHECK(first["mfu"] == 0.3156);
  CHECK(first["mem_gb"] == 41.5);
  CHECK(lines[1]["iteration"] == 40);
  CHECK(lines[1]["lm_loss"].is_null());
  CHECK(lines[1]["grad_norm"].is_null());
  CHECK(lines[1]["mfu"].is_null());
  // Appending keeps earlier lines; a fresh writer starts over.
  { mcpp::app::MetricsWriter(path, true).write(v); }
  const std::string appended = mcpp::test::read_file(path);
  CHECK(std::count(appended.begin(), appended.end(), '\n') == 3);
  { mcpp::app::MetricsWriter(path, false).write(v); }
  CHECK(mcpp::test::read_file(path).find("\"iteration\":20") == std::string::npos);
}
