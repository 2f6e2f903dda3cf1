#!/usr/bin/env bash
# Reader benchmark: generates configs of 10k, 100k and 300k keys in several shapes and prints the
# seconds `megaplan config` takes for each (read, resolve, validate, suggest; release build).
# Usage: Scripts/bench-reader.sh [SIZES...]   (default: 10000 100000 300000)
# Set MEGAPLAN=path/to/megaplan to time another build; otherwise builds -c release first.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000 300000)
if [ -z "${MEGAPLAN:-}" ]; then
  swift build -c release --product megaplan >/dev/null
  MEGAPLAN="$(swift build -c release --show-bin-path)/megaplan"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

base='trainer:
  num_nodes: 1
  devices: 8
model:
  num_layers: 24
  hidden_size: 2048
  num_attention_heads: 16
  encoder_seq_length: 2048
  micro_batch_size: 2
  global_batch_size: 64
  tensor_model_parallel_size: 2
  pipeline_model_parallel_size: 2'

# shape N -> a config on stdout
generate() {
  local shape="$1" n="$2"
  case "$shape" in
    flat) # N unknown keys in the model mapping (misspelling checks run over each)
      printf '%s\n' "$base"
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "  unknown_key_%d: %d\n", i, i }'
      printf 'megaplan:\n  vocab_size: 51200\n' ;;
    nested) # N keys in mappings of 100 keys, two levels deep, under a top-level key
      printf '%s\nmegaplan:\n  vocab_size: 51200\nextra:\n' "$base"
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
        if (i % 100 == 0) printf "  group_%d:\n", i / 100
        printf "    key_%d: value %d\n", i, i } }' ;;
    refs) # N top-level keys that each refer to a model key (and the model refers to the last)
      printf '%s\n  ffn_hidden_size: ${ref_%d}\nmegaplan:\n  vocab_size: 51200\n' "$base" $((n - 1))
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "ref_%d: ${model.hidden_size}\n", i }' ;;
    lists) # N items in flow lists of 1,000 items per line
      printf '%s\nmegaplan:\n  vocab_size: 51200\nlists:\n' "$base"
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i += 1000) {
        printf "  list_%d: [", i
        for (j = i; j < i + 1000 && j < n; j++) printf (j > i ? ", %d" : "%d"), j
        printf "]\n" } }' ;;
    warned) # N unknown keys under megaplan: (each one is warned about)
      printf '%s\nmegaplan:\n  vocab_size: 51200\n' "$base"
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "  setting_%d: %d\n", i, i }' ;;
  esac
}

printf '%-8s %8s %10s %9s\n' shape keys bytes seconds
for shape in flat nested refs lists warned; do
  for n in "${sizes[@]}"; do
    file="$work/$shape-$n.yaml"
    generate "$shape" "$n" >"$file"
    bytes=$(wc -c <"$file")
    start=$(date +%s.%N)
    if ! "$MEGAPLAN" config "$file" >/dev/null 2>"$work/err"; then
      echo "megaplan failed on $shape $n: $(head -c 300 "$work/err")" >&2
    fi
    end=$(date +%s.%N)
    printf '%-8s %8d %10d %9.3f\n' "$shape" "$n" "$bytes" "$(echo "$end - $start" | bc -l)"
  done
done
