#!/usr/bin/env python3
"""Measure a T5 encoder layer and decoder layer (NeMo / Megatron-Core) in PyTorch and compare with
megaplan.

Builds the tensor-parallel shard of each layer as NeMo's T5 runs it on one GPU of a t-way group,
without the collectives (they need t GPUs). Multi-head attention (g = a), a/t heads of d_h, the
fused QKV laid out as [s, b, a/t, 3·d_h] and split into views:

* encoder layer: LayerNorm (with bias) → QKV (with bias) → bidirectional attention core →
  projection (row-parallel, its bias added in the bias-dropout-add) → bias-dropout-add →
  LayerNorm → fc1 to 2f/t (GeGLU, its bias left to the activation) → fused bias-GeGLU → fc2 →
  bias-dropout-add;
* decoder layer: the same with causal self-attention over s_dec tokens, and after the
  self-attention's bias-dropout-add the cross-attention block of Megatron-Core's
  `TransformerLayer` (NeMo's `inter_attention`): LayerNorm → query projection of the decoder's
  tokens (h → a·d_h/t) → key/value projection of the encoder's output (s_enc tokens,
  h → 2·a·d_h/t, split into K and V views) → core over s_dec queries × s_enc keys, no mask →
  projection → bias-dropout-add; then the MLP.

The encoder's output is an input of every decoder layer: its storage is not counted as a layer's
(megaplan counts it once per stage, `encoder_output`); `--list` shows where it is saved.

Attention core:
* `explicit`: Megatron's unfused core — baddbmm QKᵀ/√d_h into an empty buffer, the causal mask in
  place (decoder self-attention only; padding-free, so the encoder and the cross-attention have
  no mask), softmax in 16 bits standing for the fused scale-mask-softmax kernel that saves its
  16-bit output (with --softmax-fp32 the unfused path: .float(), softmax, cast back), attention
  dropout, bmm with V; the context made contiguous for the projection;
* `sdpa`: torch.nn.functional.scaled_dot_product_attention (is_causal only for the decoder's
  self-attention), standing for the fused kernel; Q, K, V made contiguous first, the kernel's
  output handed to the projection without a copy, as Transformer Engine's cuDNN backend
  (`FusedAttention`, preferred on Hopper and later) does; with --output-copy as its
  FlashAttention backend (preferred before Hopper) does: Q, K, V copied to [b, s, ...], the
  kernel's [b, s, ...] output, which flash-attn keeps, copied to [s, b, ...] for the projection.

For each recompute mode (none / selective / full) it measures the bytes autograd saves per layer
with saved-tensor hooks (parameters and the encoder's output excluded, each storage counted once
and whole, also when only a view of it is saved) over several layer counts, so the per-layer
slope is separated from what a stack saves once (the causal mask). Selective recompute
checkpoints the self-attention core and the cross-attention core on their Q, K, V; full
recompute checkpoints each layer on its input (and, for a decoder layer, the encoder's output).
Both use reentrant checkpointing, which saves the checkpoint's inputs with save_for_backward as
Megatron's `tensor_parallel.checkpoint` does. Dropout calls torch.native_dropout, the kernel
F.dropout runs on CUDA (1-byte mask). LayerNorm is `fused` (a custom autograd function saving
what Apex's FusedLayerNorm and Transformer Engine's LayerNorm save: the input and the per-row
fp32 mean and 1/σ) or `torch` (F.layer_norm).

With --megaplan PATH it runs `megaplan estimate --format json` on a NeMo T5 YAML of the same
shapes (model.encoder / model.decoder blocks; `mcore_t5` and `transformer_engine` for `sdpa`, the
2022 launcher's unfused files otherwise) and prints measured and predicted bytes per layer side by
side, and per op group. --list prints every saved tensor of one middle layer and megaplan's
per-tensor breakdown.

Usage (from the repository root):
  python3 validation/pytorch/measure_t5_layer.py --tensor 2 --attention explicit --dropout 0.1 \\
      --megaplan .build/release/megaplan --list
"""
import argparse
import contextlib
import json
import math
import os
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
# LayerNorm, dropout, GeGLU.


