#!/usr/bin/env bash
# End-to-end demo: build, turn Debian's fortune cookies into a JSONL corpus, train a byte-level
# BPE tokenizer on it, preprocess the corpus into Megatron .bin/.idx files, look inside, train a
# small GPT on it (GPU when present, else CPU), stop half-way, resume from the checkpoint, and
# generate a sample from the trained model.
#
# Usage: scripts/demo.sh [WORK_DIR]        (default: build/demo; nothing is written elsewhere)
# Environment: VOCAB_SIZE (default 4096), FORTUNES_DIR (default /usr/share/games/fortunes,
# from the `fortunes` package of scripts/setup.sh), JOBS (build parallelism), BUILD=0 to use the
# programs already in build/bin without building first, TRAIN_ITERS (default 120).
set -euo pipefail
cd "$(dirname "$0")/.."

work=${1:-build/demo}
vocab_size=${VOCAB_SIZE:-4096}
fortunes_dir=${FORTUNES_DIR:-/usr/share/games/fortunes}
bin=build/bin
mkdir -p "$work"

echo "== 1. build"
if [ "${BUILD:-1}" = 0 ]; then
  echo "   skipped (BUILD=0)"
else
  scripts/build.sh
fi

echo "== 2. corpus: one JSON document per fortune cookie"
# Cookie files are the plain files of the folder (not the .dat indexes, not the .u8 links);
# cookies are separated by lines holding a single '%'. Cookies that are not valid UTF-8 are
# skipped. JSON escaping by hand (perl-base has no JSON module): quote, backslash and every
# control character.
shopt -s nullglob
cookie_files=()
for f in "$fortunes_dir"/*; do
  [[ -f $f && ! -L $f && $f != *.dat && $f != *.u8 ]] && cookie_files+=("$f")
done
if [ ${#cookie_files[@]} -eq 0 ]; then
  echo "demo: no fortune files in $fortunes_dir (install the 'fortunes' package: scripts/setup.sh)" >&2
  exit 1
fi
corpus=$work/fortunes.jsonl
perl -e '
  my ($documents, $skipped) = (0, 0);
  for my $file (@ARGV) {
    open(my $in, "<:raw", $file) or die "demo: cannot read $file: $!\n";
    my $all = do { local $/; <$in> };
    close $in;
    for my $cookie (split /^%\r?\n/m, $all) {
      $cookie =~ s/\r?\n\z//;
      next if $cookie =~ /^\s*\z/;
      my $check = $cookie;
      unless (utf8::decode($check)) { $skipped++; next; }
      $cookie =~ s/(["\\])/\\$1/g;
      $cookie =~ s/\n/\\n/g;
      $cookie =~ s/\t/\\t/g;
      $cookie =~ s/\r/\\r/g;
      $cookie =~ s/([\x00-\x1f])/sprintf("\\u%04x", ord($1))/ge;
      print "{\"text\": \"$cookie\"}\n";
      $documents++;
    }
  }
  print STDERR "demo: $documents documents ($skipped cookies skipped: not UTF-8)\n";
' "${cookie_files[@]}" > "$corpus.tmp"
mv "$corpus.tmp" "$corpus"
echo "   $corpus ($(wc -c < "$corpus") bytes)"

echo "== 3. train-tokenizer (byte-level BPE, vocabulary $vocab_size)"
tokenizer=$work/tokenizer
"$bin/train-tokenizer" --input "$corpus" --vocab-size "$vocab_size" --output "$tokenizer" \
  --special-tokens "<|endoftext|>"
echo "   $tokenizer/tokenizer.json, $tokenizer/tokenizer_config.json"

echo "== 4. preprocess (JSONL -> Megatron .bin/.idx)"
prefix=$work/fortunes
dataset=${prefix}_text_document
"$bin/preprocess" --input "$corpus" --output-prefix "$prefix" \
  --tokenizer-type HuggingFaceTokenizer --tokenizer-model "$tokenizer" --append-eod --workers 2
ls -l "$dataset.bin" "$dataset.idx"

echo "== 5. inspect-data"
tokenizer_flags=(--tokenizer-type HuggingFaceTokenizer --tokenizer-model "$tokenizer")
"$bin/inspect-data" info --data-path "$dataset"
echo "   the first 3 training samples of 64 tokens, decoded:"
"$bin/inspect-data" samples --data-path "$dataset" --seq-length 64 --range 0:3 --decode \
  "${tokenizer_flags[@]}" --data-cache-path "$work/cache"

echo "== 6. megatron-train: a 4-layer GPT, stopped half-way (--exit-interval) with a checkpoint"
iters=${TRAIN_ITERS:-120}
half=$(( iters / 2 ))
checkpoints=$work/checkpoints
rm -rf "$checkpoints"
train_flags=(
  --num-layers 4 --hidden-size 128 --num-attention-heads 4 --seq-length 128
  --max-position-embeddings 128 --micro-batch-size 8 --global-batch-size 16
  --lr 3e-3 --min-lr 3e-4 --lr-decay-style cosine --lr-warmup-iters 10 --weight-decay 0.1
  --clip-grad 1.0 --attention-dropout 0 --hidden-dropout 0 --train-iters "$iters"
  --data-path "$dataset" --split 98,1,1 --data-cache-path "$work/cache" "${tokenizer_flags[@]}"
  --log-interval 10 --eval-interval "$half" --eval-iters 5
  --save "$checkpoints" --save-interval "$half" --metrics-file "$work/metrics.jsonl"
)
"$bin/megatron-train" "${train_flags[@]}" --exit-interval "$half"
echo "   checkpoint: iteration $(cat "$checkpoints/latest_checkpointed_iteration.txt")"

echo "== 7. megatron-train: resume from the checkpoint and finish"
"$bin/megatron-train" "${train_flags[@]}" --load "$checkpoints"

echo "== 8. generate: a sample from the trained model"
"$bin/generate" --load "$checkpoints" --prompt "The meaning of life is" --max-new-tokens 40 \
  --temperature 0.8 --top-k 40 --seed 7
echo "== done: everything is under $work"
