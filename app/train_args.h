#pragma once
// Everything `megatron-train` is told on its command line, with Megatron's flag names, types and
// defaults (megatron/training/arguments.py). std::optional marks flags whose Megatron default is
// None. parse_train_args() fills it from a --config JSON file and argv, then validate_train_args()
// checks it and fills the derived values (data-parallel size, padded vocab, ...), all before any
// allocation. The list of flags and their state lives in app/flags_registry.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mcpp::app {

struct ModelArgs {
  std::optional<int64_t> num_layers;
  std::optional<int64_t> hidden_size;
  std::optional<int64_t> ffn_hidden_size;
  std::optional<int64_t> num_attention_heads;
  std::optional<int64_t> kv_channels;
  bool group_query_attention = false;
  int64_t num_query_groups = 1;
  std::optional<int64_t> seq_length;
  std::optional<int64_t> max_position_embeddings;
  std::string position_embedding_type = "learned_absolute";
  bool use_rotary_position_embeddings = false;
  int64_t rotary_base = 10000;
  double rotary_percent = 1.0;
  std::string normalization = "LayerNorm";
  double norm_epsilon = 1e-5;
  bool swiglu = false;
  bool untie_embeddings_and_output_weights = false;
  bool add_bias_linear = true;  // --disable-bias-linear
  std::optional<int64_t> vocab_size;
  int64_t make_vocab_size_divisible_by = 128;
  double attention_dropout = 0.1;
  double hidden_dropout = 0.1;
  double init_method_std = 0.02;

  bool operator==(const ModelArgs&) const = default;
};

struct TrainingArgs {
  std::optional<int64_t> micro_batch_size;
  std::optional<int64_t> global_batch_size;
  std::optional<int64_t> train_iters;
  std::optional<int64_t> train_samples;
  std::string optimizer = "adam";
  std::optional<double> lr;
  double min_lr = 0.0;
  std::string lr_decay_style = "linear";
  std::optional<int64_t> lr_decay_iters;
  std::optional<int64_t> lr_decay_samples;
  int64_t lr_warmup_iters = 0;
  int64_t lr_warmup_samples = 0;
  std::optional<double> lr_warmup_fraction;
  double lr_warmup_init = 0.0;
  std::string lr_wsd_decay_style = "exponential";
  std::optional<int64_t> lr_wsd_decay_iters;
  std::optional<int64_t> lr_wsd_decay_samples;
  double weight_decay = 0.01;
  std::optional<double> start_weight_decay;
  std::optional<double> end_weight_decay;
  std::string weight_decay_incr_style = "constant";
  double clip_grad = 1.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double sgd_momentum = 0.9;
  int64_t seed = 1234;
  bool use_checkpoint_opt_param_scheduler = false;
  bool override_opt_param_scheduler = false;
  bool recompute_activations = false;
  std::optional<std::string> recompute_granularity;
  std::optional<std::string> recompute_method;
  std::optional<int64_t> recompute_num_layers;
  bool calculate_per_token_loss = false;
  bool check_for_nan_in_loss_and_grad = true;
  std::optional<int64_t> check_weight_hash_across_dp_replicas_interval;
  bool deterministic_mode = false;
  bool exit_signal_handler = false;

  bool operator==(const TrainingArgs&) const = default;
};

struct PrecisionArgs {
  bool bf16 = false;
  bool fp16 = false;
  std::optional<double> loss_scale;
  double initial_loss_scale = 4294967296.0;
  double min_loss_scale = 1.0;
  double loss_scale_window = 1000;
  int64_t hysteresis = 2;
  bool grad_reduce_in_bf16 = false;  // data-parallel gradient collectives in bf16 (needs --bf16)

  bool operator==(const PrecisionArgs&) const = default;
};

struct ParallelArgs {
  int64_t tensor_model_parallel_size = 1;
  int64_t pipeline_model_parallel_size = 1;
  int64_t context_parallel_size = 1;
  int64_t expert_model_parallel_size = 1;
  bool sequence_parallel = false;
  bool use_distributed_optimizer = false;
  bool overlap_grad_reduce = false;
  bool overlap_param_gather = false;
  // What Megatron adds with this flag (the first gathers running beside the optimizer step),
  // --overlap-param-gather always does here: each bucket's gather starts right after its update.
  bool overlap_param_gather_with_optimizer_step = false;
  // The data-parallel gradient reduction always averages inside the collective (NCCL PreMulSum
  // by 1/dp: each gradient is scaled by 1/dp before the sum, as Megatron's pre-scaling does; MPI
  // pre-scales), so --ddp-average-in-collective changes nothing here.
  bool ddp_average_in_collective = false;
  std::optional<int64_t> ddp_bucket_size;
  std::optional<int64_t> ddp_num_buckets;  // bucket size = this rank's parameters / N
  bool ddp_pad_buckets_for_high_nccl_busbw = false;
  std::optional<int64_t> num_layers_per_virtual_pipeline_stage;
  std::optional<int64_t> num_virtual_stages_per_pipeline_rank;
  std::optional<int64_t> microbatch_group_size_per_virtual_pipeline_stage;
  bool overlap_p2p_communication = true;  // --no-overlap-p2p-communication clears it
  std::optional<int64_t> decoder_first_pipeline_num_layers;
  std::optional<int64_t> decoder_last_pipeline_num_layers;
  bool account_for_embedding_in_pipeline_split = false;
  bool account_for_loss_in_pipeline_split = false;
  bool use_tp_pp_dp_mapping = false;
  int64_t distributed_timeout_minutes = 10;

