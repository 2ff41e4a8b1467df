#include "app/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>

#include "app/dry_run.h"
#include "app/flags_optim.h"
#include "app/run_config.h"
#include "app/weight_hash.h"
#include "core/base/env_switch.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/optim/grad_norm.h"
#include "parallel/mpi_runtime.h"
#ifdef MCPP_HAVE_CUDA
#include "core/base/cuda/op_profile.h"
#endif

namespace mcpp::app {
namespace {

std::atomic<bool> g_exit_signal{false};

#ifdef MCPP_HAVE_CUDA
// Iterations left out of the MCPP_PROFILE table (module loading, GEMM algorithm selection);
// MCPP_PROFILE_WARMUP=N leaves out more (e.g. to profile past the GPUs' power-limit transient).
int64_t profile_warmup_iterations() {
  static const int64_t count = env_count("MCPP_PROFILE_WARMUP", 2, int64_t(1) << 40);
  return count;
}
#endif

void on_exit_signal(int) { g_exit_signal = true; }

double peak_rss_gb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e9;  // ru_maxrss is in KiB
}

// Megatron's get_batch: batch-first [b, s] tensors for the model.
}  // namespace

model::MicroBatch model_batch(const data::MicroBatch& batch) {
  const int64_t b = batch.batch_size, s = batch.seq_length;
  model::MicroBatch out;
  out.tokens = Tensor::empty({b, s}, DType::I64);
  out.labels = Tensor::empty({b, s}, DType::I64);
  out.loss_mask = Tensor::empty({b, s}, DType::F32);
  out.position_ids = Tensor::empty({b, s}, DType::I64);
  int64_t* tokens = out.tokens.data<int64_t>();
  int64_t* labels = out.labels.data<int64_t>();
  float* mask = out.loss_mask.data<float>();
  int64_t* positions = out.position_ids.data<int64_t>();
  for (int64_t i = 0; i < b * s; ++i) {
    tokens[i] = batch.tokens[i];
    labels[i] = batch.labels[i];
    mask[i] = batch.loss_mask[i];
    positions[i] = batch.position_ids[i];
  }
  // Rows hold different document counts: pad each with its end offset (empty documents).
  size_t width = 0;
  for (const auto& offsets : batch.document_offsets) width = std::max(width, offsets.size());
  if (width > 0) {
    out.doc_offsets = Tensor::empty({b, static_cast<int64_t>(width)}, DType::I64);
    int64_t* doc = out.doc_offsets.data<int64_t>();
    for (int64_t row = 0; row < b; ++row) {
      const auto& offsets = batch.document_offsets[row];
      for (size_t k = 0; k < width; ++k) doc[row * width + k] = k < offsets.size() ? offsets[k] : offsets.back();
    }
  }
  return out;
}

