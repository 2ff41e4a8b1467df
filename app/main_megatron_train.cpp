// megatron-train: Megatron's pretrain_gpt.py as one native program.
#include <cstdio>

#include "app/dry_run.h"
#include "app/run_config.h"
#include "app/train_args.h"
#include "app/trainer.h"
#include "core/base/log.h"
#include "core/base/main_guard.h"
#include "parallel/local_rank.h"
#include "parallel/mpi_runtime.h"

int main(int argc, char** argv) {
  // Under mpirun every rank joins the job's world; a plain process is a world of one.
  mcpp::parallel::MpiRuntime mpi;
  const int status = mcpp::run_main([&] {
    using namespace mcpp::app;
    if (mpi.size() > 1) {
      // Which launcher numbering picked this rank's GPU (MCPP_LOG_LEVEL=debug shows it).
      const char* variable = mcpp::parallel::launcher_local_rank_variable();
      mcpp::log::debug("rank {} of {}: node-local rank {} of {} (from {})", mpi.rank(), mpi.size(), mpi.local_rank(),
                       mpi.local_size(), variable ? variable : "the ranks sharing this node");
    }
    TrainArgs args = parse_train_args(argc, argv);
    if (args.own.dry_run) {
      // The vocabulary comes from the tokenizer when one is configured, else --vocab-size.
      int64_t vocab = 0;
      if (auto options = tokenizer_options(args)) vocab = mcpp::data::make_tokenizer(*options)->vocab_size();
      validate_train_args(args, /*world_size=*/static_cast<int64_t>(args.parallel.tensor_model_parallel_size *
                                                                      args.parallel.pipeline_model_parallel_size *
                                                                      args.parallel.context_parallel_size),
                          vocab);
      const std::string device = resolve_device(args);
      std::fputs(format_model_budget(args, estimate_model_budget(args, device)).c_str(), stdout);
      return 0;
    }
    Trainer trainer(std::move(args));
    return trainer.train();
  });
  // A rank that failed alone would leave the others waiting in a collective: end the whole job.
  if (status != 0 && mpi.size() > 1) MPI_Abort(MPI_COMM_WORLD, status);
  return status;
}
