#include "parallel/pipeline_schedule.h"

#include <algorithm>

#include "core/base/error.h"

namespace mcpp::parallel {

namespace {

void check_rank(int pp_rank, int pp_size, int num_microbatches) {
  check(pp_size >= 1 && pp_rank >= 0 && pp_rank < pp_size, "internal: pipeline rank outside the pipeline");
  check(num_microbatches >= 1, "the pipeline schedule needs at least one microbatch");
}

// Warm-up forwards, then steady (forward k + warmup, backward k) pairs, then cool-down backwards,
// over `total` virtual steps whose forward / backward identities come from the two functions.
template <typename Forward, typename Backward>
std::vector<ScheduleStep> warmup_steady_cooldown(int total, int warmup, Forward forward, Backward backward) {
  std::vector<ScheduleStep> schedule;
  for (int k = 0; k < warmup; ++k) schedule.push_back(forward(k));
  for (int k = 0; k < total - warmup; ++k) {
    schedule.push_back(forward(warmup + k));
    schedule.push_back(backward(k));
  }
  for (int k = total - warmup; k < total; ++k) schedule.push_back(backward(k));
  return schedule;
}

int group_size_of(const InterleavedOptions& o) { return o.group_size > 0 ? o.group_size : o.pp_size; }

}  // namespace

int one_f_one_b_warmup(int pp_rank, int pp_size, int num_microbatches) {
  check_rank(pp_rank, pp_size, num_microbatches);
  return std::min(pp_size - pp_rank - 1, num_microbatches);
}

std::vector<ScheduleStep> one_f_one_b_schedule(int pp_rank, int pp_size, int num_microbatches) {
  return warmup_steady_cooldown(
      num_microbatches, one_f_one_b_warmup(pp_rank, pp_size, num_microbatches),
      [](int k) { return ScheduleStep{PipelinePass::forward, k, 0}; },
      [](int k) { return ScheduleStep{PipelinePass::backward, k, 0}; });
}

std::vector<ScheduleStep> interleaved_forward_table(const InterleavedOptions& o) {
  check_rank(o.pp_rank, o.pp_size, o.num_microbatches);
  check(o.virtual_size >= 1, "internal: virtual pipeline size must be at least 1");
  const int g = group_size_of(o), m = o.num_microbatches, p = o.pp_size;
  check(p <= g && g <= m, "--microbatch-group-size-per-virtual-pipeline-stage " + std::to_string(g) +
                              " must lie between --pipeline-model-parallel-size " + std::to_string(p) +
                              " and the number of microbatches " + std::to_string(m));
  check(m % g == 0 || m % g >= p, "the number of microbatches " + std::to_string(m) +
                                      " leaves a last group of " + std::to_string(m % g) +
                                      " microbatches, fewer than --pipeline-model-parallel-size " + std::to_string(p) +
                                      "; use a multiple of the group size");
  std::vector<ScheduleStep> table;
  for (int start = 0; start < m; start += g) {
    const int end = std::min(start + g, m);
    for (int chunk = 0; chunk < o.virtual_size; ++chunk)
      for (int mb = start; mb < end; ++mb) table.push_back({PipelinePass::forward, mb, chunk});
  }
  return table;
}

int interleaved_warmup(const InterleavedOptions& o) {
  check_rank(o.pp_rank, o.pp_size, o.num_microbatches);
  const int warmup = (o.pp_size - o.pp_rank - 1) * 2 + (o.virtual_size - 1) * group_size_of(o);
  return std::min(warmup, o.num_microbatches * o.virtual_size);
}

std::vector<ScheduleStep> interleaved_schedule(const InterleavedOptions& o) {
  const std::vector<ScheduleStep> table = interleaved_forward_table(o);
  const int vp = o.virtual_size;
  return warmup_steady_cooldown(
      static_cast<int>(table.size()), interleaved_warmup(o), [&](int k) { return table[k]; },
      [&](int k) { return ScheduleStep{PipelinePass::backward, table[k].microbatch, vp - 1 - table[k].chunk}; });
}

std::string describe(const std::vector<ScheduleStep>& schedule) {
  const bool chunks = std::any_of(schedule.begin(), schedule.end(), [](const ScheduleStep& s) { return s.chunk != 0; });
  std::string text;
  for (const ScheduleStep& step : schedule) {
    if (!text.empty()) text += ' ';
    text += step.pass == PipelinePass::forward ? 'F' : 'B';
    text += std::to_string(step.microbatch);
    if (chunks) text += "." + std::to_string(step.chunk);
  }
  return text;
}

}  // namespace mcpp::parallel
