#include <catch2/catch.hpp>

#include "app/flags_optim.h"
#include "app/train_args.h"
#include "test/trainconfig/args_helpers.h"

using mcpp::app::TrainArgs;
using mcpp::app::validate_train_args;
using mcpp::test::error_of;
using mcpp::test::kTinyModel;
using mcpp::test::parse;

namespace {

// The validation error for the tiny model plus `extra` on `world` ranks ("" when valid).
std::string invalid(const std::string& extra, int64_t world = 1) {
  return error_of([&] {
    TrainArgs a = parse(std::string(kTinyModel) + extra);
    validate_train_args(a, world);
  });
}

TrainArgs valid(const std::string& extra, int64_t world = 1, int64_t vocab = 0) {
  TrainArgs a = parse(std::string(kTinyModel) + extra);
  validate_train_args(a, world, vocab);
  return a;
}

}  // namespace

TEST_CASE("derived values") {
  TrainArgs a = valid("--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --global-batch-size 16", 8);
  CHECK(a.derived.data_parallel_size == 2);
  CHECK(a.derived.num_microbatches == 4);
  CHECK(a.derived.kv_channels == 16);
  CHECK(a.derived.num_query_groups == 4);
  CHECK(a.derived.ffn_hidden_size == 256);
  CHECK(a.derived.padded_vocab_size == 1024);  // ceil(1000/256)*256
  // Unset global batch size = mbs * dp.
  CHECK(*valid("", 4).training.global_batch_size == 8);
  // GPT-2's vocabulary pads to 50304 at tp 1 and 50432 at tp 2 (the tokenizer's size wins).
  CHECK(valid("", 1, 50257).derived.padded_vocab_size == 50304);
  CHECK(valid("--tensor-model-parallel-size 2", 2, 50257).derived.padded_vocab_size == 50432);
  CHECK(mcpp::app::padded_vocab_size(50257, 128, 1) == 50304);
  // SwiGLU's default FFN width: int(4h*2/3 / 64) * 64.
  CHECK(valid("--swiglu").derived.ffn_hidden_size == 128);  // 4*64*2/3 = 170 -> 128
  CHECK(valid("--swiglu --hidden-size 4096 --num-attention-heads 32").derived.ffn_hidden_size == 10880);
  // Sequence parallelism is dropped at tp = 1; recompute-activations means selective.
  CHECK_FALSE(valid("--sequence-parallel").parallel.sequence_parallel);
  CHECK(valid("--sequence-parallel --tensor-model-parallel-size 2", 2).parallel.sequence_parallel);
  CHECK(valid("--recompute-activations").derived.recompute_granularity == "selective");
  CHECK(valid("--use-rotary-position-embeddings").derived.use_rope);
  CHECK(valid("--kv-channels 24 --hidden-size 66").derived.kv_channels == 24);
  CHECK(valid("--group-query-attention --num-query-groups 2").derived.num_query_groups == 2);
  CHECK(valid("--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 1 --global-batch-size 4", 2)
            .derived.virtual_pipeline_size == 2);
  CHECK(valid("--pipeline-model-parallel-size 3 --decoder-first-pipeline-num-layers 2", 3).derived.world_size == 3);
  CHECK(valid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 --global-batch-size 8 "
              "--micro-batch-size 2", 2)
            .derived.virtual_pipeline_size == 2);
}

