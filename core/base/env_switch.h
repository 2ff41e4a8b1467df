#pragma once
// The MCPP_* tuning settings read from the environment: switches that turn a behaviour on or off
// (MCPP_NCCL_WINDOWS, MCPP_DEFER_FIRST_LAYER_WGRAD) and counts (MCPP_COMM_SM_RESERVE,
// MCPP_PROFILE_WARMUP). Unset gives the default; a value of the wrong form is an error naming the
// variable.
#include <cstdint>

namespace mcpp {

// "1" on, "0" off.
bool env_switch(const char* name, bool default_value);

// A non-negative decimal integer below `limit`.
int64_t env_count(const char* name, int64_t default_value, int64_t limit);

}  // namespace mcpp