class FusedLayerNormFunction(torch.autograd.Function):
    """What Apex's FusedLayerNormAffineFunction and Transformer Engine's LayerNorm keep: the input
    and the per-row fp32 mean and 1/σ (8 bytes a token) beside the weight and bias."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        xf = x.float()
        mean = xf.mean(-1, keepdim=True)
        rstd = torch.rsqrt((xf - mean).pow(2).mean(-1, keepdim=True) + eps)
        y = ((xf - mean) * rstd * weight.float() + bias.float()).to(x.dtype)
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        xf, g = x.float(), grad.float()
        n = (xf - mean) * rstd
        gw = (g * n).reshape(-1, x.shape[-1]).sum(0)
        gb = g.reshape(-1, x.shape[-1]).sum(0)
        gn = g * weight.float()
        gx = rstd * (gn - gn.mean(-1, keepdim=True) - n * (gn * n).mean(-1, keepdim=True))
        return gx.to(x.dtype), gw.to(weight.dtype), gb.to(bias.dtype), None


def layer_norm(x, weight, bias, kind, eps=1e-5):
    if kind == "torch":
        return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)
    return FusedLayerNormFunction.apply(x, weight, bias, eps)


def dropout(x, p):
    """Dropout as CUDA runs F.dropout (native_dropout, 1-byte bool mask)."""
    if p <= 0:
        return x
    return torch.native_dropout(x, p, True)[0]


def _geglu(y):
    # Megatron-Core `bias_geglu` / NeMo `fused_bias_geglu`: the tanh GeLU of the first half
    # times the second half.
    y1, y2 = torch.chunk(y, 2, -1)
    return (y1 * 0.5 * (1.0 + torch.tanh(0.79788456 * y1 * (1 + 0.044715 * y1 * y1)))) * y2


class BiasGeGLUFunction(torch.autograd.Function):
    """Megatron-Core `BiasGeGLUFunction` (`bias_activation_fusion`): keeps fc1's output (2f/t
    wide, before its bias) and the bias; the backward recomputes the rest."""

    @staticmethod
    def forward(ctx, x, bias):
        ctx.save_for_backward(x, bias)
        return _geglu(x + bias)

    @staticmethod
    def backward(ctx, grad):
        x, bias = ctx.saved_tensors
        with torch.enable_grad():
            y = (x + bias).detach().requires_grad_(True)
            (gy,) = torch.autograd.grad(_geglu(y), y, grad)
        return gy, gy.reshape(-1, gy.shape[-1]).sum(0)


# ---------------------------------------------------------------------------------------------
# Attention cores (a/t heads of d_h; q [sq, b, np, dh], k and v [sk, b, np, dh]).


def explicit_core(q, k, v, causal, args):
    """Megatron's unfused `DotProductAttention` / NeMo's `CoreAttention.torch_attention`."""
    sq, b, np_, dh = q.shape
    sk = k.shape[0]
    q2 = q.reshape(sq, b * np_, dh)
    k2 = k.reshape(sk, b * np_, dh)
    buf = torch.empty((b * np_, sq, sk), dtype=q.dtype, device=q.device)
    scores = torch.baddbmm(buf, q2.transpose(0, 1), k2.transpose(0, 1).transpose(1, 2),
                           beta=0.0, alpha=1.0 / math.sqrt(dh)).view(b, np_, sq, sk)
    upcast = args.softmax_fp32 and scores.dtype != torch.float32
    x = scores.float() if upcast else scores
    if causal:
        mask = _causal_mask(sq, q.device)
        x = x.masked_fill_(mask, -10000.0)  # attention_mask_func, in place
    probs = torch.softmax(x, dim=-1)
    if upcast:
        probs = probs.to(scores.dtype)
    probs = dropout(probs, args.dropout)
    ctx = torch.bmm(probs.view(b * np_, sq, sk), v.reshape(sk, b * np_, dh).transpose(0, 1))
    ctx = ctx.view(b, np_, sq, dh).permute(2, 0, 1, 3).contiguous()
    return ctx.view(sq, b, np_ * dh)


def sdpa_core(q, k, v, causal, args):
    """The fused kernel (stand-in: PyTorch SDPA). Returns [sq, b, a·d_h/t], or [b, sq, a·d_h/t]
    when that is the kernel's own layout (then `_BATCH_FIRST` says so), sharing the kernel's
    output storage as the projection's input does in Megatron-Core."""
    sq, b, np_, dh = q.shape
    if args.output_copy:
        # Transformer Engine's FlashAttention backend on [s, b, ...] inputs: Q, K, V transposed to
        # [b, s, ...] copies; the kernel's [b, s, ...] output (which flash-attn keeps) viewed as
        # [b, s, a·d_h/t], transposed to [s, b, ...] and made contiguous: a second output-sized
        # tensor, the projection's input (TE `FlashAttention.forward`: `output.view(batch_size,
        # max_seqlen_q, -1).transpose(0, 1)`, `return output.contiguous()`).
        qb, kb, vb = [x.transpose(0, 1).contiguous().transpose(1, 2) for x in (q, k, v)]
        o = F.scaled_dot_product_attention(qb, kb, vb, dropout_p=args.dropout, is_causal=causal)
        _BATCH_FIRST[0] = False
        return o.transpose(1, 2).reshape(b, sq, np_ * dh).transpose(0, 1).contiguous()
    q, k, v = [x.contiguous() for x in (q, k, v)]  # Transformer Engine does this too
    qb, kb, vb = [x.permute(1, 2, 0, 3) for x in (q, k, v)]  # [b, heads, s, d_h] views
    o = F.scaled_dot_product_attention(qb, kb, vb, dropout_p=args.dropout, is_causal=causal)
    if o.transpose(1, 2).is_contiguous() and not o.permute(2, 0, 1, 3).is_contiguous():
        _BATCH_FIRST[0] = True
        return o.transpose(1, 2).reshape(b, sq, np_ * dh)
    _BATCH_FIRST[0] = False
    return o.permute(2, 0, 1, 3).reshape(sq, b, np_ * dh)


