#!/usr/bin/env python3
"""Measure one Megatron-style GPT layer in plain PyTorch and compare with megaplan.

Builds the tensor-parallel shard of one transformer layer as Megatron-LM runs it on one GPU of a
t-way tensor-parallel group (pre-LayerNorm, fused QKV, explicit attention with scaled-masked
softmax and dropout, GeLU MLP, bias-dropout-add), without the collectives (they need t GPUs).
For recompute none / selective / full it measures:

* the bytes autograd saves per layer, with saved-tensor hooks (parameters excluded, each storage
  counted once), over several layer counts so the per-layer slope is separated from the ends;
* forward and backward times per layer (CUDA events, after warm-up, median of repeats).

Then it runs `megaplan estimate --format json` for the same shapes and prints both side by side.
megaplan's per-layer bytes are K22 Table 2 for a single GPU with the layer's shard shapes: t GPUs'
worth of sharded tensors, the replicated ones whole (no sequence parallelism: that needs t GPUs).

Usage (on a GPU machine, from the repository root):
  python3 validation/pytorch/measure_layer.py --hidden 6144 --heads 64 --seq 2048 --micro-batch 4 \
      --tensor 8 --megaplan .build/release/megaplan
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F


class ShardLayer(torch.nn.Module):
    """One tensor-parallel shard of a Megatron GPT layer (a/t heads, f/t MLP columns)."""

    def __init__(self, h, heads, f, t, dropout=0.1, dtype=torch.bfloat16):
        super().__init__()
        assert heads % t == 0 and f % t == 0
        self.h, self.heads, self.t = h, heads // t, t
        self.dh = h // heads
        kw = dict(device="cuda", dtype=dtype)
        self.ln1 = torch.nn.LayerNorm(h, **kw)
        self.qkv = torch.nn.Linear(h, 3 * h // t, **kw)           # column-parallel
        self.proj = torch.nn.Linear(h // t, h, bias=False, **kw)  # row-parallel (bias after reduce)
        self.proj_bias = torch.nn.Parameter(torch.zeros(h, **kw))
        self.ln2 = torch.nn.LayerNorm(h, **kw)
        self.fc1 = torch.nn.Linear(h, f // t, **kw)               # column-parallel
        self.fc2 = torch.nn.Linear(f // t, h, bias=False, **kw)   # row-parallel
        self.fc2_bias = torch.nn.Parameter(torch.zeros(h, **kw))
        self.p = dropout

    def attention_core(self, q, k, v):
        # q, k, v: [b, heads/t, s, dh]; explicit scores, scaled-masked softmax, dropout, AV.
        s = q.shape[2]
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
        mask = torch.ones(s, s, device=q.device, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        probs = F.dropout(torch.softmax(scores, dim=-1), self.p, self.training)
        return torch.matmul(probs, v)

    def forward(self, x, selective=False):
        # x: [s, b, h] (Megatron's layout)
        s, b, h = x.shape
        y = self.ln1(x)
        qkv = self.qkv(y).view(s, b, self.heads, 3 * self.dh)
        q, k, v = [t.permute(1, 2, 0, 3) for t in qkv.split(self.dh, dim=-1)]
        if selective:
            ctx = torch.utils.checkpoint.checkpoint(self.attention_core, q, k, v, use_reentrant=False)
        else:
            ctx = self.attention_core(q, k, v)
        ctx = ctx.permute(2, 0, 1, 3).reshape(s, b, h // self.t)
        x = x + F.dropout(self.proj(ctx) + self.proj_bias, self.p, self.training)   # bias-dropout-add
        y = self.ln2(x)
        y = F.gelu(self.fc1(y))
        return x + F.dropout(self.fc2(y) + self.fc2_bias, self.p, self.training)


def run_layers(layers, x, mode):
    for layer in layers:
        if mode == "full":
            x = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)
        else:
            x = layer(x, selective=(mode == "selective"))
    return x


def saved_bytes(layers, x, mode):
    """Bytes autograd keeps for backward (parameters excluded; each storage counted once)."""
    params = {p.untyped_storage().data_ptr() for l in layers for p in l.parameters()}
    seen, total = set(), [0]

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            total[0] += st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run_layers(layers, x, mode)
    del out
    return total[0]


def timed(fn, repeats=10):
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def measure(args, mode):
    torch.manual_seed(0)
    f = args.ffn or 4 * args.hidden
    per_layer = {}
    counts = [1, 2, 4]
    for n in counts:
        layers = [ShardLayer(args.hidden, args.heads, f, args.tensor) for _ in range(n)]
        x = torch.randn(args.seq, args.micro_batch, args.hidden, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        per_layer[n] = saved_bytes(layers, x, mode)
    slope = (per_layer[4] - per_layer[1]) / 3  # bytes per additional layer
    layer = ShardLayer(args.hidden, args.heads, f, args.tensor)
    x = torch.randn(args.seq, args.micro_batch, args.hidden, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    for _ in range(3):  # warm-up
        run_layers([layer], x, mode).sum().backward()
    fwd = timed(lambda: run_layers([layer], x, mode))
    both = timed(lambda: run_layers([layer], x, mode).sum().backward())
    return slope, fwd, both - fwd


def megaplan_layer(args, mode):
    f = args.ffn or 4 * args.hidden
    recompute = {"none": "null", "selective": "selective", "full": "full"}[mode]
    text = f"""trainer:
  num_nodes: 1
  devices: {args.tensor}
