// Device choice and the notes logged once at start-up.
#include "app/train_args.h"

#ifdef MCPP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "core/base/cuda/device_allocator.h"
#include "core/kernels/cuda/attention_cudnn.h"
#include "core/kernels/cuda/gemm.h"
#include "parallel/cuda/local_device.h"
#endif

#include "core/base/env_switch.h"
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

void select_cuda_device(const TrainArgs& args, int64_t world_size) {
#ifdef MCPP_HAVE_CUDA
  // Deterministic cuDNN attention backward (the other kernels are deterministic already).
  core::gpu::set_deterministic(args.training.deterministic_mode);
  // GEMMs beside the data-parallel collectives leave NCCL's SMs free (its rings use 24 channels
  // on 2-4 H100/H200 of one host); off with --deterministic-mode, where one shape must always
  // run one algorithm.
  // MCPP_COMM_SM_RESERVE=N overrides the count (0 turns the reserve off) for tuning.
  const int communication_sms = static_cast<int>(env_count("MCPP_COMM_SM_RESERVE", 24, 1024));
  core::gpu::set_communication_sm_reserve(world_size > 1 && !args.training.deterministic_mode ? communication_sms : 0);
  int count = 0;
  check(cudaGetDeviceCount(&count) == cudaSuccess && count > 0, "--device cuda: no usable GPU found");
  if (world_size > 1) {
    parallel::use_local_cuda_device(MPI_COMM_WORLD);  // node-local rank modulo the GPU count
  } else {
    check(cudaSetDevice(0) == cudaSuccess, "cannot select GPU 0");
  }
#else
  (void)args, (void)world_size;
  throw Error("--device cuda: this build has no CUDA support; use --device cpu");
#endif
}

double peak_device_memory_gb() {
#ifdef MCPP_HAVE_CUDA
  return static_cast<double>(device_memory_stats().peak_allocated_bytes) / 1e9;
#else
  return 0.0;
#endif
}

}  // namespace mcpp::app
