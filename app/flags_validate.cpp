// validate_train_args: Megatron's validate_args checks and derived values, each failure one line
// naming the flags involved. Runs before anything is allocated.
#include <string>

#include "app/flags_optim.h"
#include "app/pipeline_split.h"
#include "app/train_args.h"
#include "core/base/error.h"
#include "parallel/pipeline_schedule.h"

namespace mcpp::app {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

void require(const std::optional<int64_t>& value, const char* flag) {
  check(value.has_value(), std::string(flag) + " is required");
  check(*value > 0, std::string(flag) + " must be positive, got " + str(*value));
}

void positive(int64_t value, const char* flag) {
  check(value > 0, std::string(flag) + " must be positive, got " + str(value));
}

void positive_if_set(const std::optional<int64_t>& value, const char* flag) {
  if (value) positive(*value, flag);
}

void probability(double value, const char* flag) {
  check(value >= 0.0 && value < 1.0, std::string(flag) + " must be in [0, 1), got " + std::to_string(value));
}

void validate_model(TrainArgs& a) {
  ModelArgs& m = a.model;
  DerivedArgs& d = a.derived;
  const int64_t tp = a.parallel.tensor_model_parallel_size;
  require(m.num_layers, "--num-layers");
  require(m.hidden_size, "--hidden-size");
  require(m.num_attention_heads, "--num-attention-heads");
  require(m.seq_length, "--seq-length");
  require(m.max_position_embeddings, "--max-position-embeddings");
  const int64_t h = *m.hidden_size;
  const int64_t heads = *m.num_attention_heads;
  check(*m.max_position_embeddings >= *m.seq_length,
        "--max-position-embeddings (" + str(*m.max_position_embeddings) + ") must be >= --seq-length (" +
            str(*m.seq_length) + ")");
  if (m.kv_channels) {
    positive(*m.kv_channels, "--kv-channels");
    d.kv_channels = *m.kv_channels;
  } else {
    check(h % heads == 0, "--hidden-size " + str(h) + " is not divisible by --num-attention-heads " + str(heads) +
                              "; change one or set --kv-channels");
    d.kv_channels = h / heads;
  }
  if (m.group_query_attention) {
    positive(m.num_query_groups, "--num-query-groups");
    check(heads % m.num_query_groups == 0, "--num-attention-heads " + str(heads) +
                                               " is not divisible by --num-query-groups " +
                                               str(m.num_query_groups));
    d.num_query_groups = m.num_query_groups;
  } else {
    d.num_query_groups = heads;
  }
  check(heads % tp == 0, "--num-attention-heads " + str(heads) + " is not divisible by --tensor-model-parallel-size " +
                             str(tp));
  check(d.num_query_groups % tp == 0, "--num-query-groups " + str(d.num_query_groups) +
                                          " is not divisible by --tensor-model-parallel-size " + str(tp));
  if (m.ffn_hidden_size) {
    positive(*m.ffn_hidden_size, "--ffn-hidden-size");
    d.ffn_hidden_size = *m.ffn_hidden_size;
  } else {
    d.ffn_hidden_size = m.swiglu ? (4 * h * 2 / 3) / 64 * 64 : 4 * h;
  }
  check(d.ffn_hidden_size % tp == 0, "--ffn-hidden-size " + str(d.ffn_hidden_size) +
                                         " is not divisible by --tensor-model-parallel-size " + str(tp));
  if (m.use_rotary_position_embeddings) m.position_embedding_type = "rope";
  check(m.position_embedding_type == "learned_absolute" || m.position_embedding_type == "rope",
        "--position-embedding-type " + m.position_embedding_type +
            " is not implemented yet; use learned_absolute or rope");
  d.use_rope = m.position_embedding_type == "rope";
  if (d.use_rope) {
    check(m.rotary_percent > 0.0 && m.rotary_percent <= 1.0, "--rotary-percent must be in (0, 1]");
    positive(m.rotary_base, "--rotary-base");
  }
  check(m.norm_epsilon > 0.0, "--norm-epsilon must be positive");
  positive(m.make_vocab_size_divisible_by, "--make-vocab-size-divisible-by");
  positive_if_set(m.vocab_size, "--vocab-size");
  probability(m.attention_dropout, "--attention-dropout");
  probability(m.hidden_dropout, "--hidden-dropout");
  check(m.init_method_std > 0.0, "--init-method-std must be positive");
}

void validate_parallel(TrainArgs& a, int64_t world) {
  ParallelArgs& p = a.parallel;
  DerivedArgs& d = a.derived;
  positive(world, "the world size");
  positive(p.tensor_model_parallel_size, "--tensor-model-parallel-size");
  positive(p.pipeline_model_parallel_size, "--pipeline-model-parallel-size");
  positive(p.context_parallel_size, "--context-parallel-size");
  positive(p.expert_model_parallel_size, "--expert-model-parallel-size");
  positive(p.distributed_timeout_minutes, "--distributed-timeout-minutes");
  positive_if_set(p.ddp_bucket_size, "--ddp-bucket-size");
  positive_if_set(a.training.check_weight_hash_across_dp_replicas_interval,
                  "--check-weight-hash-across-dp-replicas-interval");
  positive_if_set(p.ddp_num_buckets, "--ddp-num-buckets");
  check(!(p.ddp_bucket_size && p.ddp_num_buckets), "--ddp-bucket-size and --ddp-num-buckets are mutually exclusive");
  const int64_t tp = p.tensor_model_parallel_size;
  const int64_t pp = p.pipeline_model_parallel_size;
  const int64_t cp = p.context_parallel_size;
  const int64_t model_parallel = tp * pp * cp;
  check(world % model_parallel == 0,
        "world size " + str(world) + " is not divisible by --tensor-model-parallel-size x "
        "--pipeline-model-parallel-size x --context-parallel-size = " + str(model_parallel));
  d.world_size = world;
  d.data_parallel_size = world / model_parallel;
  check(p.expert_model_parallel_size == 1,
        "--expert-model-parallel-size > 1 needs Mixture of Experts, which is not implemented yet");
  // Megatron silently drops sequence parallelism without tensor parallelism.
  if (tp == 1) p.sequence_parallel = false;
  if (p.overlap_param_gather) {
    check(p.use_distributed_optimizer && p.overlap_grad_reduce,
          "--overlap-param-gather needs --use-distributed-optimizer and --overlap-grad-reduce");
  }
  check(!p.overlap_param_gather_with_optimizer_step || p.overlap_param_gather,
        "--overlap-param-gather-with-optimizer-step needs --overlap-param-gather");
  check(!(p.ddp_average_in_collective && a.training.calculate_per_token_loss),
        "--ddp-average-in-collective cannot be used with --calculate-per-token-loss (per-token loss sums the "
        "gradients over data parallelism); drop one of them");
  if (cp > 1) {
    check(*a.model.seq_length % (2 * cp) == 0, "--seq-length " + str(*a.model.seq_length) +
                                                   " must be divisible by 2 x --context-parallel-size = " +
                                                   str(2 * cp));
  }

  const auto& first = p.decoder_first_pipeline_num_layers;
  const auto& last = p.decoder_last_pipeline_num_layers;
  const auto& layers_per_virtual = p.num_layers_per_virtual_pipeline_stage;
  const auto& virtual_stages = p.num_virtual_stages_per_pipeline_rank;
  check(!(layers_per_virtual && virtual_stages), "--num-layers-per-virtual-pipeline-stage and "
                                                 "--num-virtual-stages-per-pipeline-rank are mutually exclusive");
  d.virtual_pipeline_size = 1;
  if (layers_per_virtual || virtual_stages) {
    check(pp > 1, std::string(virtual_stages ? "--num-virtual-stages-per-pipeline-rank"
                                             : "--num-layers-per-virtual-pipeline-stage") +
                      " needs --pipeline-model-parallel-size > 1");
    // Batched exchanges with both neighbours on one rank would mix up sends at pp 2 (Megatron).
    check(p.overlap_p2p_communication || pp > 2,
          "the interleaved schedule with --no-overlap-p2p-communication needs --pipeline-model-parallel-size > 2");
    if (virtual_stages) {
      positive(*virtual_stages, "--num-virtual-stages-per-pipeline-rank");
      d.virtual_pipeline_size = *virtual_stages;
    } else {
      positive(*layers_per_virtual, "--num-layers-per-virtual-pipeline-stage");
      check(!first && !last, "use --num-virtual-stages-per-pipeline-rank to set the virtual pipeline size with "
                             "--decoder-first/last-pipeline-num-layers");
      check(!p.account_for_embedding_in_pipeline_split && !p.account_for_loss_in_pipeline_split,
            "use --num-virtual-stages-per-pipeline-rank to set the virtual pipeline size with "
            "--account-for-embedding/loss-in-pipeline-split");
      const int64_t layers = *a.model.num_layers;
      check(layers % pp == 0, "--num-layers " + str(layers) + " is not divisible by --pipeline-model-parallel-size " +
                                  str(pp));
      check((layers / pp) % *layers_per_virtual == 0,
            "layers per pipeline stage (" + str(layers / pp) +
                ") must be divisible by --num-layers-per-virtual-pipeline-stage " + str(*layers_per_virtual));
      d.virtual_pipeline_size = layers / pp / *layers_per_virtual;
    }
  }
  parallel::check_pipeline_split(pipeline_split(a));
}

void validate_batch_and_schedule(TrainArgs& a, bool dry_run) {
  TrainingArgs& t = a.training;
  DerivedArgs& d = a.derived;
  require(t.micro_batch_size, "--micro-batch-size");
  const int64_t per_step = *t.micro_batch_size * d.data_parallel_size;
  if (!t.global_batch_size) t.global_batch_size = per_step;
  positive(*t.global_batch_size, "--global-batch-size");
  check(*t.global_batch_size % per_step == 0,
        "--global-batch-size " + str(*t.global_batch_size) + " is not divisible by --micro-batch-size " +
            str(*t.micro_batch_size) + " x data-parallel size " + str(d.data_parallel_size));
  d.num_microbatches = *t.global_batch_size / per_step;
  const auto& group_size = a.parallel.microbatch_group_size_per_virtual_pipeline_stage;
  positive_if_set(group_size, "--microbatch-group-size-per-virtual-pipeline-stage");
  if (d.virtual_pipeline_size > 1) {
    // The schedule table's own checks: P <= G <= M and a last group of 0 or >= P microbatches.
    parallel::InterleavedOptions schedule;
    schedule.pp_size = static_cast<int>(a.parallel.pipeline_model_parallel_size);
    schedule.virtual_size = static_cast<int>(d.virtual_pipeline_size);
    schedule.num_microbatches = static_cast<int>(d.num_microbatches);
    schedule.group_size = static_cast<int>(group_size.value_or(0));
    parallel::interleaved_forward_table(schedule);
  }

  check(!(t.train_iters && t.train_samples), "--train-iters and --train-samples are mutually exclusive");
  if (!dry_run) {
    check(t.train_iters || t.train_samples, "one of --train-iters or --train-samples is required");
    check(t.lr.has_value(), "--lr is required");
  }
  positive_if_set(t.train_iters, "--train-iters");
  positive_if_set(t.train_samples, "--train-samples");
  if (t.lr) check(*t.lr >= 0.0, "--lr must not be negative");
  check(t.min_lr >= 0.0, "--min-lr must not be negative");
  if (t.train_iters) {
    check(!t.lr_decay_samples, "--lr-decay-samples needs --train-samples; with --train-iters use --lr-decay-iters");
    check(t.lr_warmup_samples == 0,
          "--lr-warmup-samples needs --train-samples; with --train-iters use --lr-warmup-iters");
    check(!t.lr_wsd_decay_samples,
          "--lr-wsd-decay-samples needs --train-samples; with --train-iters use --lr-wsd-decay-iters");
  }
  if (t.train_samples) {
    check(!t.lr_decay_iters, "--lr-decay-iters needs --train-iters; with --train-samples use --lr-decay-samples");
    check(t.lr_warmup_iters == 0,
          "--lr-warmup-iters needs --train-iters; with --train-samples use --lr-warmup-samples");
    check(!t.lr_wsd_decay_iters,
          "--lr-wsd-decay-iters needs --train-iters; with --train-samples use --lr-wsd-decay-samples");
  }
  if (t.lr_warmup_fraction) {
    check(t.lr_warmup_iters == 0 && t.lr_warmup_samples == 0,
          "--lr-warmup-fraction cannot be combined with --lr-warmup-iters or --lr-warmup-samples");
    check(*t.lr_warmup_fraction >= 0.0 && *t.lr_warmup_fraction < 1.0, "--lr-warmup-fraction must be in [0, 1)");
  }
  check(t.lr_warmup_iters >= 0 && t.lr_warmup_samples >= 0, "--lr-warmup-iters/--lr-warmup-samples must not be negative");
  positive_if_set(t.lr_decay_iters, "--lr-decay-iters");
  positive_if_set(t.lr_decay_samples, "--lr-decay-samples");
  if (t.lr_decay_style == "WSD") {
    check(t.lr_wsd_decay_iters || t.lr_wsd_decay_samples,
          "--lr-decay-style WSD needs --lr-wsd-decay-iters (or --lr-wsd-decay-samples)");
  }
  if (t.weight_decay_incr_style == "constant") {
    check(!t.start_weight_decay && !t.end_weight_decay,
          "--start-weight-decay/--end-weight-decay need --weight-decay-incr-style linear or cosine "
          "(constant uses --weight-decay)");
  } else {
    check(t.start_weight_decay && t.end_weight_decay, "--weight-decay-incr-style " + t.weight_decay_incr_style +
                                                          " needs --start-weight-decay and --end-weight-decay");
  }
  check(t.weight_decay >= 0.0, "--weight-decay must not be negative");
  check(t.clip_grad >= 0.0, "--clip-grad must not be negative (0 disables clipping)");
  check(t.adam_beta1 >= 0.0 && t.adam_beta1 < 1.0, "--adam-beta1 must be in [0, 1)");
  check(t.adam_beta2 >= 0.0 && t.adam_beta2 < 1.0, "--adam-beta2 must be in [0, 1)");
  check(t.adam_eps > 0.0, "--adam-eps must be positive");
  check(t.sgd_momentum >= 0.0, "--sgd-momentum must not be negative");
  check(t.optimizer == "adam" || t.optimizer == "sgd",
        "--optimizer " + t.optimizer + " is not implemented yet; use adam or sgd");
  check(!(t.use_checkpoint_opt_param_scheduler && t.override_opt_param_scheduler),
        "--use-checkpoint-opt_param-scheduler and --override-opt_param-scheduler are mutually exclusive");
  // The full schedule check (warmup shorter than decay, WSD window inside it) in samples.
  if ((t.train_iters || t.train_samples) && t.lr) scheduler_config(a).validate();
}

void validate_recompute(TrainArgs& a) {
  TrainingArgs& t = a.training;
  if (t.recompute_activations) t.recompute_granularity = "selective";
  a.derived.recompute_granularity = t.recompute_granularity.value_or("");
  if (t.recompute_method) {
    check(a.derived.recompute_granularity == "full",
          "--recompute-method needs --recompute-granularity full");
  }
  if (a.derived.recompute_granularity == "full") {
    check(t.recompute_method.has_value(), "--recompute-granularity full needs --recompute-method (uniform or block)");
    check(t.recompute_num_layers.has_value(), "--recompute-granularity full needs --recompute-num-layers");
    positive(*t.recompute_num_layers, "--recompute-num-layers");
    const int64_t per_stage = *a.model.num_layers / a.parallel.pipeline_model_parallel_size;
    check(*t.recompute_num_layers <= per_stage, "--recompute-num-layers " + str(*t.recompute_num_layers) +
                                                    " exceeds the layers per pipeline stage (" + str(per_stage) + ")");
  } else {
    check(!t.recompute_num_layers, "--recompute-num-layers needs --recompute-granularity full");
  }
}

void validate_precision(TrainArgs& a) {
  const PrecisionArgs& p = a.precision;
  check(!(p.fp16 && p.bf16), "--fp16 and --bf16 are mutually exclusive");
  if (p.loss_scale) check(*p.loss_scale > 0.0, "--loss-scale must be positive");
  check(p.initial_loss_scale > 0.0, "--initial-loss-scale must be positive");
  check(p.min_loss_scale > 0.0, "--min-loss-scale must be positive");
  check(p.loss_scale_window >= 1.0, "--loss-scale-window must be at least 1");
  positive(p.hysteresis, "--hysteresis");
  // Megatron reduces in the parameters' dtype without fp32 accumulation; only bf16 training has
  // bf16 gradients to reduce.
  check(!p.grad_reduce_in_bf16 || p.bf16, "--grad-reduce-in-bf16 needs --bf16");
}

void validate_data(TrainArgs& a, int64_t vocab_size) {
  DataArgs& d = a.data;
  const bool per_split = d.train_data_path || d.valid_data_path || d.test_data_path;
  check(!(d.data_path && per_split),
        "--data-path cannot be combined with --train-data-path/--valid-data-path/--test-data-path");
  check(!(d.mock_data && (d.data_path || per_split)), "--mock-data cannot be combined with data paths");
  if (d.data_path) check(!d.data_path->empty(), "--data-path needs at least one dataset prefix");
  if (d.split) check(d.data_path.has_value(), "--split needs --data-path");
  const bool real_data = d.data_path || per_split;
  if (real_data) check(d.tokenizer_type.has_value(), "--tokenizer-type is required with real data (--data-path)");
  if (d.tokenizer_type) {
    const std::string& type = *d.tokenizer_type;
    if (type == "GPT2BPETokenizer") {
      check(d.vocab_file && d.merge_file, "--tokenizer-type GPT2BPETokenizer needs --vocab-file and --merge-file");
    } else if (type == "NullTokenizer") {
      check(a.model.vocab_size.has_value(), "--tokenizer-type NullTokenizer needs --vocab-size");
    } else if (type == "SentencePieceTokenizer" || type == "GPTSentencePieceTokenizer" ||
               type == "HuggingFaceTokenizer" || type == "Llama2Tokenizer" || type == "TikTokenizer") {
      check(d.tokenizer_model.has_value(), "--tokenizer-type " + type + " needs --tokenizer-model");
    }
  }
  if (d.null_tokenizer_eod_id) check(*d.null_tokenizer_eod_id >= 0, "--null-tokenizer-eod-id must not be negative");
  const int64_t known_vocab = vocab_size > 0 ? vocab_size : a.model.vocab_size.value_or(0);
  a.derived.padded_vocab_size =
      known_vocab > 0 ? padded_vocab_size(known_vocab, a.model.make_vocab_size_divisible_by,
                                          a.parallel.tensor_model_parallel_size)
                      : 0;
}

void validate_checkpoint_and_logging(TrainArgs& a) {
  const CheckpointArgs& c = a.checkpoint;
  if (c.save) check(c.save_interval.has_value(), "--save needs --save-interval");
  positive_if_set(c.save_interval, "--save-interval");
  positive_if_set(c.exit_interval, "--exit-interval");
  // 0 is allowed as in Megatron: stop (and save) after the first iteration.
  if (c.exit_duration_in_mins) {
    check(*c.exit_duration_in_mins >= 0,
          "--exit-duration-in-mins must be >= 0, got " + std::to_string(*c.exit_duration_in_mins));
  }
  check(c.ckpt_format == "torch_dist", "--ckpt-format " + c.ckpt_format +
                                           " is not supported: checkpoints use one reshardable format "
                                           "(--ckpt-format torch_dist, the default)");
  const LoggingArgs& l = a.logging;
  positive(l.log_interval, "--log-interval");
  positive(l.eval_interval, "--eval-interval");
  check(l.eval_iters >= 0, "--eval-iters must not be negative");
  positive(l.tensorboard_log_interval, "--tensorboard-log-interval");
  if (a.own.peak_tflops) check(*a.own.peak_tflops > 0.0, "--peak-tflops must be positive");
}

}  // namespace

void validate_train_args(TrainArgs& args, int64_t world_size, int64_t vocab_size) {
  validate_model(args);
  validate_parallel(args, world_size);
  validate_batch_and_schedule(args, args.own.dry_run);
  validate_recompute(args);
  validate_precision(args);
  validate_data(args, vocab_size);
  validate_checkpoint_and_logging(args);
}

void reject_unsupported(const TrainArgs& args, int64_t /*world_size*/) {
  const ParallelArgs& p = args.parallel;
  check(p.context_parallel_size == 1, "--context-parallel-size " + std::to_string(p.context_parallel_size) +
                                          ": context parallelism is not implemented yet; use 1");
  check(p.expert_model_parallel_size == 1, "--expert-model-parallel-size " +
                                               std::to_string(p.expert_model_parallel_size) +
                                               ": expert parallelism is not implemented yet; use 1");
}

}  // namespace mcpp::app
