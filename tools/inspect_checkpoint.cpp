// inspect-checkpoint: shows what a megatron-cpp checkpoint holds (iteration, samples, saved
// state, tensors with dtypes and global shapes) and, with --verify, reads every tensor so each
// stored piece's CRC is checked.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "core/base/main_guard.h"

using namespace mcpp::ckpt;

int main(int argc, char** argv) {
  return mcpp::run_main([&] {
    CLI::App app{"Show the contents of a megatron-cpp checkpoint"};
    std::string load_dir;
    std::optional<int64_t> step;
    bool verify = false;
    bool show_args = false;
    app.add_option("load_dir", load_dir, "directory given to --save")->required();
    app.add_option("--ckpt-step", step, "iteration to open (default: the tracker's)");
    app.add_flag("--verify", verify, "read every tensor, checking CRCs and coverage");
    app.add_flag("--args", show_args, "print the saved arguments and state as JSON");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }

    CheckpointReader reader = CheckpointReader::open(load_dir, step);
    const CommonState& common = reader.common();
    std::printf("checkpoint: %s\n", reader.directory().c_str());
    std::printf("iteration: %lld\n", static_cast<long long>(common.iteration));
    std::printf("consumed samples: train %lld, valid %lld\n",
                static_cast<long long>(common.consumed_train_samples),
                static_cast<long long>(common.consumed_valid_samples));
    if (show_args) {
      std::printf("args: %s\n", common.args.dump(2).c_str());
      std::printf("state: %s\n", common.state.dump(2).c_str());
    }
    std::vector<TensorInfo> tensors = reader.tensors();
    int64_t total_elements = 0;
    for (const TensorInfo& t : tensors) {
      std::printf("  %-70s %-9s %s\n", t.key.c_str(), dtype_name(t.dtype),
                  shape_string(t.global_shape).c_str());
      total_elements += element_count(t.global_shape);
    }
    std::printf("%zu tensors, %lld elements\n", tensors.size(), static_cast<long long>(total_elements));
    if (verify) {
      std::vector<uint8_t> buffer;
      for (const TensorInfo& t : tensors) {
        buffer.resize(size_t(element_count(t.global_shape)) * dtype_size(t.dtype));
        reader.read_whole(t.key, t.dtype, buffer.data());
      }
      std::printf("verified: every tensor is complete and matches its CRCs\n");
    }
    return 0;
  });
}
