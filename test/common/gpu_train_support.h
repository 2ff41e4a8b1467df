#pragma once
// Helpers for megatron-train tests on several GPUs under mpirun (NCCL): the tiny CPU flag sets of
// train_support.h turned into GPU runs that log every iteration to a metrics file, and a check
// that a parallel layout follows the 1-GPU run of the same model and data.
#include <filesystem>
#include <string>
#include <vector>

namespace mcpp::test {

// Iterations of every GPU run made by these helpers.
constexpr int kGpuIterations = 10;

// `base` (a tiny_*_flags() set) on the GPU with `precision` (--bf16, or --fp16 with its
// loss-scaling flags), no dropout, kGpuIterations iterations, losses to `metrics`.
std::string gpu_flags(const std::string& base, const std::filesystem::path& metrics, const std::string& precision);

// Runs megatron-train on `ranks` GPUs (NCCL_NVLS_ENABLE=0); fails the test on a non-zero exit.
void train_on_gpus_raw(int ranks, const std::string& flags);

// As train_on_gpus_raw, returning the losses logged to `metrics` (removed first).
std::vector<double> train_on_gpus(int ranks, const std::string& flags, const std::filesystem::path& metrics);

// Trains `base` on 1 GPU and with `layout` on `ranks` GPUs; every iteration's loss must agree
// within 2% relative (bf16 tolerance). Returns the largest relative difference.
double check_layout_on_gpus(int ranks, const std::string& name, const std::string& base, const std::string& layout,
                            const std::string& precision = "--bf16");

}  // namespace mcpp::test
