#pragma once
// The MCPP_* tuning switches that turn a behaviour on or off (MCPP_NCCL_WINDOWS,
// MCPP_DEFER_FIRST_LAYER_WGRAD): unset gives the default, "1" on, "0" off; anything else is an
// error naming the variable.

namespace mcpp {

bool env_switch(const char* name, bool default_value);

}  // namespace mcpp
