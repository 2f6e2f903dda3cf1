#!/usr/bin/env python3
"""Measure one Llama-style Megatron-Core layer in plain PyTorch and compare with megaplan.

Builds the tensor-parallel shard of one Llama-style layer as Megatron-Core runs it on one GPU of a
t-way group, without the collectives (they need t GPUs): RMSNorm, fused QKV of width
(a + 2g)·d_h/t laid out as Megatron-Core's [s, b, g/t, (a/g + 2)·d_h] and split into views,
rotary on q and k (Megatron-Core's unfused `apply_rotary_pos_emb`), the attention core, output
projection, residual add (dropout optional), RMSNorm, fc1 to 2f/t, unfused SwiGLU
`silu(gate) * up`, fc2, residual add. Replicated tensors are whole and sharded ones /t: what
megaplan reports without sequence parallelism.

Attention core:
* `explicit`: Megatron-Core `DotProductAttention` — K and V repeat_interleave'd to a/t heads,
  baddbmm QKᵀ/√d_h, in-place causal mask, softmax (in bf16, standing for the fused
  scale-mask-softmax kernel that saves its 16-bit output; with --softmax-fp32 Megatron's unfused
  path: .float(), softmax, cast back), attention dropout, bmm with V;
* `sdpa`: torch.nn.functional.scaled_dot_product_attention(is_causal=True, enable_gqa=True),
  standing for the fused/flash kernel; q, k, v are made contiguous first, as Transformer Engine's
  DotProductAttention does, and the kernel's output is handed to the projection without a copy.

For each recompute mode (none / selective / full) it measures the bytes autograd saves per layer
with saved-tensor hooks (parameters excluded, each storage counted once, whole storage even when
a view is saved) over several layer counts, so the per-layer slope is separated from what the
stack saves once (the causal mask, the rotary table). Recompute uses reentrant checkpointing,
which saves the checkpoint's inputs through save_for_backward as Megatron's
`tensor_parallel.checkpoint` does (the non-reentrant variant keeps them in a closure, invisible to
the hooks). Dropout calls torch.native_dropout, the kernel F.dropout runs on CUDA (1-byte mask);
F.dropout on CPU would save a mask of the activation's dtype.

With --device cuda it also times forward and forward+backward of one layer (CUDA events).
With --megaplan PATH it runs `megaplan estimate --format json` on a NeMo-style YAML of the same
shapes and prints measured and predicted bytes per layer side by side. --list prints every saved
tensor of one middle layer (op, shape, dtype, bytes) and megaplan's per-tensor breakdown.

Usage (from the repository root):
  python3 validation/pytorch/measure_llama_layer.py --hidden 512 --heads 8 --groups 2 --ffn 1376 \
      --seq 256 --micro-batch 2 --tensor 2 --dtype bf16 --attention explicit --softmax-fp32 \
      --megaplan .build/release/megaplan --list
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Which op is running (the saved-tensor hook labels what it sees with it).

_CURRENT = {"layer": -1, "op": "stack"}


@contextlib.contextmanager
def op(name):
    previous = _CURRENT["op"]
    _CURRENT["op"] = name
    try:
        yield
    finally:
        _CURRENT["op"] = previous


# ---------------------------------------------------------------------------------------------
# RMSNorm variants.


def _opmath(x):
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


class FusedRMSNormFunction(torch.autograd.Function):
    """What Apex's / Transformer Engine's fused RMSNorm keeps: the input and the fp32 1/rms per
    row (4 bytes a token)."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        xf = _opmath(x)
        rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        y = (xf * rstd * _opmath(weight)).to(x.dtype)
        ctx.save_for_backward(x, weight, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, rstd = ctx.saved_tensors
        xf, g = _opmath(x), _opmath(grad)
        n = xf * rstd
        gw = (g * n).reshape(-1, x.shape[-1]).sum(0)
        gn = g * _opmath(weight)
        gx = rstd * (gn - n * (gn * n).mean(-1, keepdim=True))
        return gx.to(x.dtype), gw.to(weight.dtype), None


def rms_norm(x, weight, kind, eps=1e-5):
    if kind == "torch":
        # Composite on CPU in torch 2.x: saves the fp32 upcast input, the fp32 normalized input
        # and the per-row 1/rms (see --list).
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    if kind == "manual":
        # Saves the fp32 upcast input (pow and the multiply), the per-row fp32 1/rms and the
        # normalized input in x's dtype (the multiply by the weight).
        xf = x.float()
        rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        return (xf * rstd).to(x.dtype) * weight
    return FusedRMSNormFunction.apply(x, weight, eps)


def dropout(x, p):
    """Dropout as CUDA runs F.dropout (native_dropout, 1-byte bool mask)."""
    if p <= 0:
        return x
    return torch.native_dropout(x, p, True)[0]


# ---------------------------------------------------------------------------------------------
# Rotary embedding: Megatron-Core `apply_rotary_pos_emb_bshd`, unfused.


def rotary_freqs(seq, dh, device, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, dh, 2, dtype=torch.float32, device=device) / dh))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32, device=device), inv)
    return torch.cat((freqs, freqs), dim=-1)[:, None, None, :]  # [s, 1, 1, d_h], fp32


