// Device choice and the notes logged once at start-up.
#include "app/train_args.h"

#ifdef MCPP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "core/base/error.h"
#include "core/base/log.h"

namespace mcpp::app {

std::string default_device() {
#ifdef MCPP_HAVE_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) return "cuda";
  cudaGetLastError();  // clear the "no device" error so later CUDA calls start clean
#endif
  return "cpu";
}

std::string resolve_device(const TrainArgs& args) {
  if (!args.own.device) return default_device();
#ifndef MCPP_HAVE_CUDA
  mcpp::check(*args.own.device != "cuda", "--device cuda: this build has no CUDA support; use --device cpu");
#endif
  return *args.own.device;
}

void log_startup_notes(const TrainArgs& args, const std::string& device) {
  for (const std::string& note : args.no_effect_notes) log::info_once("accepted, no effect: " + note);
  if (device == "cpu" && (args.precision.bf16 || args.precision.fp16)) {
    log::info_once(std::string(args.precision.bf16 ? "--bf16" : "--fp16") +
                   ": on CPU all compute stays fp32 (the flag still selects the loss-scaling behaviour)");
  }
}

}  // namespace mcpp::app