  bool operator==(const ParallelArgs&) const = default;
};

struct DataArgs {
  std::optional<std::vector<std::string>> data_path;
  std::optional<std::string> split;
  std::optional<std::vector<std::string>> train_data_path;
  std::optional<std::vector<std::string>> valid_data_path;
  std::optional<std::vector<std::string>> test_data_path;
  std::optional<std::string> data_cache_path;
  bool mock_data = false;
  bool reset_position_ids = false;
  bool reset_attention_mask = false;
  bool eod_mask_loss = false;
  std::optional<std::string> tokenizer_type;
  std::optional<std::string> tokenizer_model;
  std::optional<std::string> vocab_file;
  std::optional<std::string> merge_file;
  std::optional<int64_t> null_tokenizer_eod_id;
  int64_t num_workers = 2;

  bool operator==(const DataArgs&) const = default;
};

struct CheckpointArgs {
  std::optional<std::string> save;
  std::optional<std::string> load;
  std::optional<int64_t> save_interval;
  bool no_save_optim = false;
  bool no_save_rng = false;
  bool no_load_optim = false;
  bool no_load_rng = false;
  bool finetune = false;
  std::optional<int64_t> exit_interval;
  std::optional<int64_t> exit_duration_in_mins;
  std::string ckpt_format = "torch_dist";

  bool operator==(const CheckpointArgs&) const = default;
};

struct LoggingArgs {
  int64_t log_interval = 100;
  // Megatron's current default is None, but its validation-sample count divides by it; we keep
  // the older releases' 1000 so a run without the flag still evaluates sensibly.
  int64_t eval_interval = 1000;
  int64_t eval_iters = 100;
  std::optional<std::string> tensorboard_dir;
  int64_t tensorboard_log_interval = 1;
  bool log_throughput = false;
  std::optional<std::string> metrics_file;  // ours: one JSON object per logged iteration

  bool operator==(const LoggingArgs&) const = default;
};

// Flags Megatron does not have.
struct OwnArgs {
  std::optional<std::string> config;  // --config PATH|NAME (already merged when parsing returns)
  std::optional<std::string> device;  // --device cpu|cuda; unset -> default_device()
  bool dry_run = false;
  std::optional<double> peak_tflops;  // --peak-tflops: per-device peak for MFU

  bool operator==(const OwnArgs&) const = default;
};

// Values validate_train_args() computes from the flags (Megatron's validate_args).
struct DerivedArgs {
  int64_t world_size = 1;
  int64_t data_parallel_size = 1;
  int64_t num_microbatches = 1;
  int64_t padded_vocab_size = 0;  // 0 until the vocabulary size is known
  int64_t kv_channels = 0;
  int64_t num_query_groups = 0;  // = heads without GQA
  int64_t ffn_hidden_size = 0;
  int64_t virtual_pipeline_size = 1;
  bool use_rope = false;
  std::string recompute_granularity;  // "", "full" or "selective"

  bool operator==(const DerivedArgs&) const = default;
};

struct TrainArgs {
  ModelArgs model;
  TrainingArgs training;
  PrecisionArgs precision;
  ParallelArgs parallel;
  DataArgs data;
  CheckpointArgs checkpoint;
  LoggingArgs logging;
  OwnArgs own;
  DerivedArgs derived;
  // Flags that were given but only tune Megatron's own speed: "--flag: why" once each.
  std::vector<std::string> no_effect_notes;

  bool operator==(const TrainArgs&) const = default;
};

// Parses argv (argv[0] is the program). A --config file is read first, then every explicit
// command-line flag overrides it. Throws mcpp::Error with a one-line message on any bad flag.
TrainArgs parse_train_args(int argc, const char* const* argv);
TrainArgs parse_train_args(const std::vector<std::string>& args);  // without argv[0]

// Checks the flags against each other and fills args.derived for `world_size` ranks.
// `vocab_size` is the tokenizer's size when known (0: use --vocab-size / --padded-vocab-size).
void validate_train_args(TrainArgs& args, int64_t world_size, int64_t vocab_size = 0);

// Megatron's padded vocabulary: ceil(V / (k*tp)) * k*tp.
int64_t padded_vocab_size(int64_t vocab_size, int64_t divisible_by, int64_t tensor_parallel_size);

// Rejects, with one line naming the flag, what the training loop cannot run yet: any parallel
// size > 1 and any world size > 1 until the parallel runtime lands.
void reject_unsupported(const TrainArgs& args, int64_t world_size);

// "cuda" when a GPU is usable in this build and process, else "cpu"; --device overrides.
std::string default_device();
std::string resolve_device(const TrainArgs& args);

// Logs once the notes that only make sense at run time (no-effect flags, fp32 compute on CPU).
void log_startup_notes(const TrainArgs& args, const std::string& device);

// Binds this process to its GPU (the node-local rank modulo the GPU count) and switches on the
// GPU kernels' deterministic choices under --deterministic-mode.
void select_cuda_device(const TrainArgs& args, int64_t world_size);
// The caching allocator's peak of live device memory, in GB (0 without CUDA).
double peak_device_memory_gb();

// Where --config NAME is looked up: <exe dir>/../../configs and ./configs.
std::string resolve_config_path(const std::string& path_or_name);

}  // namespace mcpp::app