def _rotate_half(x):
    x1, x2 = torch.chunk(x, 2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(t, freqs):
    rot_dim = freqs.shape[-1]
    t, t_pass = t[..., :rot_dim], t[..., rot_dim:]
    cos_ = torch.cos(freqs).to(t.dtype)  # new per call, as in Megatron-Core; no grad
    sin_ = torch.sin(freqs).to(t.dtype)
    t = (t * cos_) + (_rotate_half(t) * sin_)
    return torch.cat((t, t_pass), dim=-1)


# ---------------------------------------------------------------------------------------------
# The layer.


class LlamaShardLayer(torch.nn.Module):
    """One tensor-parallel shard of a Llama-style Megatron-Core layer."""

    def __init__(self, args, device, dtype):
        super().__init__()
        h, a, g, f, t = args.hidden, args.heads, args.groups, args.ffn, args.tensor
        assert h % a == 0 and a % g == 0 and g % t == 0 and f % t == 0, "shapes do not shard"
        self.dh, self.np, self.ng = h // a, a // t, g // t
        self.args = args
        kw = dict(device=device, dtype=dtype)
        self.norm1 = torch.nn.Parameter(torch.ones(h, **kw))
        self.qkv = torch.nn.Linear(h, (a + 2 * g) * self.dh // t, bias=False, **kw)  # column-parallel
        self.proj = torch.nn.Linear(a * self.dh // t, h, bias=False, **kw)  # row-parallel
        self.norm2 = torch.nn.Parameter(torch.ones(h, **kw))
        self.fc1 = torch.nn.Linear(h, 2 * f // t, bias=False, **kw)  # column-parallel, [gate | up]
        self.fc2 = torch.nn.Linear(f // t, h, bias=False, **kw)  # row-parallel
        for lin in (self.qkv, self.proj, self.fc1, self.fc2):
            torch.nn.init.normal_(lin.weight, std=0.02)

    # Megatron-Core DotProductAttention (unfused).
    def explicit_core(self, q, k, v, mask):
        s, b = q.shape[0], q.shape[1]
        np_, dh, args = self.np, self.dh, self.args
        rep = self.np // self.ng
        if rep > 1:
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
        q2 = q.reshape(s, b * np_, dh)
        k2 = k.reshape(s, b * np_, dh)
        buf = torch.empty((b * np_, s, s), dtype=q.dtype, device=q.device)  # Megatron's buffer
        scores = torch.baddbmm(buf, q2.transpose(0, 1), k2.transpose(0, 1).transpose(1, 2),
                               beta=0.0, alpha=1.0 / math.sqrt(dh)).view(b, np_, s, s)
        upcast = args.softmax_fp32 and scores.dtype != torch.float32
        x = scores.float() if upcast else scores
        x = x.masked_fill_(mask, -10000.0)  # attention_mask_func, in place
        probs = torch.softmax(x, dim=-1)
        if upcast:
            probs = probs.to(scores.dtype)
        probs = dropout(probs, args.dropout)
        ctx = torch.bmm(probs.view(b * np_, s, s), v.reshape(s, b * np_, dh).transpose(0, 1))
        ctx = ctx.view(b, np_, s, dh).permute(2, 0, 1, 3).contiguous()
        return ctx.view(s, b, np_ * dh)

    # Fused attention (stand-in: PyTorch SDPA). Returns [s, b, a·d_h/t] (or [b, s, a·d_h/t])
    # sharing the kernel's output storage, as the projection's input does in Megatron-Core.
    def sdpa_core(self, q, k, v, mask):
        s, b = q.shape[0], q.shape[1]
        q, k, v = [x.contiguous() for x in (q, k, v)]  # Transformer Engine does this too
        qb, kb, vb = [x.permute(1, 2, 0, 3) for x in (q, k, v)]  # [b, heads, s, d_h] views
        p = self.args.dropout
        if self.ng != self.np and not _HAS_GQA:
            rep = self.np // self.ng
            kb, vb = kb.repeat_interleave(rep, dim=1), vb.repeat_interleave(rep, dim=1)
        extra = {"enable_gqa": True} if (self.ng != self.np and _HAS_GQA) else {}
        o = F.scaled_dot_product_attention(qb, kb, vb, dropout_p=p, is_causal=True, **extra)
        # Hand the output to the projection without a copy when the kernel's layout allows it
        # (TE and flash-attn return [s, b, a·d_h/t] directly); otherwise --list shows the copy.
        if o.transpose(1, 2).is_contiguous() and not o.permute(2, 0, 1, 3).is_contiguous():
            self._batch_first = True
            return o.transpose(1, 2).reshape(b, s, self.np * self.dh)
        self._batch_first = False
        return o.permute(2, 0, 1, 3).reshape(s, b, self.np * self.dh)

    def forward(self, x, freqs, mask, selective=False):
        # x: [s, b, h] (Megatron's layout)
        s, b, _ = x.shape
        args = self.args
        with op("input_norm"):
            y = rms_norm(x, self.norm1, args.norm)
        with op("qkv"):
            mixed = self.qkv(y)
        per = self.np // self.ng
        mixed = mixed.view(s, b, self.ng, (per + 2) * self.dh)
        q, k, v = torch.split(mixed, [per * self.dh, self.dh, self.dh], dim=3)
        q = q.reshape(s, b, self.np, self.dh)
        with op("rotary"):
            q = apply_rotary_pos_emb(q, freqs)
            k = apply_rotary_pos_emb(k, freqs)
        core = self.sdpa_core if args.attention == "sdpa" else self.explicit_core
        with op("attention_core"):
            if selective:
                # Megatron-Core `_checkpointed_attention_forward`: tensor_parallel.checkpoint of the
                # core with query, key, value (views of mixed_qkv for V) as inputs.
                ctx = torch.utils.checkpoint.checkpoint(
                    lambda q_, k_, v_: core(q_, k_, v_, mask), q, k, v, use_reentrant=True)
            else:
                ctx = core(q, k, v, mask)
        with op("projection"):
            out = self.proj(ctx)
        if getattr(self, "_batch_first", False):
            out = out.transpose(0, 1)  # [b, s, h] -> [s, b, h]
        with op("attention_residual"):
            x = x + dropout(out, args.dropout)
        with op("pre_mlp_norm"):
            y = rms_norm(x, self.norm2, args.norm)
        with op("fc1"):
            u = self.fc1(y)
        with op("activation"):
            gate, up = torch.chunk(u, 2, dim=-1)
            z = F.silu(gate) * up  # unfused SwiGLU (bias_activation_fusion: false)
        with op("fc2"):
            o = self.fc2(z)
        with op("mlp_residual"):
            x = x + dropout(o, args.dropout)
        return x.contiguous()


_HAS_GQA = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")


def run_layers(layers, x, mode):
    s = x.shape[0]
    freqs = rotary_freqs(s, layers[0].dh, x.device)
    mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)[None, None]
    for i, layer in enumerate(layers):
        _CURRENT["layer"] = i
        if mode == "full":
            with op("layer_checkpoint"):
                x = torch.utils.checkpoint.checkpoint(
                    lambda x_, layer=layer: layer(x_, freqs, mask), x, use_reentrant=True)
        else:
            x = layer(x, freqs, mask, selective=(mode == "selective"))
    _CURRENT["layer"] = -1
    return x


# ---------------------------------------------------------------------------------------------
# Measurement.


def saved_tensors(layers, x, mode):
    """Every storage autograd keeps for backward (parameters excluded; each storage once), as
    (layer, op, shape, dtype, storage bytes, tensor bytes) of the first tensor that saved it, and
    the tensors whose storage was already counted."""
    params = {p.untyped_storage().data_ptr() for l in layers for p in l.parameters()}
    seen, rows = set(), []

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr in params:
            return t
        new = ptr not in seen
        seen.add(ptr)
        rows.append(dict(layer=_CURRENT["layer"], op=_CURRENT["op"], shape=list(t.shape),
                         dtype=str(t.dtype).replace("torch.", ""), storage_bytes=st.nbytes(),
                         tensor_bytes=t.numel() * t.element_size(), new=new, ptr=ptr))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run_layers(layers, x, mode)
    del out
    return rows


def make_stack(args, n, device, dtype):
    torch.manual_seed(0)
    layers = [LlamaShardLayer(args, device, dtype) for _ in range(n)]
    x = torch.randn(args.seq, args.micro_batch, args.hidden, device=device, dtype=dtype,
                    requires_grad=True)
    return layers, x


def measure_bytes(args, mode, device, dtype):
    totals, rows_of = {}, {}
    for n in args.layers:
        layers, x = make_stack(args, n, device, dtype)
        rows = saved_tensors(layers, x, mode)
        totals[n] = sum(r["storage_bytes"] for r in rows if r["new"])
        rows_of[n] = rows
    lo, hi = min(args.layers), max(args.layers)
    slope = (totals[hi] - totals[lo]) / (hi - lo)
    # A middle layer of the largest stack, op by op (its storages counted where first saved).
    mid = hi // 2
    by_op = {}
    for r in rows_of[hi]:
        if r["layer"] == mid and r["new"]:
            by_op[r["op"]] = by_op.get(r["op"], 0) + r["storage_bytes"]
    linear = all(abs((totals[n] - totals[lo]) - slope * (n - lo)) <= 1e-6 * max(1, totals[hi])
                 for n in args.layers)
    return slope, totals, by_op, [r for r in rows_of[hi] if r["layer"] == mid], linear


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


def measure_time(args, mode, device, dtype):
    layers, x = make_stack(args, 1, device, dtype)
    for _ in range(3):  # warm-up
        run_layers(layers, x, mode).sum().backward()
    fwd = timed(lambda: run_layers(layers, x, mode))
    both = timed(lambda: run_layers(layers, x, mode).sum().backward())
    return fwd, both - fwd


# ---------------------------------------------------------------------------------------------
# megaplan.


def megaplan_yaml(args, mode):
    recompute = {"none": "null", "selective": "selective", "full": "full"}[mode]
    precision = "bf16" if args.dtype == "bf16" else "32"
    return f"""trainer:
  num_nodes: 1
  devices: {args.tensor}
  precision: {precision}
model:
  num_layers: 4
  hidden_size: {args.hidden}
  num_attention_heads: {args.heads}
  num_query_groups: {args.groups}
  ffn_hidden_size: {args.ffn}
  encoder_seq_length: {args.seq}
  micro_batch_size: {args.micro_batch}
  global_batch_size: {args.micro_batch}
  tensor_model_parallel_size: {args.tensor}
  normalization: rmsnorm
  activation: swiglu
  bias: false
  position_embedding_type: rope
  hidden_dropout: {args.dropout}
  attention_dropout: {args.dropout}
  bias_activation_fusion: false
  masked_softmax_fusion: {"false" if args.softmax_fp32 else "true"}
  use_flash_attention: {"true" if args.attention == "sdpa" else "false"}
  activations_checkpoint_granularity: {recompute}
megaplan:
  vocab_size: 1024
  gpu: {args.gpu}
"""


def megaplan_estimate(args, mode):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(megaplan_yaml(args, mode))
        path = fh.name
    try:
        out = subprocess.run([args.megaplan, "estimate", path, "--format", "json"], check=True,
                             capture_output=True, text=True)
    finally:
        os.unlink(path)
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------------------------


def fill_megaplan(args):
    """Add megaplan's figures to rows measured elsewhere (a GPU machine without megaplan)."""
    with open(args.fill_megaplan) as fh:
        rows = json.load(fh)
    for row in rows:
        shape = argparse.Namespace(
            hidden=row["hidden"], heads=row["heads"], groups=row["groups"], ffn=row["ffn"],
            seq=row["seq"], micro_batch=row["micro_batch"], tensor=row["tensor"],
            dtype=row["dtype"], dropout=row["dropout"], softmax_fp32=row["softmax_fp32"],
            attention=row["attention"], gpu=args.gpu, megaplan=args.megaplan)
        est = megaplan_estimate(shape, row["recompute"])
        row.update(_megaplan_fields(est, row["measured_bytes_per_layer"]))
        line = (f"{row['recompute']:<10} {row['attention']:<9} t={row['tensor']} {row['dtype']:<5} "
                f"p={row['dropout']:<4} {row['measured_bytes_per_layer']:>14,.0f} "
                f"{row['megaplan_bytes_per_layer']:>14,.0f} {row['relative_difference']:>+8.2%}")
        if row.get("forward_ms") is not None:
            line += (f"   fwd {row['forward_ms']:.2f} ms (megaplan {row['megaplan_forward_ms']:.2f})"
                     f"   bwd {row['backward_ms']:.2f} ms (megaplan {row['megaplan_backward_ms']:.2f})")
        print(line)
    with open(args.fill_megaplan, "w") as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")


def _megaplan_fields(est, measured):
    if est is None:
        return dict(megaplan_bytes_per_layer=None, megaplan_by_tensor=None,
                    relative_difference=None, megaplan_forward_ms=None, megaplan_backward_ms=None)
    mp = est["memory"]["activations_per_layer_bytes"]
    tm = est["time"]
    return dict(megaplan_bytes_per_layer=mp,
                megaplan_by_tensor=est["memory"]["activations_per_layer"],
                relative_difference=measured / mp - 1,
                megaplan_forward_ms=tm["layer_forward_seconds"] * 1e3,
                # megaplan's per-layer backward also counts the tensor-parallel collectives.
                megaplan_backward_ms=(tm["layer_backward_seconds"] + tm["layer_recompute_seconds"]) * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--groups", type=int, default=None, help="key/value groups g (default: heads)")
    ap.add_argument("--ffn", type=int, default=1376, help="f: SwiGLU width (fc1 is 2f)")
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--micro-batch", type=int, default=2)
    ap.add_argument("--tensor", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="hidden and attention dropout (megaplan: hidden_dropout, attention_dropout)")
    ap.add_argument("--attention", choices=["explicit", "sdpa"], default="explicit")
    ap.add_argument("--softmax-fp32", action="store_true",
                    help="explicit attention: unfused softmax in fp32 (masked_softmax_fusion: false)")
    ap.add_argument("--norm", choices=["torch", "manual", "fused"], default="torch",
                    help="RMSNorm: F.rms_norm (default; falls back to manual), a manual one, or a "
                         "custom Function that saves what the fused Apex/TE kernel saves")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--recompute", default="none,selective,full")
    ap.add_argument("--layers", default="1,2,4", help="layer counts for the per-layer slope")
    ap.add_argument("--gpu", default="h100-sxm", help="megaplan.gpu (times only)")
    ap.add_argument("--megaplan", default=None, help="path to the megaplan binary")
    ap.add_argument("--list", action="store_true", help="print the saved tensors of one layer")
    ap.add_argument("--json-out", default=None, help="append one row per recompute mode to this JSON list")
    ap.add_argument("--fill-megaplan", default=None, metavar="JSON",
                    help="measure nothing: add megaplan's figures (--megaplan) to the rows of JSON")
    args = ap.parse_args()
    if args.fill_megaplan:
        if not args.megaplan:
            sys.exit("--fill-megaplan needs --megaplan")
        return fill_megaplan(args)
    args.groups = args.groups or args.heads
    args.layers = sorted({int(n) for n in args.layers.split(",")})
    if len(args.layers) < 2:
        sys.exit("--layers needs at least two counts")
    if args.norm == "torch" and not hasattr(F, "rms_norm"):
        args.norm = "manual"
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device")
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    torch.set_grad_enabled(True)

    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device: {name}  torch {torch.__version__}  h={args.hidden} a={args.heads} g={args.groups} "
          f"f={args.ffn} s={args.seq} b={args.micro_batch} t={args.tensor} {args.dtype} "
          f"attention={args.attention}{' softmax-fp32' if args.softmax_fp32 else ''} "
          f"dropout={args.dropout} norm={args.norm}")
    timing = args.device == "cuda"
    head = f"{'recompute':<10} {'bytes/layer measured':>21} {'megaplan':>12} {'diff':>8}"
    if timing:
        head += f"   {'fwd ms':>7} {'megaplan':>9}   {'bwd ms':>7} {'megaplan':>9}"
    print(head)
    rows = []
    for mode in args.recompute.split(","):
        slope, totals, by_op, listing, linear = measure_bytes(args, mode, device, dtype)
        est = megaplan_estimate(args, mode) if args.megaplan else None
        mp = est["memory"]["activations_per_layer_bytes"] if est else None
        line = f"{mode:<10} {slope:>21,.0f}"
        line += f" {mp:>12,.0f} {slope / mp - 1:>+8.2%}" if mp else f" {'-':>12} {'-':>8}"
        if not linear:
            line += "  (not linear in the layer count)"
        fwd = bwd = None
        if timing:
            fwd, bwd = measure_time(args, mode, device, dtype)
            if est:
                mf = est["time"]["layer_forward_seconds"] * 1e3
                mb = (est["time"]["layer_backward_seconds"] + est["time"]["layer_recompute_seconds"]) * 1e3
                line += f"   {fwd:>7.2f} {mf:>9.2f}   {bwd:>7.2f} {mb:>9.2f}"
            else:
                line += f"   {fwd:>7.2f} {'-':>9}   {bwd:>7.2f} {'-':>9}"
        print(line)
        if args.list:
            print(f"  saved tensors of layer {max(args.layers) // 2} of {max(args.layers)} "
                  f"(storage bytes; '=' a storage already counted):")
            for r in listing:
                mark = " " if r["new"] else "="
                view = "" if r["storage_bytes"] == r["tensor_bytes"] else f" (view of {r['storage_bytes']:,})"
                print(f"   {mark} {r['op']:<20} {str(tuple(r['shape'])):<24} {r['dtype']:<9} "
                      f"{r['tensor_bytes']:>12,}{view}")
            print("  by op: " + ", ".join(f"{k} {v:,}" for k, v in by_op.items()))
            if est:
                print("  megaplan: " + ", ".join(
                    f"{k} {v:,.0f}" for k, v in est["memory"]["activations_per_layer"].items()))
        rows.append(dict(
            hidden=args.hidden, heads=args.heads, groups=args.groups, ffn=args.ffn, seq=args.seq,
            micro_batch=args.micro_batch, tensor=args.tensor, dtype=args.dtype,
            attention=args.attention, softmax_fp32=args.softmax_fp32, dropout=args.dropout,
            norm=args.norm, recompute=mode, device=name, torch=torch.__version__,
            layer_counts=args.layers, measured_totals={str(k): v for k, v in totals.items()},
            measured_bytes_per_layer=slope, measured_by_op=by_op,
            forward_ms=fwd, backward_ms=bwd, **_megaplan_fields(est, slope)))
    if args.json_out:
        existing = []
        if os.path.exists(args.json_out):
            with open(args.json_out) as fh:
                existing = json.load(fh)
        with open(args.json_out, "w") as fh:
            json.dump(existing + rows, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
