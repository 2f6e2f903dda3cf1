#!/usr/bin/env python3
"""Measure fused (flash) attention at long sequence on one GPU and compare with megaplan.

Issue 14's GPU check: forward and backward time and the bytes autograd saves of causal attention
at s = 8k ... 64k for one head shape, against megaplan's attention terms
(`time.layer_attention_forward_seconds`, `time.layer_attention_backward_seconds` and the saved
tensors `query_key`, `value`, `softmax_statistics` of `memory.activations_per_layer`).

The attention is torch.nn.functional.scaled_dot_product_attention(is_causal=True, enable_gqa=...)
on [b, heads, s, d_h] bf16 tensors, with the flash or cuDNN backend forced
(torch.nn.attention.sdpa_kernel), the kernel Transformer Engine's fused attention stands for.
The head shape defaults to one tensor-parallel rank of Llama 3 8B at t = 1: 32 query heads,
8 key/value groups, d_h 128.

Saved bytes are counted with saved-tensor hooks (each storage once); times with CUDA events,
median of --repeat runs after --warmup. megaplan is run on a one-layer NeMo-style YAML of the same
shapes (`--megaplan PATH`), so the comparison goes through the same reader as any user's file:
its attention kernel class is `--kernel` (megaplan.attention_kernel: cudnn, flash2 or flash3)
and its GPU `--gpu`.

Usage (from the repository root, on a CUDA machine):
  swift build -c release --product megaplan
  python3 validation/pytorch/measure_attention.py --gpu h100-sxm --kernel cudnn \\
      --megaplan .build/release/megaplan --out attention.json
Without a GPU, --print-config prints the YAML megaplan is given for the first sequence length.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def yaml_for(args, seq):
    """A one-layer Llama-style config whose attention core is exactly the measured one."""
    hidden = args.heads * args.head_dim
    return f"""trainer:
  num_nodes: 1
  devices: 1
  precision: bf16
model:
  mcore_gpt: true
  transformer_engine: true
  num_layers: 1
  hidden_size: {hidden}
  num_attention_heads: {args.heads}
  num_query_groups: {args.groups}
  kv_channels: {args.head_dim}
  ffn_hidden_size: {4 * hidden}
  encoder_seq_length: {seq}
  max_position_embeddings: {seq}
  normalization: rmsnorm
  activation: swiglu
  bias: false
  position_embedding_type: rope
  hidden_dropout: 0.0
  attention_dropout: 0.0
  share_embeddings_and_output_weights: false
  micro_batch_size: {args.micro_batch}
  global_batch_size: {args.micro_batch}
  tensor_model_parallel_size: 1
megaplan:
  gpu: {args.gpu}
  vocab_size: 1024
  attention_kernel: {args.kernel}
"""


def predict(args, seq):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml_for(args, seq))
        path = f.name
    try:
        out = subprocess.run(
            [args.megaplan, "estimate", path, "--format", "json"],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    e = json.loads(out)
    per_layer = e["memory"]["activations_per_layer"]
    saved = sum(per_layer.get(k, 0) for k in ("query_key", "value", "softmax_statistics"))
    return {
        "forward_seconds": e["time"]["layer_attention_forward_seconds"],
        "backward_seconds": e["time"]["layer_attention_backward_seconds"],
        # Q, K, V and the log-sum-exp; the output is counted as the projection's input.
        "saved_bytes_without_output": saved,
    }


def measure(args, seq):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[
        args.backend]
    b, a, g, d = args.micro_batch, args.heads, args.groups, args.head_dim
    dev = torch.device("cuda")

    def tensors():
        q = torch.randn(b, a, seq, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
        k = torch.randn(b, g, seq, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
        v = torch.randn(b, g, seq, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
        return q, k, v

    def run(q, k, v):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=g != a)

    # Saved bytes: each storage once, the inputs included (the kernel saves q, k, v and out).
    seen, total = set(), [0]

    def pack(t):
        s = t.untyped_storage()
        key = (s.data_ptr(), s.nbytes())
        if key not in seen:
            seen.add(key)
            total[0] += s.nbytes()
        return t

    q, k, v = tensors()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run(q, k, v)
    out_bytes = out.numel() * out.element_size()
    saved_without_output = total[0] - (out_bytes if any(
        key[0] == out.untyped_storage().data_ptr() for key in seen) else 0)
    del out

    def timed(fn):
        times = []
        for i in range(args.warmup + args.repeat):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            if i >= args.warmup:
                times.append(start.elapsed_time(end) / 1e3)
        return statistics.median(times)

    q, k, v = tensors()
    grad = torch.randn(b, a, seq, d, device=dev, dtype=torch.bfloat16)
    forward = timed(lambda: run(q, k, v))

    def both():
        o = run(q, k, v)
        o.backward(grad)

    forward_backward = timed(both)
    flops_fwd = 4 * b * a * seq * seq * d / 2  # the causal half of QKᵀ and PV
    return {
        "forward_seconds": forward,
        "backward_seconds": forward_backward - forward,
        "saved_bytes_without_output": saved_without_output,
        "forward_tflops_executed": flops_fwd / forward / 1e12,
        "backward_tflops_executed": 2.5 * flops_fwd / (forward_backward - forward) / 1e12,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq", type=int, nargs="+", default=[8192, 16384, 32768, 65536])
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--groups", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--backend", choices=["flash", "cudnn"], default="cudnn")
    p.add_argument("--kernel", choices=["cudnn", "flash2", "flash3"], default="cudnn",
                   help="megaplan.attention_kernel for the prediction")
    p.add_argument("--gpu", default="h100-sxm", help="megaplan's GPU profile")
    p.add_argument("--megaplan", help="path to the megaplan binary (predictions beside)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--out", help="write the rows as JSON here")
    p.add_argument("--print-config", action="store_true",
                   help="print megaplan's YAML for the first sequence length and exit")
    args = p.parse_args()
    if args.print_config:
        sys.stdout.write(yaml_for(args, args.seq[0]))
        return
    rows = []
    for seq in args.seq:
        row = {"seq": seq, "heads": args.heads, "groups": args.groups,
               "head_dim": args.head_dim, "micro_batch": args.micro_batch,
               "backend": args.backend, "measured": measure(args, seq)}
        if args.megaplan:
            row["megaplan"] = predict(args, seq)
            m, pr = row["measured"], row["megaplan"]
            row["error"] = {k: pr[k] / m[k] - 1 for k in
                            ("forward_seconds", "backward_seconds", "saved_bytes_without_output")}
        rows.append(row)
        print(json.dumps(row))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
