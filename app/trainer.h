#pragma once
// Megatron's pretraining loop (megatron/training/training.py: pretrain → train → train_step,
// evaluate, save/load) for one model shard: micro-batches from the GPT loader, forward/backward
// with Megatron's loss normalisation, grad clipping, the optimizer step, the LR/WD schedule, the
// log line, validation and test, checkpoints and the exit conditions.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/log_line.h"
#include "app/metrics_writer.h"
#include "app/optimizer.h"
#include "app/tensorboard_writer.h"
#include "app/train_args.h"
#include "core/comm/communicator.h"
#include "core/model/gpt_model.h"
#include "core/optim/loss_scaler.h"
#include "core/optim/param_scheduler.h"
#include "data/gpt/builder.h"
#include "data/gpt/loader.h"
#include "data/tokenizers/tokenizer.h"
#include "parallel/distributed_optimizer.h"
#include "parallel/grad_buffer.h"
#include "parallel/param_gather.h"
#include "parallel/process_groups.h"

namespace mcpp::app {

// The result of one pass over a global batch.
struct BatchLoss {
  double loss_sum = 0;
  double num_tokens = 0;
  double mean() const { return loss_sum / std::max(num_tokens, 1.0); }
};

class Trainer {
 public:
  // Builds tokenizer, model, optimizer, schedule and datasets from validated-later args, then
  // loads --load when it holds a checkpoint.
  explicit Trainer(TrainArgs args);
  ~Trainer();

  // Runs until --train-iters/--train-samples or an exit condition; returns the process status.
  int train();

  int64_t iteration() const { return iteration_; }
  model::GPTModel& model() { return *model_; }

 private:
  void build_datasets();
  // Under mpirun (world > 1): process groups, this rank's model shard or pipeline stage, the
  // data-parallel gradient reducer and the (distributed) optimizer (app/trainer_parallel.cpp).
  void setup_parallel(int world_size);
  // This rank's model chunks (one per virtual pipeline stage; model_ is chunk 0), each with its
  // gradient reducer and optimizer part (app/trainer_chunks.cpp).
  void build_model_chunks(const parallel::DdpOptions& ddp);
  // The pipeline stage model chunk `chunk` of this rank holds (the whole model without PP).
  model::PipelineStage chunk_stage(int chunk) const;
  std::vector<model::GPTModel*> model_chunks() const;
  bool parallel_run() const { return groups_ != nullptr; }
  Device model_device() const { return device_ == "cuda" ? Device::CUDA : Device::CPU; }
  // The rank that prints the log line and writes metrics and TensorBoard (Megatron: the last).
  bool is_logging_rank() const { return !groups_ || groups_->world_rank() == groups_->world_size() - 1; }
  void train_step_parallel(IterationRecord& record);
  // This rank's forward-only losses of one global batch (through the pipeline when pp > 1);
  // sets *exhausted when the split runs out.
  BatchLoss evaluate_batch(data::GptLoader& loader, bool* exhausted);
  BatchLoss evaluate_batch_parallel(data::GptLoader* loader, bool* exhausted);
  // Megatron's get_batch: the first pipeline stage needs the tokens, the last the labels and loss
  // mask; middle stages need nothing (the document offsets of --reset-attention-mask aside: our
  // attention applies document boundaries on every stage, so with it every stage reads).
  bool stage_uses_data() const;
  bool middle_stages_read_data() const { return args_.data.reset_attention_mask; }
  // Under mpirun only tensor-parallel rank 0 of a stage that uses data reads it (it alone has
  // loaders); the other TP ranks get each micro-batch from it (app/batch_broadcast.h).
  bool reads_data() const { return stage_uses_data() && (!groups_ || groups_->tp_rank() == 0); }
  // The next micro-batch of `loader` (null where this rank does not read) on every rank: a stage
  // that uses no data gets an empty micro-batch, or nullopt where the first stage's split ended.
  std::optional<model::MicroBatch> next_micro_batch(data::GptLoader* loader);
  // Σ over the data-parallel group (every rank gets the global sums; the last stage holds them).
  BatchLoss sum_over_data_parallel(BatchLoss local) const;
  // Forward and backward over the micro-batches of one global batch.
  BatchLoss forward_backward(data::GptLoader& loader);
  // One training iteration; fills `record`.
  void train_step(IterationRecord& record);
  // Forward-only over --eval-iters global batches of `loader` (null where this rank does not read).
  BatchLoss evaluate(data::GptLoader* loader, int64_t* consumed);
  void evaluate_and_print(const std::string& prefix, data::SplitName split);
  void log_interval(const IterationRecord& record);

  void save_checkpoint();
  // --check-weight-hash-across-dp-replicas-interval: throws when the data-parallel replicas'
  // parameters differ (app/weight_hash.h).
  void check_weight_hashes();
  void load_checkpoint();

  TrainArgs args_;
  std::string device_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  int64_t vocab_size_ = 0;  // unpadded
  std::unique_ptr<comm::Communicator> comm_;
  model::ParallelContext parallel_;
  std::unique_ptr<model::GPTModel> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<optim::ParamScheduler> scheduler_;
  std::unique_ptr<parallel::ProcessGroups> groups_;  // null for a single process
  std::vector<std::unique_ptr<model::GPTModel>> later_chunks_;  // chunks 1.. (interleaved pipeline)
  std::vector<std::unique_ptr<parallel::GradReducer>> grad_reducers_;  // one per chunk
  std::vector<std::unique_ptr<parallel::DistributedOptimizer>> parallel_optimizers_;  // one per chunk
  std::vector<std::unique_ptr<parallel::ParamGatherer>> param_gatherers_;  // --overlap-param-gather, per chunk
  bool overlap_grad_reduce_ = false;
  int64_t parallel_optimizer_steps_ = 0;
  std::optional<optim::LossScaler> loss_scaler_;  // --fp16 only
  data::GptDatasets datasets_;
  std::unique_ptr<data::GptLoader> train_loader_;
  std::unique_ptr<data::GptLoader> valid_loader_;
  bool evaluates_validation_ = false;  // a validation split and --eval-iters > 0 (on every rank)

  int64_t iteration_ = 0;
  int64_t train_iters_ = 0;
  int64_t consumed_train_samples_ = 0;
  int64_t consumed_valid_samples_ = 0;
  int64_t microbatches_run_ = 0;  // dropout stream counter, saved as the RNG state
  int64_t last_saved_iteration_ = -1;
  double flops_per_iteration_ = 0;
  std::optional<double> peak_tflops_;

  LogAccumulator log_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::chrono::steady_clock::time_point start_time_;
};

// Megatron's get_batch: the loader's micro-batch as the model's batch-first [b, s] tensors.
model::MicroBatch model_batch(const data::MicroBatch& batch);

// Runs megatron-train with these arguments (argv without the program name).
int megatron_train_main(int argc, char** argv);

}  // namespace mcpp::app