_BATCH_FIRST = [False]
_MASKS = {}


def _causal_mask(s, device):
    # One mask for the stack (Megatron builds the attention mask once per microbatch).
    key = (s, str(device))
    if key not in _MASKS:
        _MASKS[key] = torch.ones(s, s, dtype=torch.bool, device=device).triu(1)[None, None]
    return _MASKS[key]


# ---------------------------------------------------------------------------------------------
# The layers.


class T5ShardLayer(torch.nn.Module):
    """One tensor-parallel shard of a T5 encoder layer or (with `decoder`) decoder layer."""

    def __init__(self, args, decoder, device, dtype):
        super().__init__()
        h, a, dh, f, t = args.hidden, args.heads, args.kv_channels, args.ffn, args.tensor
        assert a % t == 0 and f % t == 0, "shapes do not shard"
        self.np, self.dh, self.decoder, self.args = a // t, dh, decoder, args
        q = a * dh // t  # query width on this rank
        kw = dict(device=device, dtype=dtype)

        def norm():
            return (torch.nn.Parameter(torch.ones(h, **kw)), torch.nn.Parameter(torch.zeros(h, **kw)))

        def linear(n_in, n_out):
            lin = torch.nn.Linear(n_in, n_out, bias=True, **kw)
            torch.nn.init.normal_(lin.weight, std=0.02)
            torch.nn.init.zeros_(lin.bias)
            return lin

        self.norm1_w, self.norm1_b = norm()
        self.qkv = linear(h, 3 * q)  # column-parallel, bias inside
        self.proj = linear(q, h)  # row-parallel, bias added in the bias-dropout-add
        if decoder:
            self.norm_x_w, self.norm_x_b = norm()
            self.cross_q = linear(h, q)  # column-parallel
            self.cross_kv = linear(h, 2 * q)  # column-parallel, over the encoder's output
            self.cross_proj = linear(q, h)  # row-parallel
        self.norm2_w, self.norm2_b = norm()
        self.fc1 = linear(h, 2 * f // t)  # column-parallel [gate | up], bias left to the GeGLU
        self.fc2 = linear(f // t, h)  # row-parallel

    def core(self, q, k, v, causal, selective):
        fn = sdpa_core if self.args.attention == "sdpa" else explicit_core
        if selective:
            # Megatron-Core `_checkpointed_attention_forward` (NeMo's too):
            # tensor_parallel.checkpoint of the core with query, key and value as inputs.
            return torch.utils.checkpoint.checkpoint(
                lambda q_, k_, v_: fn(q_, k_, v_, causal, self.args), q, k, v, use_reentrant=True)
        return fn(q, k, v, causal, self.args)

    def bias_dropout_add(self, out, bias, residual, batch_first):
        if batch_first:
            out = out.transpose(0, 1)  # [b, s, h] -> [s, b, h]
        return residual + dropout(out + bias, self.args.dropout)

    def forward(self, x, enc=None, selective=False):
        # x: [s, b, h] (Megatron's layout); enc: the encoder's output [s_enc, b, h].
        s, b, _ = x.shape
        args = self.args
        with op("input_norm"):
            y = layer_norm(x, self.norm1_w, self.norm1_b, args.norm)
        with op("qkv"):
            mixed = self.qkv(y).view(s, b, self.np, 3 * self.dh)
        q, k, v = torch.split(mixed, [self.dh, self.dh, self.dh], dim=3)
        with op("attention_core"):
            ctx = self.core(q, k, v, causal=self.decoder, selective=selective)
        batch_first = _BATCH_FIRST[0] and args.attention == "sdpa"
        with op("projection"):
            out = F.linear(ctx, self.proj.weight)
        with op("attention_residual"):
            x = self.bias_dropout_add(out, self.proj.bias, x, batch_first)
        if self.decoder:
            sk = enc.shape[0]
            with op("cross_norm"):
                y = layer_norm(x, self.norm_x_w, self.norm_x_b, args.norm)
            with op("cross_query"):
                qc = self.cross_q(y).view(s, b, self.np, self.dh)
            with op("cross_key_value"):
                kv = self.cross_kv(enc).view(sk, b, self.np, 2 * self.dh)
            kc, vc = torch.split(kv, [self.dh, self.dh], dim=3)
            with op("cross_attention_core"):
                ctx = self.core(qc, kc, vc, causal=False, selective=selective)
            batch_first = _BATCH_FIRST[0] and args.attention == "sdpa"
            with op("cross_projection"):
                out = F.linear(ctx, self.cross_proj.weight)
            with op("cross_residual"):
                x = self.bias_dropout_add(out, self.cross_proj.bias, x, batch_first)
        with op("pre_mlp_norm"):
            y = layer_norm(x, self.norm2_w, self.norm2_b, args.norm)
        with op("fc1"):
            u = F.linear(y, self.fc1.weight)  # skip_bias_add
        with op("activation"):
            if args.unfused_activation:
                # bias_activation_fusion: false — bias add, then gelu(gate) * up.
                g, up = torch.chunk(u + self.fc1.bias, 2, dim=-1)
                z = F.gelu(g, approximate="tanh") * up
            else:
                z = BiasGeGLUFunction.apply(u, self.fc1.bias)
        with op("fc2"):
            o = F.linear(z, self.fc2.weight)
        with op("mlp_residual"):
            x = self.bias_dropout_add(o, self.fc2.bias, x, False)
        return x.contiguous()


def run_layers(layers, x, enc, mode):
    for i, layer in enumerate(layers):
        _CURRENT["layer"] = i
        if mode == "full":
            with op("layer_checkpoint"):
                if enc is None:
                    x = torch.utils.checkpoint.checkpoint(
                        lambda x_, layer=layer: layer(x_), x, use_reentrant=True)
                else:
                    # NeMo / Megatron-Core pass the encoder's output (the context) to the
                    # checkpoint beside the hidden states.
                    x = torch.utils.checkpoint.checkpoint(
                        lambda x_, e_, layer=layer: layer(x_, e_), x, enc, use_reentrant=True)
        else:
            x = layer(x, enc, selective=(mode == "selective"))
    _CURRENT["layer"] = -1
    return x


# ---------------------------------------------------------------------------------------------
# Measurement.


def saved_tensors(layers, x, enc, mode):
    """Every storage autograd keeps for backward (parameters and the encoder's output excluded;
    each storage once), as (layer, op, shape, dtype, storage bytes, tensor bytes) of the first
    tensor that saved it; `new` is false for a storage already counted, `input` marks the
    encoder's output."""
    params = {p.untyped_storage().data_ptr() for l in layers for p in l.parameters()}
    enc_ptr = enc.untyped_storage().data_ptr() if enc is not None else None
    seen, rows = set(), []

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr in params:
            return t
        is_input = ptr == enc_ptr
        new = ptr not in seen and not is_input
        seen.add(ptr)
        rows.append(dict(layer=_CURRENT["layer"], op=_CURRENT["op"], shape=list(t.shape),
                         dtype=str(t.dtype).replace("torch.", ""), storage_bytes=st.nbytes(),
                         tensor_bytes=t.numel() * t.element_size(), new=new, input=is_input))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run_layers(layers, x, enc, mode)
    del out
    return rows


def make_stack(args, kind, n, device, dtype):
    torch.manual_seed(0)
    decoder = kind == "decoder"
    layers = [T5ShardLayer(args, decoder, device, dtype) for _ in range(n)]
    s = args.seq_dec if decoder else args.seq_enc
    x = torch.randn(s, args.micro_batch, args.hidden, device=device, dtype=dtype,
                    requires_grad=True)
    enc = None
    if decoder:
        # The encoder's output: produced (and differentiated) outside the decoder's layers.
        enc = torch.randn(args.seq_enc, args.micro_batch, args.hidden, device=device,
                          dtype=dtype, requires_grad=True)
    return layers, x, enc


def measure_bytes(args, kind, mode, device, dtype):
    totals, rows_of = {}, {}
    for n in args.layers:
        layers, x, enc = make_stack(args, kind, n, device, dtype)
        rows = saved_tensors(layers, x, enc, mode)
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


# ---------------------------------------------------------------------------------------------
# Op groups: what a measured op saved against the megaplan tensors that count the same thing.
# The attention core and its projection are one group because the fused kernel's output is the
# projection's input (one storage, which the hooks see first at the core).

GROUPS = [
    ("norms (input, pre-MLP)", ["input_norm", "pre_mlp_norm"], ["layernorm_inputs"]),
    ("qkv input", ["qkv"], ["qkv_input"]),
    ("self-attention core + projection", ["attention_core", "projection"],
     ["query_key", "value", "softmax_output", "softmax_output_16bit", "softmax_dropout_mask",
      "attention_dropout_output", "softmax_statistics", "projection_input"]),
    ("attention bias-dropout-add", ["attention_residual"], ["attention_dropout_mask"]),
    ("cross norm", ["cross_norm"], ["cross_layernorm_input"]),
    ("cross query input", ["cross_query"], ["cross_query_input"]),
    ("cross key/value projection", ["cross_key_value"], []),
    ("cross-attention core + projection", ["cross_attention_core", "cross_projection"],
     ["cross_query", "cross_key_value", "cross_softmax_output", "cross_softmax_output_16bit",
      "cross_softmax_dropout_mask", "cross_attention_dropout_output", "cross_softmax_statistics",
      "cross_projection_input"]),
    ("cross bias-dropout-add", ["cross_residual"], ["cross_dropout_mask"]),
    ("fc1 input", ["fc1"], ["fc1_input"]),
    ("activation", ["activation"], ["activation_input", "activation_gate_output"]),
    ("fc2 input", ["fc2"], ["fc2_input"]),
    ("mlp bias-dropout-add", ["mlp_residual"], ["mlp_dropout_mask"]),
    ("layer checkpoint (full recompute)", ["layer_checkpoint"], []),
]


def by_group(measured_by_op, megaplan_by_tensor, kind, mode):
    rows = []
    known_ops = {o for _, ops, _ in GROUPS for o in ops}
    known_tensors = {t for _, _, ts in GROUPS for t in ts}
    for name, ops, tensors in GROUPS:
        if kind == "encoder" and name.startswith("cross"):
            continue
        m = sum(measured_by_op.get(o, 0) for o in ops)
        if mode == "full":
            q = None
        elif megaplan_by_tensor is None:
            q = None
        else:
            q = sum(megaplan_by_tensor.get(t, 0) for t in tensors)
        if m == 0 and not q:
            continue
        rows.append(dict(group=name, measured=m, megaplan=q))
    other_ops = {o: v for o, v in measured_by_op.items() if o not in known_ops}
    other_tensors = {t: v for t, v in (megaplan_by_tensor or {}).items() if t not in known_tensors}
    if other_ops or other_tensors:
        rows.append(dict(group="other: " + ", ".join(list(other_ops) + list(other_tensors)),
                         measured=sum(other_ops.values()),
                         megaplan=sum(other_tensors.values()) if mode != "full" else None))
    return rows


# ---------------------------------------------------------------------------------------------
# megaplan.


def megaplan_yaml(args, mode):
    recompute = {"none": "null", "selective": "selective", "full": "full"}[mode]
    precision = "bf16" if args.dtype == "bf16" else "32"
    fused = args.attention == "sdpa"

    def stack():
        return f"""    num_layers: 2
    hidden_size: {args.hidden}
    ffn_hidden_size: {args.ffn}
    num_attention_heads: {args.heads}
    kv_channels: {args.kv_channels}
    hidden_dropout: {args.dropout}
    attention_dropout: {args.dropout}
    position_embedding_type: learned_absolute
    apply_query_key_layer_scaling: true
    bias_activation_fusion: {"false" if args.unfused_activation else "true"}
    masked_softmax_fusion: {"false" if args.softmax_fp32 else "true"}
    bias_dropout_add_fusion: true
    bias: true
    normalization: layernorm
    activation: geglu
    transformer_block_type: pre_ln
    activations_checkpoint_granularity: {recompute}
    activations_checkpoint_method: uniform
    activations_checkpoint_num_layers: 1
"""
    # `sdpa`: the launcher's current files (Megatron-Core T5 with Transformer Engine: fused
    # attention); `explicit`: the 2022 files (NeMo's own T5 layers, unfused attention).
    engine = "  mcore_t5: true\n  transformer_engine: true\n" if fused else ""
    return f"""trainer:
  num_nodes: 1
  devices: {args.tensor}
  precision: {precision}
model:
{engine}  micro_batch_size: {args.micro_batch}
  global_batch_size: {args.micro_batch}
  tensor_model_parallel_size: {args.tensor}
  pipeline_model_parallel_size: 1
  seq_length: {args.seq_enc}
  max_position_embeddings: {max(args.seq_enc, args.seq_dec)}
  encoder:
{stack()}  decoder:
{stack()}  data:
    seq_length: {args.seq_enc}
    seq_length_dec: {args.seq_dec}
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


def megaplan_fields(est, kind):
    if est is None:
        return None, None
    mem = est["memory"]
    total = mem[f"{kind}_activations_per_layer_bytes"]
    tensors = mem.get(f"{kind}_activations_per_layer")  # per tensor (a non-checkpointed layer)
    return total, tensors


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-channels", type=int, default=64, help="d_h")
    ap.add_argument("--ffn", type=int, default=1024, help="f: GeGLU width (fc1 is 2f)")
    ap.add_argument("--seq-enc", type=int, default=256)
    ap.add_argument("--seq-dec", type=int, default=64)
    ap.add_argument("--micro-batch", type=int, default=2)
    ap.add_argument("--tensor", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.1,
                    help="hidden and attention dropout (megaplan: hidden_dropout, attention_dropout)")
    ap.add_argument("--attention", choices=["explicit", "sdpa"], default="explicit")
    ap.add_argument("--softmax-fp32", action="store_true",
                    help="explicit attention: unfused softmax in fp32 (masked_softmax_fusion: false)")
    ap.add_argument("--output-copy", action="store_true",
                    help="sdpa: the kernel's [b, s, ...] output copied to [s, b, ...] for the "
                         "projection, as Transformer Engine's FlashAttention backend does")
    ap.add_argument("--unfused-activation", action="store_true",
                    help="bias add and gelu(gate) * up unfused (bias_activation_fusion: false)")
    ap.add_argument("--norm", choices=["fused", "torch"], default="fused",
                    help="LayerNorm: a custom function saving what Apex/TE keep (default), or F.layer_norm")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--kinds", default="encoder,decoder")
    ap.add_argument("--recompute", default="none,selective,full")
    ap.add_argument("--layers", default="1,2,4", help="layer counts for the per-layer slope")
    ap.add_argument("--gpu", default="h100-sxm", help="megaplan.gpu (irrelevant to bytes)")
    ap.add_argument("--megaplan", default=None, help="path to the megaplan binary")
    ap.add_argument("--list", action="store_true", help="print the saved tensors of one layer")
    ap.add_argument("--json-out", default=None, help="append one row per kind and mode to this JSON list")
    args = ap.parse_args()
    args.layers = sorted({int(n) for n in args.layers.split(",")})
    if len(args.layers) < 2:
        sys.exit("--layers needs at least two counts")
    if args.output_copy and args.attention != "sdpa":
        sys.exit("--output-copy needs --attention sdpa")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device")
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    torch.set_grad_enabled(True)

    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device: {name}  torch {torch.__version__}  h={args.hidden} a={args.heads} "
          f"d_h={args.kv_channels} f={args.ffn} s_enc={args.seq_enc} s_dec={args.seq_dec} "
          f"b={args.micro_batch} t={args.tensor} {args.dtype} attention={args.attention}"
          f"{' softmax-fp32' if args.softmax_fp32 else ''}"
          f"{' unfused-activation' if args.unfused_activation else ''}"
          f"{' output-copy' if args.output_copy else ''} "
          f"dropout={args.dropout} norm={args.norm}")
    print(f"{'layer':<8} {'recompute':<10} {'bytes/layer measured':>21} {'megaplan':>12} {'diff':>8}")
    rows = []
    for mode in args.recompute.split(","):
        est = megaplan_estimate(args, mode) if args.megaplan else None
        for kind in args.kinds.split(","):
            slope, totals, by_op, listing, linear = measure_bytes(args, kind, mode, device, dtype)
            mp, mp_tensors = megaplan_fields(est, kind)
            line = f"{kind:<8} {mode:<10} {slope:>21,.0f}"
            line += f" {mp:>12,.0f} {slope / mp - 1:>+8.2%}" if mp else f" {'-':>12} {'-':>8}"
            if not linear:
                line += "  (not linear in the layer count)"
            print(line)
            groups = by_group(by_op, mp_tensors, kind, mode)
            if args.list:
                print(f"  saved tensors of {kind} layer {max(args.layers) // 2} of "
                      f"{max(args.layers)} (storage bytes; '=' a storage already counted, "
                      f"'i' the encoder's output, not the layer's):")
                for r in listing:
                    mark = "i" if r["input"] else (" " if r["new"] else "=")
                    view = ("" if r["storage_bytes"] == r["tensor_bytes"]
                            else f" (view of {r['storage_bytes']:,})")
                    print(f"   {mark} {r['op']:<21} {str(tuple(r['shape'])):<24} {r['dtype']:<9} "
                          f"{r['tensor_bytes']:>12,}{view}")
                print("  by op: " + ", ".join(f"{k} {v:,}" for k, v in by_op.items()))
                if mp_tensors:
                    print("  megaplan (a non-checkpointed layer): " + ", ".join(
                        f"{k} {v:,.0f}" for k, v in mp_tensors.items()))
                for g in groups:
                    q = "-" if g["megaplan"] is None else f"{g['megaplan']:,.0f}"
                    print(f"    {g['group']:<36} {g['measured']:>12,} {q:>12}")
            rows.append(dict(
                kind=kind, hidden=args.hidden, heads=args.heads, kv_channels=args.kv_channels,
                ffn=args.ffn, seq_enc=args.seq_enc, seq_dec=args.seq_dec,
                micro_batch=args.micro_batch, tensor=args.tensor, dtype=args.dtype,
                attention=args.attention, softmax_fp32=args.softmax_fp32,
                unfused_activation=args.unfused_activation, output_copy=args.output_copy,
                dropout=args.dropout, norm=args.norm,
                recompute=mode, device=name, torch=torch.__version__, layer_counts=args.layers,
                measured_totals={str(k): v for k, v in totals.items()},
                measured_bytes_per_layer=slope, measured_by_op=by_op,
                megaplan_bytes_per_layer=mp, megaplan_by_tensor=mp_tensors,
                relative_difference=(slope / mp - 1) if mp else None,
                by_group=groups))
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
