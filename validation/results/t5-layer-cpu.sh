#!/bin/bash
# Reproduces validation/results/t5-layer-cpu.json (run from the repository root; 3 to 5 minutes
# on 2 cores). Needs PyTorch (pip install torch) and megaplan
# (swift build -c release --product megaplan).
set -e
out=validation/results/t5-layer-cpu.json
rm -f "$out"
base="python3 validation/pytorch/measure_t5_layer.py --hidden 512 --heads 8 --kv-channels 64 --ffn 1024 --seq-enc 256 --seq-dec 64 --micro-batch 2 --megaplan .build/release/megaplan --json-out $out"
for t in 1 2; do
  for att in "explicit" "explicit --softmax-fp32" "sdpa"; do
    for p in 0 0.1; do
      $base --norm fused --dtype bf16 --tensor $t --attention $att --dropout $p
    done
  done
done
# Variants: the unfused GeGLU (bias_activation_fusion: false), fp32, PyTorch's own LayerNorm.
$base --norm fused --dtype bf16 --tensor 1 --attention explicit --dropout 0.1 --unfused-activation
$base --norm fused --dtype bf16 --tensor 2 --attention explicit --dropout 0.1 --unfused-activation
$base --norm fused --dtype fp32 --tensor 1 --attention explicit --dropout 0.1
$base --norm fused --dtype fp32 --tensor 2 --attention sdpa --dropout 0
$base --norm torch --dtype bf16 --tensor 1 --attention explicit --dropout 0.1
# Transformer Engine's FlashAttention backend (picked before Hopper): the kernel's output copied
# to [s, b, ...] for the projection, beside the kernel's own (without dropout: see the CPU fallback).
$base --norm fused --dtype bf16 --tensor 1 --attention sdpa --output-copy --dropout 0
$base --norm fused --dtype bf16 --tensor 2 --attention sdpa --output-copy --dropout 0
