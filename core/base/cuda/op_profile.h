#pragma once
// A per-op GPU time profile without external tools: with MCPP_PROFILE=1 in the environment,
// every op front-end that runs on the GPU brackets its kernels with a pair of CUDA events, and
// at exit a table of GPU milliseconds per op (calls, total, share, mean) goes to stderr. All work
// runs on one stream, so the intervals do not overlap and their sum is the busy GPU time; the
// rest of the wall time is host overhead and synchronisation. A second table sums the stream
// time between consecutive ops by the op that follows: where the GPU waited for the host (or ran
// work no op brackets). Off (one cached getenv) otherwise.
namespace mcpp::profile {

bool enabled();

// Times the GPU work issued between construction and destruction under `name` (a string
// literal: it is kept by pointer).
class Scope {
 public:
  explicit Scope(const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  int slot_ = -1;
};

// Prints the table now (also done once at exit when enabled).
void report();
// Forgets what was timed so far (the training loop calls it after its warm-up iterations, so
// one-time costs such as module loading and GEMM algorithm selection stay out of the table).
void reset();

}  // namespace mcpp::profile