model:
  num_layers: 4
  hidden_size: {args.hidden}
  num_attention_heads: {args.heads}
  ffn_hidden_size: {f}
  encoder_seq_length: {args.seq}
  micro_batch_size: {args.micro_batch}
  global_batch_size: {args.micro_batch}
  tensor_model_parallel_size: {args.tensor}
  activations_checkpoint_granularity: {recompute}
megaplan:
  vocab_size: 51200
  gpu: {args.gpu}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
        path = fh.name
    try:
        out = subprocess.run([args.megaplan, "estimate", path, "--format", "json"], check=True, capture_output=True, text=True)
    finally:
        os.unlink(path)
    e = json.loads(out.stdout)
    return e["memory"]["activations_per_layer_bytes"], e["time"]["layer_forward_seconds"] * 1e3, \
        (e["time"]["layer_backward_seconds"] + e["time"]["layer_recompute_seconds"]) * 1e3, \
        e["time"]["layer_forward_seconds"], e


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=6144)
    ap.add_argument("--heads", type=int, default=64)
    ap.add_argument("--ffn", type=int, default=None)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--tensor", type=int, default=8)
    ap.add_argument("--gpu", default="h100-sxm")
    ap.add_argument("--megaplan", default=".build/release/megaplan")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this harness measures on a GPU")
    print(f"device: {torch.cuda.get_device_name()}  h={args.hidden} a={args.heads} s={args.seq} b={args.micro_batch} t={args.tensor}")
    print(f"{'recompute':<10} {'bytes/layer measured':>22} {'megaplan':>14} {'diff':>8}   {'fwd ms':>7} {'megaplan':>9}   {'bwd ms':>7} {'megaplan':>9}")
    for mode in ["none", "selective", "full"]:
        measured, fwd, bwd = measure(args, mode)
        mp_bytes, mp_fwd, mp_bwd, _, _ = megaplan_layer(args, mode)
        # megaplan's TP row counts the tensor-parallel collectives' time, which one GPU does not run.
        print(f"{mode:<10} {measured:>22,.0f} {mp_bytes:>14,.0f} {measured / mp_bytes - 1:>+8.2%}   {fwd:>7.2f} {mp_fwd:>9.2f}   {bwd:>7.2f} {mp_bwd:>9.2f}")


if __name__ == "__main__":
    main()