TEST_CASE("every validation failure names its flags") {
  using Case = std::pair<std::string, std::string>;
  const Case cases[] = {
      {"--hidden-size 66", "--hidden-size 66 is not divisible by --num-attention-heads 4; change one or set --kv-channels"},
      {"--group-query-attention --num-query-groups 3", "--num-attention-heads 4 is not divisible by --num-query-groups 3"},
      {"--max-position-embeddings 16", "--max-position-embeddings (16) must be >= --seq-length (32)"},
      {"--train-samples 100", "--train-iters and --train-samples are mutually exclusive"},
      {"--fp16 --bf16", "--fp16 and --bf16 are mutually exclusive"},
      {"--grad-reduce-in-bf16", "--grad-reduce-in-bf16 needs --bf16"},
      {"--lr-warmup-fraction 0.1 --lr-warmup-iters 2",
       "--lr-warmup-fraction cannot be combined with --lr-warmup-iters or --lr-warmup-samples"},
      {"--save /tmp/x", "--save needs --save-interval"},
      {"--overlap-param-gather --use-distributed-optimizer",
       "--overlap-param-gather needs --use-distributed-optimizer and --overlap-grad-reduce"},
      {"--overlap-param-gather-with-optimizer-step --use-distributed-optimizer --overlap-grad-reduce",
       "--overlap-param-gather-with-optimizer-step needs --overlap-param-gather"},
      {"--ddp-bucket-size 100 --ddp-num-buckets 2", "--ddp-bucket-size and --ddp-num-buckets are mutually exclusive"},
      {"--ddp-average-in-collective --calculate-per-token-loss",
       "--ddp-average-in-collective cannot be used with --calculate-per-token-loss (per-token loss sums the "
       "gradients over data parallelism); drop one of them"},
      {"--global-batch-size 3", "--global-batch-size 3 is not divisible by --micro-batch-size 2 x data-parallel size 1"},
      {"--micro-batch-size 0", "--micro-batch-size must be positive, got 0"},
      {"--position-embedding-type yarn", "--position-embedding-type yarn is not implemented yet; use learned_absolute or rope"},
      {"--optimizer muon", "--optimizer muon is not implemented yet; use adam or sgd"},
      {"--ckpt-format torch", "--ckpt-format torch is not supported: checkpoints use one reshardable format "
                              "(--ckpt-format torch_dist, the default)"},
      {"--lr-decay-style WSD", "--lr-decay-style WSD needs --lr-wsd-decay-iters (or --lr-wsd-decay-samples)"},
      {"--lr-warmup-iters 10", "the LR warmup must be shorter than the LR decay: lower --lr-warmup-iters/"
                               "--lr-warmup-samples/--lr-warmup-fraction or raise --lr-decay-iters/--lr-decay-samples"},
      {"--lr-decay-samples 100", "--lr-decay-samples needs --train-samples; with --train-iters use --lr-decay-iters"},
      {"--lr-warmup-samples 5", "--lr-warmup-samples needs --train-samples; with --train-iters use --lr-warmup-iters"},
      {"--start-weight-decay 0.1", "--start-weight-decay/--end-weight-decay need --weight-decay-incr-style linear or "
                                   "cosine (constant uses --weight-decay)"},
      {"--weight-decay-incr-style linear --start-weight-decay 0.1",
       "--weight-decay-incr-style linear needs --start-weight-decay and --end-weight-decay"},
      {"--recompute-method uniform", "--recompute-method needs --recompute-granularity full"},
      {"--recompute-granularity full", "--recompute-granularity full needs --recompute-method (uniform or block)"},
      {"--recompute-granularity full --recompute-method block",
       "--recompute-granularity full needs --recompute-num-layers"},
      {"--recompute-granularity full --recompute-method block --recompute-num-layers 5",
       "--recompute-num-layers 5 exceeds the layers per pipeline stage (4)"},
      {"--recompute-num-layers 1", "--recompute-num-layers needs --recompute-granularity full"},
      {"--attention-dropout 1.5", "--attention-dropout must be in [0, 1), got 1.500000"},
      {"--data-path a --mock-data", "--mock-data cannot be combined with data paths"},
      {"--data-path a", "--tokenizer-type is required with real data (--data-path)"},
      {"--data-path a --tokenizer-type GPT2BPETokenizer",
       "--tokenizer-type GPT2BPETokenizer needs --vocab-file and --merge-file"},
      {"--data-path a --tokenizer-type HuggingFaceTokenizer",
       "--tokenizer-type HuggingFaceTokenizer needs --tokenizer-model"},
      {"--split 1,1,1", "--split needs --data-path"},
      {"--data-path a --train-data-path b",
       "--data-path cannot be combined with --train-data-path/--valid-data-path/--test-data-path"},
      {"--use-checkpoint-opt_param-scheduler --override-opt_param-scheduler",
       "--use-checkpoint-opt_param-scheduler and --override-opt_param-scheduler are mutually exclusive"},
      {"--log-interval 0", "--log-interval must be positive, got 0"},
      {"--loss-scale 0", "--loss-scale must be positive"},
      {"--hysteresis 0", "--hysteresis must be positive, got 0"},
      {"--adam-beta2 1.0", "--adam-beta2 must be in [0, 1)"},
      {"--expert-model-parallel-size 2", "--expert-model-parallel-size > 1 needs Mixture of Experts, which is not "
                                         "implemented yet"},
      {"--num-layers-per-virtual-pipeline-stage 1",
       "--num-layers-per-virtual-pipeline-stage needs --pipeline-model-parallel-size > 1"},
      {"--decoder-first-pipeline-num-layers 1",
       "--decoder-first/last-pipeline-num-layers need --pipeline-model-parallel-size > 1"},
  };
  for (const auto& [extra, message] : cases) {
    INFO(extra);
    CHECK(invalid(extra) == message);
  }
  CHECK(invalid("--tensor-model-parallel-size 2", 3) ==
        "world size 3 is not divisible by --tensor-model-parallel-size x --pipeline-model-parallel-size x "
        "--context-parallel-size = 2");
  CHECK(invalid("--tensor-model-parallel-size 8", 8) == "--num-attention-heads 4 is not divisible by "
                                                        "--tensor-model-parallel-size 8");
  CHECK(invalid("--context-parallel-size 3 --seq-length 28", 3) ==
        "--seq-length 28 must be divisible by 2 x --context-parallel-size = 6");
  CHECK(invalid("--pipeline-model-parallel-size 3", 3) ==
        "--num-layers 4 is not divisible by --pipeline-model-parallel-size 3; use "
        "--decoder-first/last-pipeline-num-layers for uneven stages");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 3", 2) ==
        "layers per pipeline stage (2) must be divisible by --num-layers-per-virtual-pipeline-stage 3");
  CHECK(invalid("--pipeline-model-parallel-size 3 --decoder-first-pipeline-num-layers 1", 3) ==
        "--num-layers 4 minus --decoder-first/last-pipeline-num-layers leaves 3 layers, which the 2 other "
        "pipeline stages cannot share evenly");
  CHECK(invalid("--pipeline-model-parallel-size 2 --decoder-first-pipeline-num-layers 0", 2) ==
        "--decoder-first-pipeline-num-layers must be larger than 0");
  CHECK(invalid("--pipeline-model-parallel-size 2 --decoder-first-pipeline-num-layers 1 "
                "--decoder-last-pipeline-num-layers 1", 2) ==
        "--decoder-first-pipeline-num-layers plus --decoder-last-pipeline-num-layers must equal --num-layers 4 when "
        "--pipeline-model-parallel-size is 2");
  CHECK(invalid("--pipeline-model-parallel-size 2 --decoder-last-pipeline-num-layers 5", 2) ==
        "--decoder-first/last-pipeline-num-layers exceed --num-layers 4");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 "
                "--decoder-first-pipeline-num-layers 1", 2) ==
        "number of layers at first stage (--decoder-first-pipeline-num-layers 1) must be divisible by the virtual "
        "pipeline parallel degree 2");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-layers-per-virtual-pipeline-stage 1 "
                "--decoder-first-pipeline-num-layers 2", 2) ==
        "use --num-virtual-stages-per-pipeline-rank to set the virtual pipeline size with "
        "--decoder-first/last-pipeline-num-layers");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 "
                "--num-layers-per-virtual-pipeline-stage 1", 2) ==
        "--num-layers-per-virtual-pipeline-stage and --num-virtual-stages-per-pipeline-rank are mutually exclusive");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 --global-batch-size 2 "
                "--micro-batch-size 2", 2) ==
        "--microbatch-group-size-per-virtual-pipeline-stage 2 must lie between --pipeline-model-parallel-size 2 "
        "and the number of microbatches 1");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 --global-batch-size 6 "
                "--micro-batch-size 2", 2) ==
        "the number of microbatches 3 leaves a last group of 1 microbatches, fewer than "
        "--pipeline-model-parallel-size 2; use a multiple of the group size");
  CHECK(invalid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 "
                "--no-overlap-p2p-communication", 2) ==
        "the interleaved schedule with --no-overlap-p2p-communication needs --pipeline-model-parallel-size > 2");
  // Required flags.
  CHECK(error_of([] {
          TrainArgs a = parse("--hidden-size 8");
          validate_train_args(a, 1);
        }) == "--num-layers is required");
  CHECK(error_of([] {
          TrainArgs a = parse("--num-layers 2 --hidden-size 8 --num-attention-heads 2 --seq-length 4 "
                              "--max-position-embeddings 4 --micro-batch-size 1 --lr 1");
          validate_train_args(a, 1);
        }) == "one of --train-iters or --train-samples is required");
  // --dry-run needs neither the training length nor the learning rate.
  CHECK(error_of([] {
          TrainArgs a = parse("--num-layers 2 --hidden-size 8 --num-attention-heads 2 --seq-length 4 "
                              "--max-position-embeddings 4 --micro-batch-size 1 --dry-run");
          validate_train_args(a, 1);
        }) == "");
}