namespace {

// The world this process runs in: mpirun's, or one rank when MPI is not running.
int mpi_world_size() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int size = 1;
  if (initialized) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace

Trainer::Trainer(TrainArgs args) : args_(std::move(args)), start_time_(std::chrono::steady_clock::now()) {
  device_ = resolve_device(args_);

  if (auto options = tokenizer_options(args_)) {
    tokenizer_ = data::make_tokenizer(*options);
    vocab_size_ = tokenizer_->vocab_size();
  } else {
    check(args_.model.vocab_size.has_value(),
          "no tokenizer: give --tokenizer-type (with its files), or --mock-data with --vocab-size");
    vocab_size_ = *args_.model.vocab_size;
  }
  const int world_size = mpi_world_size();
  validate_train_args(args_, world_size, vocab_size_);
  reject_unsupported(args_, world_size);
  log_startup_notes(args_, device_);
  if (device_ == "cuda") select_cuda_device(args_, world_size);

  if (world_size > 1) {
    setup_parallel(world_size);
  } else {
    comm_ = std::make_unique<comm::SingleRankCommunicator>();
    parallel_ = model::ParallelContext::single(*comm_);
    model_ = std::make_unique<model::GPTModel>(model_config(args_, device_), parallel_, model_device());
    OptimizerSettings settings;
    settings.kind = args_.training.optimizer;
    settings.adam = adam_config(args_);
    settings.sgd_momentum = static_cast<float>(args_.training.sgd_momentum);
    optimizer_ = std::make_unique<Optimizer>(model_->params(), settings);
  }
  model_->dropout().seed = static_cast<uint64_t>(args_.training.seed);
  scheduler_ = std::make_unique<optim::ParamScheduler>(scheduler_config(args_));
  if (args_.precision.fp16) loss_scaler_.emplace(loss_scaler_config(args_));

  train_iters_ = train_iterations(args_);
  flops_per_iteration_ = megatron_flops(args_, *args_.training.global_batch_size);
  peak_tflops_ = args_.own.peak_tflops;

  log::info("model: {} parameters, {} layers, hidden {}, padded vocabulary {}",
            model_->params().total_numel(), *args_.model.num_layers, *args_.model.hidden_size,
            args_.derived.padded_vocab_size);

  if (args_.checkpoint.load) load_checkpoint();
  build_datasets();

  if (args_.logging.tensorboard_dir && is_logging_rank()) {
    tensorboard_ = std::make_unique<TensorBoardWriter>(*args_.logging.tensorboard_dir);
  }
  if (args_.logging.metrics_file && is_logging_rank()) {
    metrics_ = std::make_unique<MetricsWriter>(*args_.logging.metrics_file, iteration_ > 0);
  }
  if (args_.training.exit_signal_handler) std::signal(SIGTERM, on_exit_signal);
}

Trainer::~Trainer() = default;

void Trainer::build_datasets() {
  data::GptDataConfig config = data_config(args_, tokenizer_.get());
  data::SplitSampleCounts counts = split_sample_counts(args_);
  if (parallel_run()) {
    // Rank 0 builds and writes the index cache; the others wait for it, then read it.
    const bool writer = groups_->world_rank() == 0;
    if (writer) datasets_ = data::build_gpt_datasets(config, counts);
    MPI_Barrier(MPI_COMM_WORLD);
    if (!writer) {
      config.write_cache = false;
      datasets_ = data::build_gpt_datasets(config, counts);
    }
  } else {
    datasets_ = data::build_gpt_datasets(config, counts);
  }
  check(datasets_[data::SplitName::train] != nullptr,
        "the training split is empty: check --split (its first weight must be > 0) or --train-data-path");
  data::LoaderOptions options;
  options.micro_batch_size = *args_.training.micro_batch_size;
  options.consumed_samples = consumed_train_samples_;
  if (parallel_run()) {  // each data-parallel rank reads its slice (compat §2.7)
    options.dp_rank = groups_->dp_rank();
    options.dp_size = groups_->dp.size();
  }
  evaluates_validation_ = datasets_[data::SplitName::valid] && args_.logging.eval_iters > 0;
  if (parallel_run() && groups_->world_rank() == 0 && groups_->pp.size() > 2) {
    log::info("data: read by tensor-parallel rank 0 of {}",
              middle_stages_read_data() ? "every pipeline stage (the middle ones for --reset-attention-mask)"
                                        : "the first and last pipeline stages");
  }
  if (!reads_data()) return;
  train_loader_ = std::make_unique<data::GptLoader>(datasets_[data::SplitName::train], options);
  if (evaluates_validation_) {
    options.consumed_samples = consumed_valid_samples_;
    valid_loader_ = std::make_unique<data::GptLoader>(datasets_[data::SplitName::valid], options);
  }
}

BatchLoss Trainer::forward_backward(data::GptLoader& loader) {
  const int64_t num_microbatches = args_.derived.num_microbatches;
  const bool per_token = args_.training.calculate_per_token_loss;
  const double loss_scale = loss_scaler_ ? loss_scaler_->scale() : 1.0;
  BatchLoss total;
  model_->dropout().training = true;
  for (int64_t mb = 0; mb < num_microbatches; ++mb) {
    std::optional<data::MicroBatch> batch = loader.next();
    check(batch.has_value(), "the training data ran out at iteration " + std::to_string(iteration_ + 1) +
                                 "; this should not happen (the dataset is sized for --train-iters)");
    model_->dropout().step = static_cast<uint64_t>(microbatches_run_++);
    const model::LossPair loss = model_->forward(model_batch(*batch));
    // Megatron's schedule divides each micro-batch's loss by its token count and by the number of
    // micro-batches, unless --calculate-per-token-loss (then by the global token count, below).
    const double scale = per_token ? 1.0 : 1.0 / std::max(loss.num_tokens, 1.0) / num_microbatches;
    model_->backward(static_cast<float>(scale * loss_scale));
    total.loss_sum += loss.loss_sum;
    total.num_tokens += loss.num_tokens;
  }
  if (per_token) optimizer_->scale_grads(static_cast<float>(1.0 / std::max(total.num_tokens, 1.0)));
  return total;
}

void Trainer::train_step(IterationRecord& record) {
  if (parallel_run()) return train_step_parallel(record);
  model_->zero_grads();
  const BatchLoss loss = forward_backward(*train_loader_);
  record.lm_loss = loss.mean();
  record.loss_is_nan = !std::isfinite(record.lm_loss);

  bool skip = false;
  if (loss_scaler_) {
    optimizer_->scale_grads(static_cast<float>(loss_scaler_->inverse_scale()));
    const bool found_inf = optimizer_->grads_have_nan_or_inf();
    loss_scaler_->update(found_inf);
    skip = found_inf;
  } else if (args_.training.check_for_nan_in_loss_and_grad && record.loss_is_nan) {
    throw Error("iteration " + std::to_string(iteration_ + 1) + ": the loss is " +
                (std::isnan(record.lm_loss) ? "NaN" : "infinite") +
                "; lower --lr, check the data, or resume from an earlier checkpoint");
  }

  if (!skip) {
    const double norm = std::sqrt(optimizer_->grad_sum_of_squares());
    if (args_.training.check_for_nan_in_loss_and_grad && !std::isfinite(norm)) {
      throw Error("iteration " + std::to_string(iteration_ + 1) +
                  ": the gradient norm is NaN or infinite; lower --lr or resume from an earlier checkpoint");
    }
    record.grad_norm = norm;
    const double coefficient = optim::clip_coefficient(args_.training.clip_grad, norm);
    optimizer_->step(scheduler_->lr(), scheduler_->weight_decay(), static_cast<float>(coefficient));
    scheduler_->step(*args_.training.global_batch_size);
  }
  record.skipped = skip;
  record.loss_scale = loss_scaler_ ? loss_scaler_->scale() : 1.0;
}

int Trainer::train() {
  const int64_t gbs = *args_.training.global_batch_size;
  const int64_t seq = *args_.model.seq_length;
  bool exiting = false;
  while (iteration_ < train_iters_ && !exiting) {
    IterationRecord record;
    const auto t0 = std::chrono::steady_clock::now();
    train_step(record);
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++iteration_;
    consumed_train_samples_ += gbs;
    // Megatron logs the learning rate the scheduler holds after this step.
    record.learning_rate = scheduler_->lr();
    record.iteration = iteration_;
    record.consumed_samples = consumed_train_samples_;
    record.global_batch_size = gbs;
    record.tokens = gbs * seq;
    record.memory_gb = model_device() == Device::CUDA ? peak_device_memory_gb() : peak_rss_gb();
    const auto& hash_interval = args_.training.check_weight_hash_across_dp_replicas_interval;
    if (hash_interval && iteration_ % *hash_interval == 0) check_weight_hashes();
    log_interval(record);
#ifdef MCPP_HAVE_CUDA
    if (iteration_ == profile_warmup_iterations()) profile::reset();  // MCPP_PROFILE: warm-up excluded
#endif

    if (evaluates_validation_ && args_.logging.eval_interval > 0 && iteration_ % args_.logging.eval_interval == 0) {
      evaluate_and_print("iteration " + std::to_string(iteration_), data::SplitName::valid);
    }
    const bool save_now = args_.checkpoint.save && args_.checkpoint.save_interval &&
                          iteration_ % *args_.checkpoint.save_interval == 0;
    if (save_now) save_checkpoint();

    // Exit conditions, in Megatron's order: signal, duration, interval.
    std::string reason;
    if (g_exit_signal) reason = "exiting on SIGTERM (--exit-signal-handler)";
    const double minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count() / 60.0;
    if (reason.empty() && args_.checkpoint.exit_duration_in_mins &&
        minutes > static_cast<double>(*args_.checkpoint.exit_duration_in_mins)) {
      reason = "exiting program after " + std::to_string(minutes) + " minutes (--exit-duration-in-mins)";
    }
    if (reason.empty() && args_.checkpoint.exit_interval && iteration_ % *args_.checkpoint.exit_interval == 0) {
      reason = "exiting program at iteration " + std::to_string(iteration_) + " (--exit-interval)";
    }
    if (!reason.empty()) {
      if (args_.checkpoint.save && last_saved_iteration_ != iteration_) save_checkpoint();
      log::info("{}", reason);
      exiting = true;
    }
  }
  if (exiting) return 0;

  if (args_.checkpoint.save && iteration_ > 0 && last_saved_iteration_ != iteration_) save_checkpoint();
  if (evaluates_validation_) evaluate_and_print("iteration " + std::to_string(iteration_) + " on validation set",
                                        data::SplitName::valid);
  if (datasets_[data::SplitName::test] && args_.logging.eval_iters > 0) {
    evaluate_and_print("iteration " + std::to_string(iteration_) + " on test set", data::SplitName::test);
  }
  return 0;
}

void Trainer::check_weight_hashes() {
  // The gathers --overlap-param-gather leaves to the next forward are part of the parameters.
  for (const auto& gatherer : param_gatherers_) gatherer->finish();
  const uint64_t mine = parameter_hash(model_chunks());
  std::vector<uint64_t> hashes{mine};
  if (parallel_run()) {
    hashes.resize(static_cast<size_t>(groups_->dp_cp.size()));
    parallel::check_mpi(
        MPI_Allgather(&mine, 1, MPI_UINT64_T, hashes.data(), 1, MPI_UINT64_T, groups_->dp_cp.comm->handle()),
        "MPI_Allgather of the weight hashes");
  }
  if (const auto ranks = differing_replicas(hashes)) {
    throw Error("iteration " + std::to_string(iteration_) + ": the parameters of data-parallel ranks " +
                std::to_string(ranks->first) + " and " + std::to_string(ranks->second) +
                " differ (--check-weight-hash-across-dp-replicas-interval); the replicas diverged, which is a bug");
  }
  if (is_logging_rank()) log::info(">>> Weight hashes match after {} iterations...", iteration_);
}

BatchLoss Trainer::evaluate(data::GptLoader* loader, int64_t* consumed) {
  BatchLoss total;
  model_->dropout().training = false;
  const int64_t gbs = *args_.training.global_batch_size;
  bool exhausted = false;  // the split ran out: Megatron stops early likewise
  for (int64_t it = 0; it < args_.logging.eval_iters && !exhausted; ++it) {
    const BatchLoss batch =
        parallel_run() ? evaluate_batch_parallel(loader, &exhausted) : evaluate_batch(*loader, &exhausted);
    total.loss_sum += batch.loss_sum;
    total.num_tokens += batch.num_tokens;
    if (!exhausted && consumed) *consumed += gbs;
  }
  model_->dropout().training = true;
  return parallel_run() ? sum_over_data_parallel(total) : total;
}

BatchLoss Trainer::evaluate_batch(data::GptLoader& loader, bool* exhausted) {
  BatchLoss total;
  for (int64_t mb = 0; mb < args_.derived.num_microbatches; ++mb) {
    std::optional<data::MicroBatch> batch = loader.next();
    if (!batch) {
      *exhausted = true;
      break;
    }
    const model::LossPair loss = model_->forward(model_batch(*batch));
    total.loss_sum += loss.loss_sum;
    total.num_tokens += loss.num_tokens;
  }
  return total;
}

void Trainer::evaluate_and_print(const std::string& prefix, data::SplitName split) {
  BatchLoss loss;
  if (split == data::SplitName::valid) {
    loss = evaluate(valid_loader_.get(), &consumed_valid_samples_);
  } else {
    data::LoaderOptions options;
    options.micro_batch_size = *args_.training.micro_batch_size;
    if (parallel_run()) {
      options.dp_rank = groups_->dp_rank();
      options.dp_size = groups_->dp.size();
    }
    std::unique_ptr<data::GptLoader> loader;
    if (reads_data()) loader = std::make_unique<data::GptLoader>(datasets_[split], options);
    loss = evaluate(loader.get(), nullptr);
  }
  if (loss.num_tokens == 0 || !is_logging_rank()) return;
  const std::string name = split == data::SplitName::valid ? "validation" : "test";
  std::fputs(format_eval_block(prefix, {{"lm loss", loss.mean()}}).c_str(), stdout);
  std::fflush(stdout);
  if (tensorboard_) {
    tensorboard_->add_scalar("lm loss " + name, loss.mean(), iteration_);
    tensorboard_->add_scalar("lm loss " + name + " ppl", std::exp(std::min(20.0, loss.mean())), iteration_);
    tensorboard_->flush();
  }
}

void Trainer::log_interval(const IterationRecord& record) {
  log_.add(record);
  if (tensorboard_ && iteration_ % args_.logging.tensorboard_log_interval == 0) {
    write_iteration_scalars(*tensorboard_, record);
  }
  if (iteration_ % args_.logging.log_interval != 0) return;
  const int64_t world_size = groups_ ? groups_->world_size() : 1;
  const LogLineValues values =
      log_.take(train_iters_, flops_per_iteration_, world_size, peak_tflops_, args_.logging.log_throughput);
  if (!is_logging_rank()) return;
  std::puts(format_train_log_line(values, std::chrono::system_clock::now()).c_str());
  std::fflush(stdout);
  if (metrics_) metrics_->write(values);
  if (tensorboard_) tensorboard_->flush();
}

}  // namespace mcpp::app
