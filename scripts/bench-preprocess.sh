#!/usr/bin/env bash
# Throughput and memory of `preprocess` on real text with the GPT-2 tokenizer.
#
#   scripts/bench-preprocess.sh [--big] [--size-mb N]
#
# Builds a JSONL corpus (>= 100 MB by default) from text every Debian machine has (the Python
# standard library sources and /usr/share/doc), runs preprocess at 1 and 2 workers, and prints
# MB/s, MB/s per worker and peak RSS. --big also runs a multi-GB input (the corpus repeated) and
# checks that peak RSS stays well under 2 GB. Needs build/bin/preprocess (scripts/build.sh),
# python3 (only to write the corpus) and /usr/bin/time; the GPT-2 files come from
# $MEGATRON_TEST_DATA (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

big=0
size_mb=100
while [ $# -gt 0 ]; do
  case "$1" in
    --big) big=1 ;;
    --size-mb) size_mb=$2; shift ;;
    *) echo "usage: $0 [--big] [--size-mb N]" >&2; exit 2 ;;
  esac
  shift
done

bin=${BUILD_DIR:-build}/bin/preprocess
data=${MEGATRON_TEST_DATA:-../shared/data}
work=${BENCH_DIR:-${BUILD_DIR:-build}/bench-preprocess}
[ -x "$bin" ] || { echo "error: $bin not found; run scripts/build.sh first" >&2; exit 1; }
[ -f "$data/tokenizers/gpt2/vocab.json" ] ||
  { echo "error: $data/tokenizers/gpt2/vocab.json not found; set MEGATRON_TEST_DATA" >&2; exit 1; }
mkdir -p "$work"

corpus=$work/corpus-${size_mb}mb.jsonl
if [ ! -f "$corpus" ]; then
  echo "writing $corpus (${size_mb} MB of Python sources and /usr/share/doc texts)..." >&2
  python3 - "$corpus" "$size_mb" <<'PY'
import glob, gzip, json, os, sys
out_path, size_mb = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob('/usr/lib/python3*/**/*.py', recursive=True))
files += sorted(glob.glob('/usr/share/doc/**/*', recursive=True))
texts = []
for path in files:
    if not os.path.isfile(path) or os.path.islink(path):
        continue
    try:
        raw = gzip.open(path).read() if path.endswith('.gz') else open(path, 'rb').read()
        texts.append(raw.decode('utf-8'))
    except (OSError, UnicodeDecodeError, EOFError):
        continue
if not texts:
    sys.exit('no text found under /usr/lib/python3* or /usr/share/doc')
target, written = size_mb << 20, 0
with open(out_path + '.tmp', 'w', encoding='utf-8') as out:
    while written < target:  # repeat the corpus when the machine has less text than asked
        for text in texts:
            line = json.dumps({'text': text}) + '\n'
            out.write(line)
            written += len(line.encode('utf-8'))
            if written >= target:
                break
os.replace(out_path + '.tmp', out_path)
PY
fi

# run <input> <workers>: prints wall-clock MB/s, MB/s per worker, MB per CPU-second (user + sys,
# which stays meaningful on a busy machine) and peak RSS.
run() {
  local input=$1 workers=$2 log=$work/time.log
  /usr/bin/time -v "$bin" --input "$input" --output-prefix "$work/out" \
    --tokenizer-type GPT2BPETokenizer --vocab-file "$data/tokenizers/gpt2/vocab.json" \
    --merge-file "$data/tokenizers/gpt2/merges.txt" --append-eod --workers "$workers" \
    --log-interval 1000000000 2>"$log" >/dev/null || { cat "$log" >&2; exit 1; }
  local bytes rss wall cpu
  bytes=$(stat -c %s "$input")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" |
         awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  awk -v b="$bytes" -v w="$workers" -v r="$rss" -v t="$wall" -v c="$cpu" 'BEGIN {
    mb = b / 1048576
    printf "%d workers: %.1f MB in %.2f s: %.2f MB/s, %.2f MB/s per worker, %.2f MB per CPU-second, peak RSS %.1f MB\n",
           w, mb, t, mb / t, mb / t / w, mb / c, r / 1024 }'
  rm -f "$work"/out_text_document.*
}

echo "preprocess GPT-2, $(nproc) cores on this machine ($(uptime | sed 's/.*load/load/'))"
for workers in 1 2; do run "$corpus" "$workers"; done

if [ "$big" = 1 ]; then
  bigfile=$work/big.jsonl
  echo "writing $bigfile (the corpus repeated to ~3 GB)..." >&2
  : > "$bigfile"
  for _ in $(seq $(( (3072 + size_mb - 1) / size_mb ))); do cat "$corpus" >> "$bigfile"; done
  line=$(run "$bigfile" 2)
  echo "$line"
  rm -f "$bigfile"
  rss_mb=$(echo "$line" | sed 's/.*peak RSS *\([0-9.]*\) MB.*/\1/')
  awk -v r="$rss_mb" 'BEGIN { exit !(r < 1024) }' ||
    { echo "FAIL: peak RSS ${rss_mb} MB on the multi-GB input (limit 1024 MB)" >&2; exit 1; }
  echo "ok: peak RSS ${rss_mb} MB on a multi-GB input"
fi
