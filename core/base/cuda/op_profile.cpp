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
  // Stream time between one op's end and the next op's start (the GPU idle, or running work no
  // op front-end brackets), by the op that follows.
  std::map<std::string, Totals> gaps;
  int previous = -1;  // the last resolved interval, kept for the gap to the next one

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
      if (previous >= 0) {
        float gap = 0;
        cudaEventElapsedTime(&gap, intervals[previous].stop, intervals[slot].start);
        Totals& g = gaps[intervals[slot].name];
        ++g.calls;
        g.ms += std::max(gap, 0.0f);
        free_slots.push_back(previous);
      }
      previous = slot;
    }
    pending.clear();
  }

  void clear() {
    totals.clear();
    gaps.clear();
    if (previous >= 0) free_slots.push_back(previous);
    previous = -1;
  }
};

// Prints `rows` largest first (at most `limit`), shares taken of `whole`; returns their sum.
double print_table(const char* title, const std::map<std::string, Totals>& table, double whole, size_t limit) {
  std::vector<std::pair<std::string, Totals>> rows(table.begin(), table.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  double total = 0;
  for (const auto& row : rows) total += row.second.ms;
  if (whole <= 0) whole = total;
  std::fprintf(stderr, "\n%s\n", title);
  std::fprintf(stderr, "%-34s %9s %12s %7s %11s\n", "op", "calls", "total ms", "share", "mean us");
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    const auto& [name, t] = rows[i];
    std::fprintf(stderr, "%-34s %9ld %12.1f %6.1f%% %11.1f\n", name.c_str(), t.calls, t.ms,
                 whole > 0 ? 100.0 * t.ms / whole : 0.0, 1000.0 * t.ms / std::max(1L, t.calls));
  }
  std::fprintf(stderr, "%-34s %9s %12.1f\n", "sum", "", total);
  return total;
}

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
  p.clear();
}

void report() {
  if (!enabled()) return;
  Profiler& p = profiler();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.resolve();
  const double busy = print_table("GPU time per op (MCPP_PROFILE; events around each op, one stream)", p.totals, 0,
                                  p.totals.size());
  // Shares of the whole stream time: ops plus the gaps between them.
  double gaps = 0;
  for (const auto& [name, g] : p.gaps) gaps += g.ms;
  print_table("stream time between ops (idle GPU or unbracketed work), by the op that follows", p.gaps,
              busy + gaps, 12);
}

}  // namespace mcpp::profile