TEST_CASE("reject_unsupported: TP, PP and DP run; CP and EP are stopped") {
  TrainArgs tp_pp = valid("--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2", 8);
  CHECK(error_of([&] { mcpp::app::reject_unsupported(tp_pp, 8); }) == "");
  TrainArgs dp = valid("", 2);
  CHECK(error_of([&] { mcpp::app::reject_unsupported(dp, 2); }) == "");
  TrainArgs cp = valid("--context-parallel-size 2", 2);
  CHECK(error_of([&] { mcpp::app::reject_unsupported(cp, 2); }) ==
        "--context-parallel-size 2: context parallelism is not implemented yet; use 1");
  for (const char* flags : {"--optimizer sgd", "--fp16", "--calculate-per-token-loss",
                            "--use-distributed-optimizer --overlap-grad-reduce --overlap-param-gather"}) {
    INFO(flags);
    TrainArgs runs = valid(flags, 2);
    CHECK(error_of([&] { mcpp::app::reject_unsupported(runs, 2); }) == "");
  }
  TrainArgs interleaved =
      valid("--pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 --global-batch-size 4", 2);
  CHECK(error_of([&] { mcpp::app::reject_unsupported(interleaved, 2); }) == "");
  TrainArgs single = valid("");
  CHECK(error_of([&] { mcpp::app::reject_unsupported(single, 1); }) == "");
}

