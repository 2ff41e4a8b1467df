#include "core/base/cuda/op_profile.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/cuda/stream.h"

namespace mcpp::profile {

namespace {

struct Interval {
  const char* name = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
};

struct Totals {
  long calls = 0;
  double ms = 0;
};

struct Profiler {
  std::mutex mutex;
  std::vector<Interval> intervals;  // recorded, not yet resolved
  std::vector<int> free_slots;
  std::vector<int> pending;
  std::map<std::string, Totals> totals;

  // Waits for the recorded events and folds them into the totals; slots become free again.
  void resolve() {
    if (pending.empty()) return;
    cudaEventSynchronize(intervals[pending.back()].stop);
    for (int slot : pending) {
      float ms = 0;
      cudaEventElapsedTime(&ms, intervals[slot].start, intervals[slot].stop);
      Totals& t = totals[intervals[slot].name];
      ++t.calls;
      t.ms += ms;
      free_slots.push_back(slot);
    }
    pending.clear();
  }
};

Profiler& profiler() {
  static Profiler* instance = new Profiler();  // never destroyed: used from atexit
  return *instance;
}

void report_at_exit() { report(); }

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* value = std::getenv("MCPP_PROFILE");
    const bool enable = value != nullptr && std::string(value) != "0" && std::string(value) != "";
    if (enable) std::atexit(report_at_exit);
    return enable;
  }();
  return on;
}

Scope::Scope(const char* name) {
  if (!enabled()) return;
  Profiler& p = profiler();
  std::lock_guard<std::mutex> lock(p.mutex);
  if (p.free_slots.empty() && p.pending.size() >= 4096) p.resolve();
  if (p.free_slots.empty()) {
    Interval interval;
    if (cudaEventCreate(&interval.start) != cudaSuccess || cudaEventCreate(&interval.stop) != cudaSuccess) return;
    p.intervals.push_back(interval);
    p.free_slots.push_back(static_cast<int>(p.intervals.size()) - 1);
  }
  slot_ = p.free_slots.back();
  p.free_slots.pop_back();
  p.intervals[slot_].name = name;
  cudaEventRecord(p.intervals[slot_].start, current_stream());
}

Scope::~Scope() {
  if (slot_ < 0) return;
  Profiler& p = profiler();
  std::lock_guard<std::mutex> lock(p.mutex);
  cudaEventRecord(p.intervals[slot_].stop, current_stream());
  p.pending.push_back(slot_);
}

void reset() {
  if (!enabled()) return;
  Profiler& p = profiler();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.resolve();
  p.totals.clear();
}

void report() {
  if (!enabled()) return;
  Profiler& p = profiler();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.resolve();
  std::vector<std::pair<std::string, Totals>> rows(p.totals.begin(), p.totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  double total = 0;
  for (const auto& row : rows) total += row.second.ms;
  std::fprintf(stderr, "\nGPU time per op (MCPP_PROFILE; events around each op, one stream)\n");
  std::fprintf(stderr, "%-34s %9s %12s %7s %11s\n", "op", "calls", "total ms", "share", "mean us");
  for (const auto& [name, t] : rows) {
    std::fprintf(stderr, "%-34s %9ld %12.1f %6.1f%% %11.1f\n", name.c_str(), t.calls, t.ms,
                 total > 0 ? 100.0 * t.ms / total : 0.0, 1000.0 * t.ms / std::max(1L, t.calls));
  }
  std::fprintf(stderr, "%-34s %9s %12.1f\n", "sum", "", total);
}

}  // namespace mcpp::profile
