#include "app/flags_registry.h"

#include <cerrno>
#include <cstdlib>
#include <map>

#include "core/base/error.h"

namespace mcpp::app {

int64_t FlagValue::as_int() const {
  const std::string& text = as_string();
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  check(!text.empty() && *end == '\0' && errno == 0,
        std::string(flag) + ": expected an integer, got '" + text + "'");
  return value;
}

double FlagValue::as_double() const {
  const std::string& text = as_string();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  check(!text.empty() && *end == '\0' && errno == 0,
        std::string(flag) + ": expected a number, got '" + text + "'");
  return value;
}

const std::string& FlagValue::as_string() const {
  check(items.size() == 1, std::string(flag) + ": expected one value");
  return items.front();
}

namespace {

// Assignment from a raw value, chosen by the field's type.
void assign(int64_t& field, const FlagValue& v) { field = v.as_int(); }
void assign(std::optional<int64_t>& field, const FlagValue& v) { field = v.as_int(); }
void assign(double& field, const FlagValue& v) { field = v.as_double(); }
void assign(std::optional<double>& field, const FlagValue& v) { field = v.as_double(); }
void assign(std::string& field, const FlagValue& v) { field = v.as_string(); }
void assign(std::optional<std::string>& field, const FlagValue& v) { field = v.as_string(); }
void assign(std::optional<std::vector<std::string>>& field, const FlagValue& v) { field = v.items; }

#define TO(field) [](TrainArgs& a, const FlagValue& v) { assign(a.field, v); }
#define ON(field) [](TrainArgs& a, const FlagValue&) { a.field = true; }
#define OFF(field) [](TrainArgs& a, const FlagValue&) { a.field = false; }

using K = FlagKind;

constexpr const char* kModel = "Model / architecture";
constexpr const char* kTraining = "Training / optimisation";
constexpr const char* kPrecision = "Mixed precision / loss scaling";
constexpr const char* kParallel = "Parallelism / distributed";
constexpr const char* kMoe = "MoE";
constexpr const char* kCheckpoint = "Checkpointing";
constexpr const char* kLogging = "Logging / eval";
constexpr const char* kData = "Data / tokenizer";
constexpr const char* kOurs = "megatron-cpp only";

constexpr const char* kNotYet = "not implemented yet";
constexpr const char* kNoMoe = "Mixture of Experts is not implemented yet";

std::string default_for(K kind) {
  return kind == K::kStoreTrue ? "False" : kind == K::kStoreFalse ? "True" : "None";
}

FlagSpec impl(const char* name, const char* group, K kind, std::string dflt, FlagSetter set,
              std::string note = "", std::vector<std::string> choices = {}) {
  FlagSpec s;
  s.name = name;
  s.group = group;
  s.kind = kind;
  s.default_text = dflt.empty() ? default_for(kind) : dflt;
  s.state = FlagState::kImplemented;
  s.note = std::move(note);
  s.choices = std::move(choices);
  s.set = set;
  return s;
}

FlagSpec no_effect(const char* name, const char* group, K kind, std::string dflt, std::string why) {
  FlagSpec s = impl(name, group, kind, std::move(dflt), nullptr, std::move(why));
  s.state = FlagState::kNoEffect;
  return s;
}

FlagSpec rejected(const char* name, const char* group, K kind, std::string dflt, std::string why) {
  FlagSpec s = impl(name, group, kind, std::move(dflt), nullptr, std::move(why));
  s.state = FlagState::kRejected;
  return s;
}

FlagSpec alias(const char* name, const FlagSpec& of) {
  FlagSpec s = of;
  s.name = name;
  s.alias_of = of.name;
  return s;
}

FlagSpec nargs_plus(FlagSpec s) {
  s.at_least_one = true;
  return s;
}

FlagSpec own(FlagSpec s) {
  s.ours = true;
  return s;
}

std::vector<FlagSpec> build_registry() {
  std::vector<FlagSpec> r;
  auto add = [&](FlagSpec s) { r.push_back(std::move(s)); };

  // Model / architecture
  add(impl("--num-layers", kModel, K::kInt, "", TO(model.num_layers), "required"));
  add(impl("--hidden-size", kModel, K::kInt, "", TO(model.hidden_size), "required"));
  add(impl("--ffn-hidden-size", kModel, K::kInt, "", TO(model.ffn_hidden_size),
           "unset: 4*h, with --swiglu int(4h*2/3/64)*64"));
  add(impl("--num-attention-heads", kModel, K::kInt, "", TO(model.num_attention_heads), "required"));
  add(impl("--kv-channels", kModel, K::kInt, "", TO(model.kv_channels), "unset: hidden/heads"));
  add(impl("--group-query-attention", kModel, K::kStoreTrue, "", ON(model.group_query_attention)));
  add(impl("--num-query-groups", kModel, K::kInt, "1", TO(model.num_query_groups), "KV heads with GQA"));
  add(impl("--seq-length", kModel, K::kInt, "", TO(model.seq_length), "required"));
  add(impl("--max-position-embeddings", kModel, K::kInt, "", TO(model.max_position_embeddings),
           "required; >= --seq-length"));
  add(impl("--position-embedding-type", kModel, K::kString, "'learned_absolute'",
           TO(model.position_embedding_type), "yarn, mrope, relative and none are rejected (not implemented yet)",
           {"learned_absolute", "rope", "yarn", "mrope", "relative", "none"}));
  add(impl("--use-rotary-position-embeddings", kModel, K::kStoreTrue, "",
           ON(model.use_rotary_position_embeddings), "same as --position-embedding-type rope"));
  add(impl("--rotary-base", kModel, K::kInt, "10000", TO(model.rotary_base)));
  add(impl("--rotary-percent", kModel, K::kFloat, "1.0", TO(model.rotary_percent)));
  add(rejected("--rotary-seq-len-interpolation-factor", kModel, K::kInt, "", kNotYet));
  add(rejected("--use-rope-scaling", kModel, K::kStoreTrue, "", kNotYet));
  add(rejected("--no-position-embedding", kModel, K::kStoreFalse, "", kNotYet));
  add(impl("--normalization", kModel, K::kString, "'LayerNorm'", TO(model.normalization), "",
           {"LayerNorm", "RMSNorm"}));
  add(impl("--norm-epsilon", kModel, K::kFloat, "1e-05", TO(model.norm_epsilon)));
  add(rejected("--apply-layernorm-1p", kModel, K::kStoreTrue, "", kNotYet));
  add(rejected("--qk-layernorm", kModel, K::kStoreTrue, "", kNotYet));
  add(impl("--swiglu", kModel, K::kStoreTrue, "", ON(model.swiglu), "gated SiLU MLP"));
  add(rejected("--squared-relu", kModel, K::kStoreTrue, "", kNotYet));
  add(impl("--untie-embeddings-and-output-weights", kModel, K::kStoreTrue, "",
           ON(model.untie_embeddings_and_output_weights), "default is tied"));
  add(impl("--disable-bias-linear", kModel, K::kStoreFalse, "", OFF(model.add_bias_linear),
           "removes every linear bias"));
  add(rejected("--add-qkv-bias", kModel, K::kStoreTrue, "", kNotYet));
  add(impl("--vocab-size", kModel, K::kInt, "", TO(model.vocab_size),
           "used when the tokenizer cannot report its size (NullTokenizer, --dry-run)"));
  add(rejected("--padded-vocab-size", kModel, K::kInt, "", "not implemented yet; the padded size is "
                                                           "derived from --make-vocab-size-divisible-by"));
  add(impl("--make-vocab-size-divisible-by", kModel, K::kInt, "128", TO(model.make_vocab_size_divisible_by),
           "padded V = ceil(V/(k*tp))*k*tp"));
  add(impl("--attention-dropout", kModel, K::kFloat, "0.1", TO(model.attention_dropout)));
  add(impl("--hidden-dropout", kModel, K::kFloat, "0.1", TO(model.hidden_dropout)));
  add(rejected("--apply-query-key-layer-scaling", kModel, K::kStoreTrue, "", kNotYet));
  add(no_effect("--attention-softmax-in-fp32", kModel, K::kStoreTrue, "",
                "attention softmax is always computed in fp32"));
  add(no_effect("--transformer-impl", kModel, K::kString, "'transformer_engine'",
                "selects Megatron's layer implementation; ours is native"));
  add(no_effect("--attention-backend", kModel, K::kString, "AttnBackend.auto",
                "selects Megatron's attention kernels; ours are chosen automatically"));
  add(no_effect("--use-flash-attn", kModel, K::kStoreTrue, "", "fused attention is used whenever available"));
  add(impl("--init-method-std", kModel, K::kFloat, "0.02", TO(model.init_method_std),
           "N(0, std); attention output and fc2 use std/sqrt(2*num_layers)"));
  add(rejected("--init-method-xavier-uniform", kModel, K::kStoreTrue, "", kNotYet));
  add(no_effect("--no-masked-softmax-fusion", kModel, K::kStoreFalse, "", "kernel fusion choice (speed only)"));
  add(no_effect("--no-bias-gelu-fusion", kModel, K::kStoreFalse, "", "kernel fusion choice (speed only)"));
  add(no_effect("--no-bias-swiglu-fusion", kModel, K::kStoreFalse, "", "kernel fusion choice (speed only)"));
  add(no_effect("--no-bias-dropout-fusion", kModel, K::kStoreFalse, "", "kernel fusion choice (speed only)"));
  add(no_effect("--no-rope-fusion", kModel, K::kStoreFalse, "", "kernel fusion choice (speed only)"));
  add(no_effect("--use-mcore-models", kModel, K::kStoreTrue, "",
                "selects Megatron-Core models in older releases; there is only one implementation here"));

  // Training / optimisation
  add(impl("--micro-batch-size", kTraining, K::kInt, "", TO(training.micro_batch_size), "required"));
  add(impl("--global-batch-size", kTraining, K::kInt, "", TO(training.global_batch_size),
           "unset: mbs*dp; #microbatches = gbs/(mbs*dp)"));
  add(nargs_plus(rejected("--rampup-batch-size", kTraining, K::kIntList, "",
                          "ignored by Megatron itself (deprecated); use a fixed --global-batch-size")));
  add(impl("--train-iters", kTraining, K::kInt, "", TO(training.train_iters), "exactly one of iters/samples"));
  add(impl("--train-samples", kTraining, K::kInt, "", TO(training.train_samples), "pair with *-samples LR flags"));
  add(impl("--optimizer", kTraining, K::kString, "'adam'", TO(training.optimizer),
           "adam = AdamW; muon, dist_muon, lion, soap, adaptive_muon are rejected (not implemented yet)",
           {"adam", "sgd", "muon", "dist_muon", "lion", "soap", "adaptive_muon"}));
  add(impl("--lr", kTraining, K::kFloat, "", TO(training.lr), "peak learning rate"));
  add(impl("--min-lr", kTraining, K::kFloat, "0.0", TO(training.min_lr)));
  add(impl("--lr-decay-style", kTraining, K::kString, "'linear'", TO(training.lr_decay_style), "",
           {"constant", "linear", "cosine", "inverse-square-root", "WSD"}));
  add(impl("--lr-decay-iters", kTraining, K::kInt, "", TO(training.lr_decay_iters), "unset: --train-iters"));
  add(impl("--lr-decay-samples", kTraining, K::kInt, "", TO(training.lr_decay_samples), "unset: --train-samples"));
  add(impl("--lr-warmup-iters", kTraining, K::kInt, "0", TO(training.lr_warmup_iters)));
  add(impl("--lr-warmup-samples", kTraining, K::kInt, "0", TO(training.lr_warmup_samples)));
  add(impl("--lr-warmup-fraction", kTraining, K::kFloat, "", TO(training.lr_warmup_fraction),
           "fraction of the decay length; exclusive with warmup iters/samples"));
  add(impl("--lr-warmup-init", kTraining, K::kFloat, "0.0", TO(training.lr_warmup_init)));
  add(impl("--lr-wsd-decay-style", kTraining, K::kString, "'exponential'", TO(training.lr_wsd_decay_style), "",
           {"exponential", "linear", "cosine", "minus_sqrt"}));
  add(impl("--lr-wsd-decay-iters", kTraining, K::kInt, "", TO(training.lr_wsd_decay_iters)));
  add(impl("--lr-wsd-decay-samples", kTraining, K::kInt, "", TO(training.lr_wsd_decay_samples)));
  add(rejected("--decoupled-lr", kTraining, K::kFloat, "", kNotYet));
  add(rejected("--decoupled-min-lr", kTraining, K::kFloat, "", kNotYet));
  add(impl("--weight-decay", kTraining, K::kFloat, "0.01", TO(training.weight_decay),
           "decoupled (AdamW); 0 for biases and 1-D params"));
  add(impl("--start-weight-decay", kTraining, K::kFloat, "", TO(training.start_weight_decay)));
  add(impl("--end-weight-decay", kTraining, K::kFloat, "", TO(training.end_weight_decay)));
  add(impl("--weight-decay-incr-style", kTraining, K::kString, "'constant'", TO(training.weight_decay_incr_style),
           "", {"constant", "linear", "cosine"}));
  add(impl("--clip-grad", kTraining, K::kFloat, "1.0", TO(training.clip_grad), "0 disables clipping"));
  add(impl("--adam-beta1", kTraining, K::kFloat, "0.9", TO(training.adam_beta1)));
  add(impl("--adam-beta2", kTraining, K::kFloat, "0.999", TO(training.adam_beta2)));
  add(impl("--adam-eps", kTraining, K::kFloat, "1e-08", TO(training.adam_eps)));
  add(impl("--sgd-momentum", kTraining, K::kFloat, "0.9", TO(training.sgd_momentum)));
  add(impl("--seed", kTraining, K::kInt, "1234", TO(training.seed)));
  add(no_effect("--data-parallel-random-init", kTraining, K::kStoreTrue, "",
                "Megatron broadcasts data-parallel rank 0's initial values to the other replicas; here every "
                "replica computes those values itself (initialisation does not depend on the layout), and "
                "dropout masks depend on the element, not on the rank's seed"));
  add(impl("--use-checkpoint-opt_param-scheduler", kTraining, K::kStoreTrue, "",
           ON(training.use_checkpoint_opt_param_scheduler), "take the LR/WD schedule from the checkpoint"));
  add(alias("--use-checkpoint-opt-param-scheduler", r.back()));
  add(impl("--override-opt_param-scheduler", kTraining, K::kStoreTrue, "",
           ON(training.override_opt_param_scheduler), "keep the command line's LR/WD schedule on resume"));
  add(alias("--override-opt-param-scheduler", r.back()));
  add(impl("--recompute-activations", kTraining, K::kStoreTrue, "", ON(training.recompute_activations),
           "= --recompute-granularity selective"));
  add(impl("--recompute-granularity", kTraining, K::kString, "", TO(training.recompute_granularity), "",
           {"full", "selective"}));
  add(impl("--recompute-method", kTraining, K::kString, "", TO(training.recompute_method), "",
           {"uniform", "block"}));
  add(impl("--recompute-num-layers", kTraining, K::kInt, "", TO(training.recompute_num_layers)));
  add(impl("--calculate-per-token-loss", kTraining, K::kStoreTrue, "", ON(training.calculate_per_token_loss)));
  add(impl("--no-check-for-nan-in-loss-and-grad", kTraining, K::kStoreFalse, "",
           OFF(training.check_for_nan_in_loss_and_grad)));
  add(impl("--check-weight-hash-across-dp-replicas-interval", kTraining, K::kInt, "",
           TO(training.check_weight_hash_across_dp_replicas_interval),
           "every N iterations all data-parallel replicas must hold identical parameters"));
  add(no_effect("--empty-unused-memory-level", kTraining, K::kInt, "0", "PyTorch caching-allocator tuning"));
  add(no_effect("--manual-gc", kTraining, K::kStoreTrue, "", "Python garbage-collector tuning"));
  add(no_effect("--cross-entropy-loss-fusion", kTraining, K::kStoreTrue, "", "kernel fusion choice (speed only)"));
  add(impl("--deterministic-mode", kTraining, K::kStoreTrue, "", ON(training.deterministic_mode),
           "bitwise-reproducible kernels"));
  add(impl("--exit-signal-handler", kTraining, K::kStoreTrue, "", ON(training.exit_signal_handler),
           "save and exit on SIGTERM"));
  add(rejected("--skip-train", kTraining, K::kStoreTrue, "", kNotYet));

  // Mixed precision / loss scaling
  add(impl("--bf16", kPrecision, K::kStoreTrue, "", ON(precision.bf16), "on CPU compute stays fp32"));
  add(impl("--fp16", kPrecision, K::kStoreTrue, "", ON(precision.fp16), "on CPU compute stays fp32"));
  add(impl("--loss-scale", kPrecision, K::kFloat, "", TO(precision.loss_scale), "constant scale; unset: dynamic"));
  add(impl("--initial-loss-scale", kPrecision, K::kFloat, "4294967296", TO(precision.initial_loss_scale)));
  add(impl("--min-loss-scale", kPrecision, K::kFloat, "1.0", TO(precision.min_loss_scale)));
  add(impl("--loss-scale-window", kPrecision, K::kFloat, "1000", TO(precision.loss_scale_window),
           "growth interval (iterations)"));
  add(impl("--hysteresis", kPrecision, K::kInt, "2", TO(precision.hysteresis)));
  add(rejected("--fp32-residual-connection", kPrecision, K::kStoreTrue, "", kNotYet));
  add(no_effect("--accumulate-allreduce-grads-in-fp32", kPrecision, K::kStoreTrue, "",
                "gradients are always accumulated in fp32, and reduced in fp32 unless --grad-reduce-in-bf16"));
  add(rejected("--main-grads-dtype", kPrecision, K::kString, "'fp32'",
               "main gradients are always fp32; bf16 main grads are not implemented yet"));
  add(rejected("--main-params-dtype", kPrecision, K::kString, "'fp32'",
               "main parameters are always fp32; fp16 main params are not implemented yet"));
  add(impl("--grad-reduce-in-bf16", kPrecision, K::kStoreTrue, "", ON(precision.grad_reduce_in_bf16),
           "needs --bf16; each bucket is rounded to bf16 for its data-parallel collective (half the bytes) "
           "and the reduced values widened back; gradients still accumulate in fp32"));
  add(rejected("--fp16-lm-cross-entropy", kPrecision, K::kStoreTrue, "", kNotYet));

  // Parallelism / distributed
  add(impl("--tensor-model-parallel-size", kParallel, K::kInt, "1", TO(parallel.tensor_model_parallel_size)));
  add(impl("--pipeline-model-parallel-size", kParallel, K::kInt, "1", TO(parallel.pipeline_model_parallel_size)));
  add(impl("--num-layers-per-virtual-pipeline-stage", kParallel, K::kInt, "",
           TO(parallel.num_layers_per_virtual_pipeline_stage), "vp = (layers/pp)/this"));
  add(rejected("--virtual-pipeline-model-parallel-size", kParallel, K::kInt, "",
               "not a command-line flag in current Megatron; use --num-layers-per-virtual-pipeline-stage"));
  add(impl("--num-virtual-stages-per-pipeline-rank", kParallel, K::kInt, "",
           TO(parallel.num_virtual_stages_per_pipeline_rank), "vp given directly"));
  add(impl("--microbatch-group-size-per-virtual-pipeline-stage", kParallel, K::kInt, "",
           TO(parallel.microbatch_group_size_per_virtual_pipeline_stage), "unset: pipeline size"));
  add(impl("--decoder-first-pipeline-num-layers", kParallel, K::kInt, "",
           TO(parallel.decoder_first_pipeline_num_layers)));
  add(impl("--decoder-last-pipeline-num-layers", kParallel, K::kInt, "",
           TO(parallel.decoder_last_pipeline_num_layers)));
  add(impl("--account-for-embedding-in-pipeline-split", kParallel, K::kStoreTrue, "",
           ON(parallel.account_for_embedding_in_pipeline_split),
           "the embedding takes one layer's place on the first stage"));
  add(impl("--account-for-loss-in-pipeline-split", kParallel, K::kStoreTrue, "",
           ON(parallel.account_for_loss_in_pipeline_split), "the loss takes one layer's place on the last stage"));
  add(impl("--context-parallel-size", kParallel, K::kInt, "1", TO(parallel.context_parallel_size)));
  add(nargs_plus(rejected("--cp-comm-type", kParallel, K::kStringList, "['p2p']",
                          "not implemented yet; context parallelism will use ring p2p")));
  add(nargs_plus(rejected("--hierarchical-context-parallel-sizes", kParallel, K::kIntList, "", kNotYet)));
  add(impl("--expert-model-parallel-size", kParallel, K::kInt, "1", TO(parallel.expert_model_parallel_size)));
  add(rejected("--expert-tensor-parallel-size", kParallel, K::kInt, "", kNoMoe));
  add(impl("--sequence-parallel", kParallel, K::kStoreTrue, "", ON(parallel.sequence_parallel),
           "dropped when tp = 1"));
  add(impl("--use-distributed-optimizer", kParallel, K::kStoreTrue, "", ON(parallel.use_distributed_optimizer),
           "ZeRO-1 over DPxCP"));
  add(rejected("--num-distributed-optimizer-instances", kParallel, K::kInt, "1", kNotYet));
  add(impl("--overlap-grad-reduce", kParallel, K::kStoreTrue, "", ON(parallel.overlap_grad_reduce)));
  add(impl("--overlap-param-gather", kParallel, K::kStoreTrue, "", ON(parallel.overlap_param_gather),
           "needs --use-distributed-optimizer and --overlap-grad-reduce"));
  add(impl("--overlap-param-gather-with-optimizer-step", kParallel, K::kStoreTrue, "",
           ON(parallel.overlap_param_gather_with_optimizer_step),
           "needs --overlap-param-gather, which starts each bucket's gather right after its update anyway"));
  add(no_effect("--no-align-grad-reduce", kParallel, K::kStoreFalse, "",
                "launch alignment of grad reductions across pipeline stages (speed only)"));
  add(alias("--disable-align-grad-reduce", r.back()));
  add(no_effect("--no-align-param-gather", kParallel, K::kStoreFalse, "",
                "launch alignment of param gathers across pipeline stages (speed only)"));
  add(impl("--ddp-bucket-size", kParallel, K::kInt, "", TO(parallel.ddp_bucket_size), "elements per bucket"));
  add(impl("--ddp-pad-buckets-for-high-nccl-busbw", kParallel, K::kStoreTrue, "",
           ON(parallel.ddp_pad_buckets_for_high_nccl_busbw),
           "distributed-optimizer buckets end at a multiple of lcm(dp, 128, 65536)"));
  add(impl("--ddp-num-buckets", kParallel, K::kInt, "", TO(parallel.ddp_num_buckets),
           "bucket size = this rank's parameter count / N"));
  add(impl("--ddp-average-in-collective", kParallel, K::kStoreTrue, "", ON(parallel.ddp_average_in_collective),
           "the reduction averages in the collective either way; not with --calculate-per-token-loss"));
  add(impl("--no-overlap-p2p-communication", kParallel, K::kStoreFalse, "",
           OFF(parallel.overlap_p2p_communication),
           "interleaved PP then needs pp > 2 (Megatron's rule); exchanges are the same either way"));
  add(impl("--use-tp-pp-dp-mapping", kParallel, K::kStoreTrue, "", ON(parallel.use_tp_pp_dp_mapping),
           "rank order tp-cp-ep-pp-dp"));
  add(no_effect("--no-gradient-accumulation-fusion", kParallel, K::kStoreFalse, "",
                "kernel fusion choice (speed only)"));
  add(no_effect("--tp-comm-overlap", kParallel, K::kStoreTrue, "", "communication overlap tuning (speed only)"));
  add(no_effect("--distributed-backend", kParallel, K::kString, "'nccl'",
                "NCCL on GPUs and MPI on CPUs are chosen automatically"));
  add(impl("--distributed-timeout-minutes", kParallel, K::kInt, "10", TO(parallel.distributed_timeout_minutes)));
  add(no_effect("--local-rank", kParallel, K::kInt, "0", "ranks come from MPI"));
  add(no_effect("--use-cpu-initialization", kParallel, K::kStoreTrue, "None",
                "initialisation is identical on every device"));
  add(rejected("--use-torch-fsdp2", kParallel, K::kStoreTrue, "", "FSDP is not implemented; use "
                                                                  "--use-distributed-optimizer"));
  add(rejected("--use-megatron-fsdp", kParallel, K::kStoreTrue, "", "FSDP is not implemented; use "
                                                                    "--use-distributed-optimizer"));

  // MoE
  for (auto [name, kind, dflt] : std::initializer_list<std::tuple<const char*, K, const char*>>{
           {"--num-experts", K::kInt, ""},
           {"--moe-ffn-hidden-size", K::kInt, ""},
           {"--moe-shared-expert-intermediate-size", K::kInt, ""},
           {"--moe-layer-freq", K::kString, "1"},
           {"--moe-router-topk", K::kInt, "2"},
           {"--moe-router-score-function", K::kString, "'softmax'"},
           {"--moe-router-pre-softmax", K::kStoreTrue, ""},
           {"--moe-router-topk-scaling-factor", K::kFloat, ""},
           {"--moe-router-num-groups", K::kInt, ""},
           {"--moe-router-group-topk", K::kInt, ""},
           {"--moe-router-load-balancing-type", K::kStringList, "'aux_loss'"},
           {"--moe-aux-loss-coeff", K::kFloatList, "0.0"},
           {"--moe-z-loss-coeff", K::kFloat, ""},
           {"--moe-input-jitter-eps", K::kFloat, ""},
           {"--moe-router-dtype", K::kString, ""},
           {"--moe-router-enable-expert-bias", K::kStoreTrue, ""},
           {"--moe-router-bias-update-rate", K::kFloat, "0.001"},
           {"--moe-token-dispatcher-type", K::kString, "'allgather'"},
           {"--moe-expert-capacity-factor", K::kFloat, ""},
           {"--moe-pad-expert-input-to-capacity", K::kStoreTrue, ""},
           {"--moe-token-drop-policy", K::kString, "'probs'"},
           {"--moe-grouped-gemm", K::kStoreTrue, ""},
           {"--moe-permute-fusion", K::kStoreTrue, ""},
           {"--moe-router-fusion", K::kStoreTrue, ""},
           {"--moe-shared-expert-overlap", K::kStoreTrue, ""},
           {"--moe-per-layer-logging", K::kStoreTrue, ""}}) {
    FlagSpec s = rejected(name, kMoe, kind, dflt, kNoMoe);
    s.at_least_one = kind == K::kStringList || kind == K::kFloatList;
    add(std::move(s));
  }

  // Checkpointing
  add(impl("--save", kCheckpoint, K::kString, "", TO(checkpoint.save), "needs --save-interval"));
  add(impl("--load", kCheckpoint, K::kString, "", TO(checkpoint.load)));
  add(impl("--save-interval", kCheckpoint, K::kInt, "", TO(checkpoint.save_interval), "iterations"));
  add(alias("--persistent-save-interval", r.back()));
  add(rejected("--save-retain-interval", kCheckpoint, K::kInt, "", kNotYet));
  add(impl("--no-save-optim", kCheckpoint, K::kStoreTrue, "None", ON(checkpoint.no_save_optim)));
  add(impl("--no-save-rng", kCheckpoint, K::kStoreTrue, "None", ON(checkpoint.no_save_rng)));
  add(impl("--no-load-optim", kCheckpoint, K::kStoreTrue, "None", ON(checkpoint.no_load_optim)));
  add(impl("--no-load-rng", kCheckpoint, K::kStoreTrue, "None", ON(checkpoint.no_load_rng)));
  add(impl("--finetune", kCheckpoint, K::kStoreTrue, "", ON(checkpoint.finetune),
           "load weights only; iteration reset to 0"));
  add(rejected("--pretrained-checkpoint", kCheckpoint, K::kString, "", kNotYet));
  add(rejected("--ckpt-step", kCheckpoint, K::kInt, "", kNotYet));
  add(impl("--ckpt-format", kCheckpoint, K::kString, "'torch_dist'", TO(checkpoint.ckpt_format),
           "torch_dist = our reshardable format; torch, torch_dcp, fsdp_dtensor are rejected",
           {"torch", "torch_dist", "torch_dcp", "fsdp_dtensor"}));
  add(no_effect("--use-dist-ckpt", kCheckpoint, K::kStoreTrue, "", "deprecated no-op in Megatron too"));
  add(no_effect("--auto-detect-ckpt-format", kCheckpoint, K::kStoreTrue, "", "there is only one format"));
  add(rejected("--ckpt-convert-format", kCheckpoint, K::kString, "", kNotYet));
  add(rejected("--ckpt-convert-save", kCheckpoint, K::kString, "", kNotYet));
  add(no_effect("--no-ckpt-fully-parallel-save", kCheckpoint, K::kStoreFalse, "",
                "save parallelisation strategy (speed only)"));
  add(no_effect("--ckpt-fully-parallel-load", kCheckpoint, K::kStoreTrue, "",
                "load parallelisation strategy (speed only)"));
  add(no_effect("--dist-ckpt-optim-fully-reshardable", kCheckpoint, K::kStoreTrue, "",
                "optimizer state is always stored reshardable"));
  add(rejected("--dist-ckpt-strictness", kCheckpoint, K::kString, "'assume_ok_unexpected'", kNotYet));
  add(rejected("--async-save", kCheckpoint, K::kStoreTrue, "", kNotYet));
  add(rejected("--async-strategy", kCheckpoint, K::kString, "'nvrx'", kNotYet));
  add(rejected("--non-persistent-save-interval", kCheckpoint, K::kInt, "", kNotYet));
  add(impl("--exit-interval", kCheckpoint, K::kInt, "", TO(checkpoint.exit_interval),
           "exit when iteration % N == 0"));
  add(impl("--exit-duration-in-mins", kCheckpoint, K::kInt, "", TO(checkpoint.exit_duration_in_mins)));
  add(rejected("--exit-on-missing-checkpoint", kCheckpoint, K::kStoreTrue, "", kNotYet));

  // Logging / eval
  add(impl("--log-interval", kLogging, K::kInt, "100", TO(logging.log_interval)));
  add(impl("--eval-interval", kLogging, K::kInt, "None", TO(logging.eval_interval),
           "OUR default is 1000 (older Megatron releases' default)"));
  add(impl("--eval-iters", kLogging, K::kInt, "100", TO(logging.eval_iters)));
  add(rejected("--start-eval-at-iter", kLogging, K::kInt, "", kNotYet));
  add(rejected("--eval-global-batch-size", kLogging, K::kInt, "", kNotYet));
  add(rejected("--full-validation", kLogging, K::kStoreTrue, "", kNotYet));
  add(impl("--tensorboard-dir", kLogging, K::kString, "", TO(logging.tensorboard_dir)));
  add(impl("--tensorboard-log-interval", kLogging, K::kInt, "1", TO(logging.tensorboard_log_interval)));
  add(no_effect("--tensorboard-queue-size", kLogging, K::kInt, "1000", "events are written as they come"));
  add(rejected("--log-timers-to-tensorboard", kLogging, K::kStoreTrue, "", kNotYet));
  add(rejected("--log-validation-ppl-to-tensorboard", kLogging, K::kStoreTrue, "", kNotYet));
  add(rejected("--log-memory-to-tensorboard", kLogging, K::kStoreTrue, "", kNotYet));
  add(rejected("--log-params-norm", kLogging, K::kStoreTrue, "", kNotYet));
  add(rejected("--log-num-zeros-in-grad", kLogging, K::kStoreTrue, "", kNotYet));
  add(impl("--log-throughput", kLogging, K::kStoreTrue, "", ON(logging.log_throughput),
           "adds TFLOP/s/GPU to the log line"));
  add(rejected("--timing-log-level", kLogging, K::kInt, "0", kNotYet));
  for (const char* name : {"--wandb-project", "--wandb-exp-name", "--wandb-save-dir"}) {
    add(rejected(name, kLogging, K::kString, "",
                 "Weights & Biases is not supported; use --tensorboard-dir or --metrics-file"));
  }

  // Data / tokenizer
  add(impl("--data-path", kData, K::kStringList, "", TO(data.data_path), "[weight] prefix ... (compat §2.2)"));
  add(impl("--split", kData, K::kString, "", TO(data.split), "unset with --data-path: 969, 30, 1"));
  add(impl("--train-data-path", kData, K::kStringList, "", TO(data.train_data_path)));
  add(impl("--valid-data-path", kData, K::kStringList, "", TO(data.valid_data_path)));
  add(impl("--test-data-path", kData, K::kStringList, "", TO(data.test_data_path)));
  add(rejected("--data-args-path", kData, K::kString, "", kNotYet));
  add(rejected("--per-split-data-args-path", kData, K::kString, "", kNotYet));
  add(impl("--mock-data", kData, K::kStoreTrue, "", ON(data.mock_data)));
  add(impl("--data-cache-path", kData, K::kString, "", TO(data.data_cache_path)));
  add(no_effect("--no-mmap-bin-files", kData, K::kStoreFalse, "", ".bin reading strategy (speed only)"));
  add(no_effect("--num-workers", kData, K::kInt, "2", "the loader prefetches on its own thread"));
  add(rejected("--dataloader-type", kData, K::kString, "", "not implemented yet; the loader behaves as 'single'"));
  add(no_effect("--num-dataset-builder-threads", kData, K::kInt, "1", "index building speed only"));
  add(rejected("--mid-level-dataset-surplus", kData, K::kFloat, "0.005", kNotYet));
  add(impl("--reset-position-ids", kData, K::kStoreTrue, "", ON(data.reset_position_ids)));
  add(impl("--reset-attention-mask", kData, K::kStoreTrue, "", ON(data.reset_attention_mask)));
  add(impl("--eod-mask-loss", kData, K::kStoreTrue, "", ON(data.eod_mask_loss)));
  add(no_effect("--no-create-attention-mask-in-dataloader", kData, K::kStoreFalse, "",
                "where the causal mask is built (speed only)"));
  add(impl("--tokenizer-type", kData, K::kString, "", TO(data.tokenizer_type), "required for real data",
           {"BertWordPieceLowerCase", "BertWordPieceCase", "GPT2BPETokenizer", "SentencePieceTokenizer",
            "GPTSentencePieceTokenizer", "HuggingFaceTokenizer", "Llama2Tokenizer", "TikTokenizer",
            "MultimodalTokenizer", "NullTokenizer", "NullMultimodalTokenizer", "SFTTokenizer"}));
  add(impl("--tokenizer-model", kData, K::kString, "", TO(data.tokenizer_model)));
  add(impl("--vocab-file", kData, K::kString, "", TO(data.vocab_file)));
  add(impl("--merge-file", kData, K::kString, "", TO(data.merge_file)));
  add(rejected("--vocab-extra-ids", kData, K::kInt, "0", kNotYet));
  add(rejected("--tiktoken-pattern", kData, K::kString, "", kNotYet));
  add(impl("--null-tokenizer-eod-id", kData, K::kInt, "", TO(data.null_tokenizer_eod_id)));

  // Ours
  add(own(impl("--config", kOurs, K::kString, "", TO(own.config),
               "JSON preset: PATH or NAME (configs/NAME.json); command-line flags override it")));
  add(own(impl("--device", kOurs, K::kString, "", TO(own.device), "unset: cuda when a GPU is present, else cpu",
               {"cpu", "cuda"})));
  add(own(impl("--dry-run", kOurs, K::kStoreTrue, "", ON(own.dry_run),
               "print parameters, FLOPs/token and per-GPU memory, then exit")));
  add(own(impl("--metrics-file", kLogging, K::kString, "", TO(logging.metrics_file),
               "JSON lines, one per logged iteration (docs/metrics.md)")));
  add(own(impl("--peak-tflops", kOurs, K::kFloat, "", TO(own.peak_tflops),
               "per-device peak TFLOP/s for MFU; unset: from the device table (docs/metrics.md)")));
  return r;
}

#undef TO
#undef ON
#undef OFF

}  // namespace

const std::vector<FlagSpec>& flag_registry() {
  static const std::vector<FlagSpec> registry = build_registry();
  return registry;
}

const FlagSpec* find_flag(std::string_view name) {
  static const std::map<std::string, const FlagSpec*, std::less<>> index = [] {
    std::map<std::string, const FlagSpec*, std::less<>> m;
    for (const FlagSpec& s : flag_registry()) m.emplace(s.name, &s);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::string kind_text(const FlagSpec& spec) {
  const char* nargs = spec.at_least_one ? " (nargs=+)" : " (nargs=*)";
  switch (spec.kind) {
    case K::kStoreTrue: return "flag (store_true)";
    case K::kStoreFalse: return "flag (store_false)";
    case K::kInt: return "int";
    case K::kFloat: return "float";
    case K::kString: return "str";
    case K::kStringList: return std::string("str list") + nargs;
    case K::kIntList: return std::string("int list") + nargs;
    case K::kFloatList: return std::string("float list") + nargs;
  }
  return "?";
}

std::string flags_markdown() {
  std::string out =
      "# megatron-train flags\n\n"
      "Generated from the flag registry in `app/flags_registry.cpp` (a test keeps this file equal to it).\n"
      "Names, types and defaults are Megatron-LM's (`megatron/training/arguments.py`); matching is exact\n"
      "(no prefix abbreviations). Every flag is in one of three states:\n\n"
      "- **implemented**: does what it does in Megatron;\n"
      "- **no effect**: accepted because it only tunes Megatron's own speed; logged once as\n"
      "  `accepted, no effect: <flag>: <why>`;\n"
      "- **rejected**: stops with a one-line message (not implemented yet, or meaningless here).\n\n"
      "Any flag not listed is rejected as unknown. `--config PATH|NAME` reads a JSON object whose keys are\n"
      "flag names without the leading dashes (`{\"num-layers\": 12, \"swiglu\": true, \"data-path\": [\"a\"]}`);\n"
      "flags given on the command line override it. A bare NAME means `configs/NAME.json`.\n";
  std::string group;
  for (const FlagSpec& s : flag_registry()) {
    if (s.group != group) {
      group = s.group;
      out += "\n## " + group + "\n\n| flag | type | Megatron default | state | notes |\n|---|---|---|---|---|\n";
    }
    std::string state = s.state == FlagState::kImplemented ? "implemented"
                        : s.state == FlagState::kNoEffect  ? "no effect"
                                                           : "rejected";
    std::string note = s.note;
    if (!s.alias_of.empty()) note = "alias of `" + s.alias_of + "`";
    if (!s.choices.empty()) {
      std::string list;
      for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
      note += (note.empty() ? "" : "; ") + std::string("choices: ") + list;
    }
    std::string dflt = s.ours ? "(ours) " + s.default_text : "`" + s.default_text + "`";
    out += "| `" + s.name + "` | " + kind_text(s) + " | " + dflt + " | " + state + " | " + note + " |\n";
  }
  return out;
}

}  // namespace mcpp::app
