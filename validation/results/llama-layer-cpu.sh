#!/bin/bash
# Reproduces validation/results/llama-layer-cpu.json (run from the repository root).
set -e
out=validation/results/llama-layer-cpu.json
rm -f "$out"
base="python3 validation/pytorch/measure_llama_layer.py --hidden 512 --heads 8 --ffn 1376 --seq 256 --micro-batch 2 --megaplan .build/release/megaplan --json-out $out"
for norm in fused torch; do
  for dtype in bf16 fp32; do
    for t in 1 2; do
      for att in "explicit" "explicit --softmax-fp32" "sdpa"; do
        for p in 0 0.1; do
          $base --groups 2 --norm $norm --dtype $dtype --tensor $t --attention $att --dropout $p
        done
      done
    done
  done
done
# Multi-head attention (g = a): V is a view of the QKV output in the explicit core.
$base --groups 8 --norm fused --dtype bf16 --tensor 1 --attention explicit
$base --groups 8 --norm fused --dtype bf16 --tensor 1 --attention sdpa
