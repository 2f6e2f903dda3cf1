#!/bin/sh
# Whole training steps on CPU: allocated bytes from the harness's dispatch-mode tracker against
# megaplan's memory.peak_allocated_bytes (less the cuBLAS workspaces, which a CPU run has no
# stand-in for). No GPU figure (reserved, device total) is produced on CPU.
# From the repository root, with megaplan built in release:
#   sh validation/results/step-memory-cpu.sh validation/results/step-memory-cpu.json
# SDPA rows run without dropout: on CPU a dropout probability sends
# scaled_dot_product_attention to its math fallback (which saves the s × s probabilities),
# where CUDA runs the flash kernel.
set -e
out=${1:-step-memory-cpu.json}
rm -f "$out"
for model in gpt llama; do
  extra=""; [ $model = llama ] && extra="--groups 4"
  for b in 1 2; do for rc in none selective full; do for att in explicit sdpa; do
    drop=""; [ $att = sdpa ] && drop="--dropout 0"
    python3 validation/pytorch/measure_step_memory.py --device cpu --model $model $extra \
        --hidden 1024 --heads 16 --layers 3 --seq 1024 --micro-batch $b --microbatches 2 \
        --vocab 16384 --steps 2 --recompute $rc --attention $att $drop \
        --megaplan .build/release/megaplan --json-out "$out" | tail -1
  done; done; done
done
# A second shape, chosen after the first set had been compared (h 768, 12 heads, s 2048, two
# layers, V 32,000; the Llama rows with 2 key/value groups):
for spec in "gpt full explicit" "gpt selective explicit" "gpt full sdpa" "llama full explicit" \
    "llama selective explicit"; do
  set -- $spec
  extra=""; [ $1 = llama ] && extra="--groups 2"
  drop=""; [ $3 = sdpa ] && drop="--dropout 0"
  python3 validation/pytorch/measure_step_memory.py --device cpu --model $1 $extra \
      --hidden 768 --heads 12 --layers 2 --seq 2048 --micro-batch 1 --microbatches 2 \
      --vocab 32000 --steps 2 --recompute $2 --attention $3 $drop \
      --megaplan .build/release/megaplan --json-out "$out" | tail -1
done