TEST_CASE("device selection") {
  CHECK(mcpp::app::resolve_device(parse("--device cpu")) == "cpu");
  const std::string automatic = mcpp::app::resolve_device(parse(""));
  CHECK((automatic == "cpu" || automatic == "cuda"));
  CHECK(automatic == mcpp::app::default_device());
  CHECK(error_of([] { parse("--device tpu"); }) == "--device: invalid choice 'tpu' (choose from cpu, cuda)");
}

TEST_CASE("schedule, Adam and loss-scaler settings from the flags") {
  TrainArgs iters = valid("--global-batch-size 8 --train-iters 100 --lr-decay-iters 80 --lr-warmup-iters 5 "
                          "--lr-decay-style WSD --lr-wsd-decay-iters 20 --min-lr 1e-5");
  auto c = mcpp::app::scheduler_config(iters);
  CHECK(c.decay_steps == 640);
  CHECK(c.warmup_steps == 40.0);
  CHECK(c.wsd_decay_steps == 160);
  CHECK(c.wd_incr_steps == 800);
  CHECK(c.max_lr == 1e-3);
  CHECK(c.min_lr == 1e-5);
  CHECK(c.start_wd == 0.01);
  CHECK(c.end_wd == 0.01);
  CHECK(mcpp::app::train_iterations(iters) == 100);

  TrainArgs fraction = valid("--lr-warmup-fraction 0.25");
  CHECK(mcpp::app::scheduler_config(fraction).warmup_steps == 0.25 * 10 * 2);
  CHECK(mcpp::app::scheduler_config(fraction).decay_steps == 20);

  TrainArgs samples = parse(std::string(kTinyModel) + "--global-batch-size 4");
  samples.training.train_iters.reset();
  samples.training.train_samples = 1002;
  samples.training.lr_warmup_samples = 10;
  samples.training.lr_decay_samples = 900;
  samples.training.weight_decay_incr_style = "cosine";
  samples.training.start_weight_decay = 0.0;
  samples.training.end_weight_decay = 0.1;
  validate_train_args(samples, 1);
  auto s = mcpp::app::scheduler_config(samples);
  CHECK(s.decay_steps == 900);
  CHECK(s.warmup_steps == 10.0);
  CHECK(s.wd_incr_steps == 1002);
  CHECK(s.start_wd == 0.0);
  CHECK(s.end_wd == 0.1);
  CHECK(mcpp::app::train_iterations(samples) == 250);

  TrainArgs fp16 = valid("--fp16 --loss-scale-window 50 --hysteresis 3 --min-loss-scale 2");
  auto scaler = mcpp::app::loss_scaler_config(fp16);
  CHECK(scaler.dynamic);
  CHECK(scaler.initial_scale == 4294967296.0);
  CHECK(scaler.growth_interval == 50);
  CHECK(scaler.hysteresis == 3);
  CHECK(scaler.min_scale == 2.0);
  auto constant = mcpp::app::loss_scaler_config(valid("--fp16 --loss-scale 128"));
  CHECK_FALSE(constant.dynamic);
  CHECK(constant.initial_scale == 128.0);
  auto adam = mcpp::app::adam_config(valid("--adam-beta2 0.95 --adam-eps 1e-5"));
  CHECK(adam.beta1 == 0.9f);
  CHECK(adam.beta2 == 0.95f);
  CHECK(adam.eps == 1e-5f);
}
