#!/usr/bin/env python3
"""Measure the memory of whole training steps on one GPU and compare with megaplan's peak.

Runs full training steps of a small GPT (LayerNorm, GeLU, learned positions, tied embeddings,
biases, dropout) or Llama-style (RMSNorm, SwiGLU, GQA, rotary, untied embeddings, no biases)
decoder on ONE GPU (t = p = 1, no torch.distributed, no collectives), in plain PyTorch with
Megatron-style mixed precision:

* bf16 weights, all views of one flat bf16 buffer;
* one flat fp32 main-gradient buffer; a post-accumulate-grad hook adds each parameter's bf16
  gradient into its fp32 `main_grad` view and frees the bf16 gradient (standing for Megatron's
  `main_grad` with gradient_accumulation_fusion: its wgrad GEMM writes fp32 directly and hands
  autograd a dummy bf16 tensor of the weight's shape, a transient of the same size);
* fp32 master weights and two fp32 Adam moments, flat; the step is torch.optim.AdamW(fused=True)
  over the flat buffers (one fused kernel, no temporaries, as Apex FusedAdam), after Megatron's
  gradient clipping (global norm, in place); then the master weights are cast back into the bf16
  buffer in place;
* gradient accumulation over m microbatches, forward then backward each (Megatron's
  forward_backward_no_pipelining), so one microbatch's activations are in flight;
* the loss as Megatron's unfused `vocab_parallel_cross_entropy` at t = 1: an fp32 copy of the
  logits, max-subtract, exp and normalise in place, the fp32 softmax saved for backward and the
  gradient computed in place in it (cast back to bf16 by autograd); megaplan's YAML says
  `cross_entropy_loss_fusion: false`.

Explicit attention is Megatron-Core's DotProductAttention: baddbmm into a scores buffer taken from
a global memory buffer (Megatron's `get_global_memory_buffer()`: allocated once, kept for the run;
`--scores-buffer fresh` allocates it per call instead), the fused scale-mask-softmax kernel
(emulated: in-place mask, bf16 softmax, only the output saved), attention dropout and bmm with V.
`sdpa` is torch's scaled_dot_product_attention (flash on H100), standing for the fused kernel.
Recompute: `selective` checkpoints the attention core, `full` every layer (uniform, 1 layer),
both with reentrant checkpointing as Megatron's `tensor_parallel.checkpoint`.

Per phase of each step it records torch.cuda.max_memory_allocated and max_memory_reserved (the
peak statistics are reset at each phase boundary, so the step's maximum is the maximum over
phases) and the memory allocated when the phase ends:
  forward_layers[i]   embedding and decoder layers of microbatch i  (megaplan: "forward")
  forward_output[i]   final norm, output layer, cross entropy       ("output layer")
  backward_output[i]  cross entropy, output layer and final norm backward, until the gradient
                      reaches the last layer's output                ("output layer")
  backward_layers[i]  the decoder layers and embedding backward      ("backward")
  optimizer           clipping, AdamW, copy to the bf16 weights
and at the end of the step torch.cuda.mem_get_info's used bytes (total − free, the whole device,
as nvidia-smi shows it) and the CUDA context estimate, used − memory_reserved. The first steps
are warm-up (lazy optimizer state, cuBLAS workspaces); the summary is the last step's. Run one
configuration per process on an otherwise idle GPU (each row then has its own CUDA context).

With --device cpu the allocated bytes come from AllocationTracker (a TorchDispatchMode that
records every op's output storages until they are freed): peaks and allocated-at-end per phase as
above, no reserved or device figures; compared with megaplan's peak_allocated_bytes less its
cuBLAS workspaces (validation/results/step-memory-cpu.sh).

With --fill-megaplan JSON --megaplan PATH (no GPU needed) it runs `megaplan estimate --format
json` on each row's NeMo YAML and adds megaplan's peak figures beside the measured ones.

Usage (from the repository root):
  python3 validation/pytorch/measure_step_memory.py --model gpt --hidden 2048 --heads 16 \
      --layers 8 --seq 2048 --micro-batch 2 --microbatches 4 --recompute none \
      --attention explicit --json-out step-memory.json
  python3 validation/pytorch/measure_step_memory.py --fill-megaplan step-memory.json \
      --megaplan .build/release/megaplan
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

torch = None  # imported in main(), after PYTORCH_CUDA_ALLOC_CONF is set
F = None

MiB = 1 << 20

# ---------------------------------------------------------------------------------------------
# Arguments.


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["gpt", "llama"], default="gpt")
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--groups", type=int, default=None,
                    help="key/value groups (llama; default: heads, i.e. no GQA)")
    ap.add_argument("--ffn", type=int, default=None,
                    help="MLP width f (default: 4h for gpt; 8h/3 rounded up to 256 for llama, "
                         "whose fc1 is 2f wide)")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--microbatches", type=int, default=4, help="m: gradient accumulation steps")
    ap.add_argument("--vocab", type=int, default=51200)
    ap.add_argument("--dropout", type=float, default=None,
                    help="hidden and attention dropout (default 0.1 for gpt, 0 for llama)")
    ap.add_argument("--recompute", choices=["none", "selective", "full"], default="none")
    ap.add_argument("--attention", choices=["explicit", "sdpa"], default="explicit")
    ap.add_argument("--scores-buffer", choices=["global", "fresh"], default="global",
                    help="explicit attention: Megatron-Core's persistent global buffer for QK^T "
                         "(default) or a fresh tensor per call")
    ap.add_argument("--dtype", choices=["bf16"], default="bf16")
    ap.add_argument("--expandable-segments", action="store_true",
                    help="PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (set before torch loads)")
    ap.add_argument("--steps", type=int, default=3, help="training steps; the last is reported")
    ap.add_argument("--clip-grad", type=float, default=1.0)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help="cpu: allocated bytes from a dispatch-mode tracker (AllocationTracker); "
                         "no reserved or device figures")
    ap.add_argument("--gpu", default="h100-sxm", help="megaplan.gpu written into the YAML")
    ap.add_argument("--json-out", default=None, help="append this configuration's row to a JSON list")
    ap.add_argument("--yaml-out", default=None, help="also write the row's megaplan YAML here")
    ap.add_argument("--fill-megaplan", default=None, metavar="JSON",
                    help="measure nothing: add megaplan's figures (--megaplan) to the rows of JSON")
    ap.add_argument("--megaplan", default=None, help="path to the megaplan binary")
    args = ap.parse_args(argv)
    if args.fill_megaplan:
        return args
    args.groups = args.groups or args.heads
    if args.model == "gpt" and args.groups != args.heads:
        ap.error("--groups is for --model llama (the GPT model has multi-head attention)")
    if args.ffn is None:
        args.ffn = 4 * args.hidden if args.model == "gpt" else \
            256 * math.ceil(8 * args.hidden / 3 / 256)
    if args.dropout is None:
        args.dropout = 0.1 if args.model == "gpt" else 0.0
    if args.hidden % args.heads or args.heads % args.groups:
        ap.error("hidden must divide by heads and heads by groups")
    return args


# ---------------------------------------------------------------------------------------------
# megaplan's description of the same run (keys as measure_llama_layer.py writes them).


def megaplan_yaml(row):
    gpt = row["model"] == "gpt"
    recompute = {"none": "null", "selective": "selective", "full": "full"}[row["recompute"]]
    full = ("\n  activations_checkpoint_method: uniform\n  activations_checkpoint_num_layers: 1"
            if row["recompute"] == "full" else "")
    return f"""# {row["model"]} step-memory harness configuration (validation/pytorch/measure_step_memory.py)
trainer:
  num_nodes: 1
  devices: 1
  precision: bf16-mixed
model:
  num_layers: {row["layers"]}
  hidden_size: {row["hidden"]}
  num_attention_heads: {row["heads"]}
  num_query_groups: {row["groups"]}
  ffn_hidden_size: {row["ffn"]}
  encoder_seq_length: {row["seq"]}
  max_position_embeddings: {row["seq"]}
  micro_batch_size: {row["micro_batch"]}
  global_batch_size: {row["micro_batch"] * row["microbatches"]}
  tensor_model_parallel_size: 1
  pipeline_model_parallel_size: 1
  normalization: {"layernorm" if gpt else "rmsnorm"}
  activation: {"gelu" if gpt else "swiglu"}
  bias: {"true" if gpt else "false"}
  position_embedding_type: {"learned_absolute" if gpt else "rope"}
  share_embeddings_and_output_weights: {"true" if gpt else "false"}
  hidden_dropout: {row["dropout"]}
  attention_dropout: {row["dropout"]}
  bias_activation_fusion: false
  masked_softmax_fusion: true
  apply_rope_fusion: false
  use_flash_attention: {"true" if row["attention"] == "sdpa" else "false"}
  cross_entropy_loss_fusion: false
  activations_checkpoint_granularity: {recompute}{full}
  optim:
    name: fused_adam
megaplan:
  vocab_size: {row["vocab"]}
  gpu: {row.get("megaplan_gpu", "h100-sxm")}
  expandable_segments: {"true" if row["expandable_segments"] else "false"}
"""


def megaplan_estimate(megaplan, yaml_text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(yaml_text)
        path = fh.name
    try:
        out = subprocess.run([megaplan, "estimate", path, "--format", "json"], check=True,
                             capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        sys.exit(f"megaplan estimate failed:\n{err.stderr}")
    finally:
        os.unlink(path)
    return json.loads(out.stdout)


def megaplan_fields(est):
    mem = est["memory"]
    stage = mem["stages"][mem.get("most_loaded_stage", 0)]
    return dict(
        megaplan_peak_allocated_bytes=mem["peak_allocated_bytes"],
        megaplan_peak_bytes=mem["peak_bytes"],
        megaplan_total_bytes=mem["total_bytes"],
        megaplan_static_bytes=mem["weights_bytes"] + mem["gradients_bytes"] + mem["optimizer_bytes"],
        megaplan_activations_bytes=mem["activations_bytes"],
        megaplan_peak_moment=mem.get("peak_moment", stage.get("peak_moment")),
        megaplan_peak_terms=stage["peak"],
        megaplan_parameters=stage.get("parameters"),
    )


def _rel(measured, predicted):
    return None if measured is None or not predicted else measured / predicted - 1


def compare(row):
    """Measured against predicted; the issue's targets: allocated 3 %, device 5 %."""
    s = row["summary"]
    terms = row["megaplan_peak_terms"]
    slack_pred = terms.get("allocator_slack", 0)
    # On CPU nothing stands for the cuBLAS workspaces megaplan counts on the GPU (allocated by
    # the CUDA caching allocator on a GPU's first GEMM): they are left out of the comparison.
    cpu = row.get("device") == "cpu"
    cuda_only = terms.get("cublas_workspace", 0) if cpu else 0
    row["megaplan_peak_allocated_compared_bytes"] = row["megaplan_peak_allocated_bytes"] - cuda_only
    row["comparison"] = dict(
        peak_allocated=_rel(s["max_allocated_bytes"], row["megaplan_peak_allocated_compared_bytes"]),
        peak_device=_rel(s["device_used_bytes"], row["megaplan_peak_bytes"]),
        peak_device_from_reserved=_rel(
            None if s["max_reserved_bytes"] is None
            else s["max_reserved_bytes"] + s["cuda_context_bytes"], row["megaplan_peak_bytes"]),
        steady_state=_rel(s["steady_allocated_bytes"], row["megaplan_total_bytes"]),
        static=_rel(s["static_allocated_bytes"], row["megaplan_static_bytes"]),
        activations=_rel(s["activations_bytes"], row["megaplan_activations_bytes"]),
        allocator_slack_measured=s["allocator_slack_bytes"], allocator_slack_megaplan=slack_pred,
        cuda_context_measured=s["cuda_context_bytes"],
        cuda_context_megaplan=terms.get("cuda_context", 0),
        nccl_megaplan=terms.get("nccl", 0),
        parameters_match=(row.get("parameters") is None
                          or row.get("megaplan_parameters") is None
                          or row["parameters"] == row["megaplan_parameters"]),
        within_targets=None,
    )
    c = row["comparison"]
    if c["peak_allocated"] is not None and c["peak_device"] is not None:
        c["within_targets"] = abs(c["peak_allocated"]) <= 0.03 and abs(c["peak_device"]) <= 0.05
    elif cpu and c["peak_allocated"] is not None:
        c["within_targets"] = abs(c["peak_allocated"]) <= 0.03  # no device total on CPU


def _gib(x):
    return "-" if x is None else f"{x / (1 << 30):7.3f}"


def _pct(x):
    return "    -" if x is None else f"{x:+7.2%}"


def label(row):
    return (f"{row['model']:<5} b={row['micro_batch']} m={row['microbatches']} "
            f"{row['recompute']:<9} {row['attention']:<8} {'exp' if row['expandable_segments'] else '   '}")


def print_comparison(row):
    s, c = row["summary"], row["comparison"]
    print(f"{label(row)}  alloc {_gib(s['max_allocated_bytes'])} / "
          f"{_gib(row['megaplan_peak_allocated_compared_bytes'])} GiB {_pct(c['peak_allocated'])}   "
          f"device {_gib(s['device_used_bytes'])} / {_gib(row['megaplan_peak_bytes'])} GiB "
          f"{_pct(c['peak_device'])}   moment {s['peak_phase']} / {row['megaplan_peak_moment']}"
          f"   steady {_pct(c['steady_state'])} act {_pct(c['activations'])}"
          f"   slack {_gib(c['allocator_slack_measured'])}/{_gib(c['allocator_slack_megaplan'])}"
          f" ctx {_gib(c['cuda_context_measured'])}/{_gib(c['cuda_context_megaplan'])}"
          f" nccl -/{_gib(c['nccl_megaplan'])}"
          f"{'' if c['within_targets'] is None else ('  ok' if c['within_targets'] else '  MISS')}"
          + ("" if c["parameters_match"] else
             f"  (parameters: harness {row['parameters']:,}, megaplan {row['megaplan_parameters']:,})"))


def fill_megaplan(args):
    """Add megaplan's figures to rows measured elsewhere (a GPU machine without megaplan)."""
    with open(args.fill_megaplan) as fh:
        rows = json.load(fh)
    print("measured / megaplan (GiB) and measured/megaplan − 1; targets: alloc 3 %, device 5 %")
    for row in rows:
        text = megaplan_yaml(row)
        row["megaplan_yaml"] = text
        row.update(megaplan_fields(megaplan_estimate(args.megaplan, text)))
        compare(row)
        print_comparison(row)
    with open(args.fill_megaplan, "w") as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")


# ---------------------------------------------------------------------------------------------
# Model pieces ([s, b, h] layout, as Megatron).


def dropout(x, p, training=True):
    """Dropout as CUDA runs F.dropout: native_dropout, which saves a 1-byte bool mask (F.dropout
    on CPU multiplies by a mask of the activation's dtype instead)."""
    return torch.native_dropout(x, p, True)[0] if p > 0 and training else x


def _make_rms_norm_function():
    class FusedRMSNorm(torch.autograd.Function):
        """What Apex's / Transformer Engine's fused RMSNorm saves: the input and fp32 1/rms."""

        @staticmethod
        def forward(ctx, x, weight, eps):
            xf = x.float()
            rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
            y = (xf * rstd * weight.float()).to(x.dtype)
            ctx.save_for_backward(x, weight, rstd)
            return y

        @staticmethod
        def backward(ctx, grad):
            x, weight, rstd = ctx.saved_tensors
            xf, g = x.float(), grad.float()
            n = xf * rstd
            gw = (g * n).reshape(-1, x.shape[-1]).sum(0)
            gn = g * weight.float()
            gx = rstd * (gn - n * (gn * n).mean(-1, keepdim=True))
            return gx.to(x.dtype), gw.to(weight.dtype), None

    return FusedRMSNorm


def _make_cross_entropy_function():
    class VocabParallelCrossEntropy(torch.autograd.Function):
        """Megatron's tensor_parallel.vocab_parallel_cross_entropy at t = 1 (no all-reduces):
        the fp32 copy of the logits becomes the softmax in place and is what backward keeps."""

        @staticmethod
        def forward(ctx, logits, target):
            logits = logits.float()  # the fp32 copy (Megatron: calculate_logits_max)
            logits_max = torch.max(logits, dim=-1)[0]
            logits -= logits_max.unsqueeze(-1)
            logits_2d = logits.view(-1, logits.shape[-1])
            target_1d = target.reshape(-1)
            arange_1d = torch.arange(logits_2d.shape[0], device=logits.device)
            predicted = logits_2d[arange_1d, target_1d].clone().view_as(target)
            exp_logits = logits
            torch.exp(logits, out=exp_logits)
            sum_exp = exp_logits.sum(dim=-1)
            loss = torch.log(sum_exp) - predicted
            exp_logits.div_(sum_exp.unsqueeze(-1))
            ctx.save_for_backward(exp_logits, target_1d)
            return loss

        @staticmethod
        def backward(ctx, grad_output):
            softmax, target_1d = ctx.saved_tensors
            grad_input = softmax
            grad_2d = grad_input.view(-1, grad_input.shape[-1])
            arange_1d = torch.arange(grad_2d.shape[0], device=grad_2d.device)
            grad_2d[arange_1d, target_1d] -= 1.0
            grad_input.mul_(grad_output.unsqueeze(-1))
            return grad_input, None  # autograd casts it to the logits' bf16

    return VocabParallelCrossEntropy


def _make_softmax_function():
    class ScaledUpperTriangMaskedSoftmax(torch.autograd.Function):
        """Megatron's fused causal scale-mask-softmax: reads the scores (already scaled by
        baddbmm), writes the probabilities, saves only them."""

        @staticmethod
        def forward(ctx, scores, mask):
            scores.masked_fill_(mask, -10000.0)  # the scores buffer is scratch (Megatron reuses it)
            probs = torch.softmax(scores, dim=-1)
            ctx.save_for_backward(probs)
            return probs

        @staticmethod
        def backward(ctx, grad):
            (probs,) = ctx.saved_tensors
            return torch._softmax_backward_data(grad, probs, -1, probs.dtype), None

    return ScaledUpperTriangMaskedSoftmax


_GLOBAL_BUFFERS = {}


def global_buffer(shape, dtype, device):
    """Megatron's GlobalMemoryBuffer.get_tensor: one persistent buffer, grown when too small."""
    n = math.prod(shape)
    buf = _GLOBAL_BUFFERS.get(dtype)
    if buf is None or buf.numel() < n:
        buf = _GLOBAL_BUFFERS[dtype] = torch.empty(n, dtype=dtype, device=device)
    return buf[:n].view(shape)


def rotary_freqs(seq, dh, device, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, dh, 2, dtype=torch.float32, device=device) / dh))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32, device=device), inv)
    return torch.cat((freqs, freqs), dim=-1)[:, None, None, :]  # [s, 1, 1, d_h], fp32


def _rotate_half(x):
    x1, x2 = torch.chunk(x, 2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(t, freqs):
    # Megatron-Core's unfused apply_rotary_pos_emb_bshd (cos/sin made per call).
    cos_, sin_ = torch.cos(freqs).to(t.dtype), torch.sin(freqs).to(t.dtype)
    return (t * cos_) + (_rotate_half(t) * sin_)


class Context:
    """What every layer of one forward shares: mask, rotary table, the custom functions."""

    def __init__(self, args, device):
        self.args = args
        s = args.seq
        self.mask = torch.ones(s, s, dtype=torch.bool, device=device).triu(1)[None, None]
        self.freqs = None
        self.rms = _make_rms_norm_function()
        self.softmax = _make_softmax_function()
        self.loss = _make_cross_entropy_function()


def make_layer_class():
    class Layer(torch.nn.Module):
        def __init__(self, args, device, dtype):
            super().__init__()
            h, a, g, f = args.hidden, args.heads, args.groups, args.ffn
            self.gpt = args.model == "gpt"
            self.dh, self.np, self.ng = h // a, a, g
            kw = dict(device=device, dtype=dtype)
            bias = self.gpt
            if self.gpt:
                self.norm1 = torch.nn.LayerNorm(h, **kw)
                self.norm2 = torch.nn.LayerNorm(h, **kw)
            else:
                self.norm1 = torch.nn.Parameter(torch.ones(h, **kw))
                self.norm2 = torch.nn.Parameter(torch.ones(h, **kw))
            self.qkv = torch.nn.Linear(h, (a + 2 * g) * self.dh, bias=bias, **kw)
            self.proj = torch.nn.Linear(a * self.dh, h, bias=bias, **kw)
            self.fc1 = torch.nn.Linear(h, (f if self.gpt else 2 * f), bias=bias, **kw)
            self.fc2 = torch.nn.Linear(f, h, bias=bias, **kw)
            for lin in (self.qkv, self.proj, self.fc1, self.fc2):
                torch.nn.init.normal_(lin.weight, std=0.02)

        def norm(self, which, x, ctx):
            w = self.norm1 if which == 1 else self.norm2
            if self.gpt:
                return w(x)
            return ctx.rms.apply(x, w, 1e-5)

        def explicit_core(self, q, k, v, ctx):
            s, b = q.shape[0], q.shape[1]
            np_, dh, args = self.np, self.dh, ctx.args
            if np_ // self.ng > 1:
                k = k.repeat_interleave(np_ // self.ng, dim=2)
                v = v.repeat_interleave(np_ // self.ng, dim=2)
            q2, k2 = q.reshape(s, b * np_, dh), k.reshape(s, b * np_, dh)
            shape = (b * np_, s, s)
            if args.scores_buffer == "global":
                buf = global_buffer(shape, q.dtype, q.device)
            else:
                buf = torch.empty(shape, dtype=q.dtype, device=q.device)
            scores = torch.baddbmm(buf, q2.transpose(0, 1), k2.transpose(0, 1).transpose(1, 2),
                                   beta=0.0, alpha=1.0 / math.sqrt(dh)).view(b, np_, s, s)
            probs = ctx.softmax.apply(scores, ctx.mask)
            probs = dropout(probs, args.dropout, self.training)
            out = torch.bmm(probs.view(b * np_, s, s), v.reshape(s, b * np_, dh).transpose(0, 1))
            return out.view(b, np_, s, dh).permute(2, 0, 1, 3).reshape(s, b, np_ * dh)

        def sdpa_core(self, q, k, v, ctx):
            s, b = q.shape[0], q.shape[1]
            qb, kb, vb = [x.permute(1, 2, 0, 3) for x in (q, k, v)]  # [b, heads, s, d_h] views
            extra = {}
            if self.ng != self.np:
                extra["enable_gqa"] = True
            p = ctx.args.dropout if self.training else 0.0
            o = F.scaled_dot_product_attention(qb, kb, vb, dropout_p=p, is_causal=True, **extra)
            return o.permute(2, 0, 1, 3).reshape(s, b, self.np * self.dh)

        def forward(self, x, ctx, selective=False):
            s, b, _ = x.shape
            args = ctx.args
            y = self.norm(1, x, ctx)
            mixed = self.qkv(y)
            per = self.np // self.ng
            mixed = mixed.view(s, b, self.ng, (per + 2) * self.dh)
            q, k, v = torch.split(mixed, [per * self.dh, self.dh, self.dh], dim=3)
            q = q.reshape(s, b, self.np, self.dh)
            if not self.gpt:
                q, k = apply_rotary(q, ctx.freqs), apply_rotary(k, ctx.freqs)
            core = self.sdpa_core if args.attention == "sdpa" else self.explicit_core
            if selective:
                out = torch.utils.checkpoint.checkpoint(
                    lambda q_, k_, v_: core(q_, k_, v_, ctx), q, k, v, use_reentrant=True)
            else:
                out = core(q, k, v, ctx)
            x = x + dropout(self.proj(out), args.dropout, self.training)
            y = self.norm(2, x, ctx)
            u = self.fc1(y)
            if self.gpt:
                z = F.gelu(u)  # bias_activation_fusion: false
            else:
                gate, up = torch.chunk(u, 2, dim=-1)
                z = F.silu(gate) * up
            return x + dropout(self.fc2(z), args.dropout, self.training)

    return Layer


def make_model_class():
    Layer = make_layer_class()

    class Model(torch.nn.Module):
        def __init__(self, args, device, dtype):
            super().__init__()
            self.args = args
            kw = dict(device=device, dtype=dtype)
            h = args.hidden
            self.word = torch.nn.Parameter(torch.randn(args.vocab, h, **kw) * 0.02)
            self.pos = (torch.nn.Parameter(torch.randn(args.seq, h, **kw) * 0.02)
                        if args.model == "gpt" else None)
            self.layers = torch.nn.ModuleList(Layer(args, device, dtype) for _ in range(args.layers))
            if args.model == "gpt":
                self.final_norm = torch.nn.LayerNorm(h, **kw)
                self.output = None  # tied: the word embedding
            else:
                self.final_norm = torch.nn.Parameter(torch.ones(h, **kw))
                self.output = torch.nn.Parameter(torch.randn(args.vocab, h, **kw) * 0.02)
            self.ctx = Context(args, device)

        def embed(self, tokens):
            # Megatron LanguageModelEmbedding: word (+ positions), transpose to [s, b, h], dropout.
            e = F.embedding(tokens, self.word)
            if self.pos is not None:
                e = e + self.pos[None, : tokens.shape[1]]
            e = e.transpose(0, 1).contiguous()
            return dropout(e, self.args.dropout, self.training)

        def decoder(self, x):
            args, ctx = self.args, self.ctx
            ctx.freqs = (rotary_freqs(args.seq, args.hidden // args.heads, x.device)
                         if args.model == "llama" else None)
            for layer in self.layers:
                if args.recompute == "full":
                    x = torch.utils.checkpoint.checkpoint(
                        lambda x_, layer=layer: layer(x_, ctx), x, use_reentrant=True)
                else:
                    x = layer(x, ctx, selective=(args.recompute == "selective"))
            return x

        def head_and_loss(self, x, labels, loss_mask):
            if self.args.model == "gpt":
                y = self.final_norm(x)
                weight = self.word
            else:
                y = self.ctx.rms.apply(x, self.final_norm, 1e-5)
                weight = self.output
            logits = F.linear(y, weight)  # [s, b, V], bf16
            losses = self.ctx.loss.apply(logits, labels.t())  # [s, b], fp32
            del logits
            losses = losses.t().float()
            return torch.sum(losses.reshape(-1) * loss_mask.reshape(-1)) / loss_mask.sum()

    return Model


# ---------------------------------------------------------------------------------------------
# Megatron-style mixed precision: flat bf16 weights, flat fp32 main_grad, fp32 master + Adam.


class MixedPrecision:
    def __init__(self, model, args):
        params = [p for p in model.parameters()]
        device = params[0].device
        n = sum(p.numel() for p in params)
        self.numel = n
        self.param_buffer = torch.empty(n, dtype=params[0].dtype, device=device)
        self.main_grad = torch.zeros(n, dtype=torch.float32, device=device)
        off = 0
        for p in params:
            k = p.numel()
            view = self.param_buffer[off:off + k].view_as(p)
            view.copy_(p.data)
            p.data = view
            p.main_grad = self.main_grad[off:off + k].view_as(p)
            p.register_post_accumulate_grad_hook(self._hook)
            off += k
        self.master = torch.nn.Parameter(self.param_buffer.float())
        self.master.grad = self.main_grad
        try:
            self.opt = torch.optim.AdamW([self.master], lr=1e-4, weight_decay=0.01, fused=True)
        except (RuntimeError, TypeError, ValueError):
            self.opt = torch.optim.AdamW([self.master], lr=1e-4, weight_decay=0.01)
        self.clip = args.clip_grad

    @staticmethod
    def _hook(p):
        p.main_grad.add_(p.grad)
        p.grad = None

    def zero_grad(self):
        self.main_grad.zero_()

    def step(self):
        if self.clip > 0:
            norm = torch.linalg.vector_norm(self.main_grad)
            self.main_grad.mul_(torch.clamp(self.clip / (norm + 1e-6), max=1.0))
        self.opt.step()
        self.param_buffer.copy_(self.master.detach())


# ---------------------------------------------------------------------------------------------
# Measurement.


class CudaStats:
    """The caching allocator's own statistics."""

    def allocated(self):
        return torch.cuda.memory_allocated()

    def max_allocated(self):
        return torch.cuda.max_memory_allocated()

    def max_reserved(self):
        return torch.cuda.max_memory_reserved()

    def reset_peak(self):
        torch.cuda.reset_peak_memory_stats()


def make_tracker_class():
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves
    from torch.multiprocessing.reductions import StorageWeakRef

    class AllocationTracker(TorchDispatchMode):
        """Bytes of tensor storage alive, op by op, on any device (used on CPU, where PyTorch
        keeps no allocator statistics): every aten op's outputs are recorded by storage (views
        share one), and a storage counts until it is freed, which is checked before each op.
        The peak is taken after each op, with its inputs still alive, as the caching allocator's
        max_memory_allocated is. Not seen: buffers a kernel allocates and frees inside one op
        (on CUDA, cuBLAS/cuDNN workspaces; CPU kernels' scratch) and the 512-byte rounding of
        the CUDA allocator."""

        def __init__(self):
            super().__init__()
            self.live = {}
            self.current = 0
            self.peak = 0

        def _sweep(self):
            dead = [k for k, (ref, _) in self.live.items() if ref.expired()]
            for k in dead:
                self.current -= self.live.pop(k)[1]

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self._sweep()
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    st = t.untyped_storage()
                    n, key = st.nbytes(), st.data_ptr()
                    if n and key not in self.live:
                        self.live[key] = (StorageWeakRef(st), n)
                        self.current += n
            self.peak = max(self.peak, self.current)
            return out

        # The Meter's interface.
        def allocated(self):
            self._sweep()
            return self.current

        def max_allocated(self):
            self._sweep()
            return max(self.peak, self.current)

        def max_reserved(self):
            return None

        def reset_peak(self):
            self._sweep()
            self.peak = self.current

    return AllocationTracker


class Meter:
    def __init__(self, stats):
        self.stats = stats
        self.phases = []

    def reset(self):
        self.stats.reset_peak()

    def mark(self, name):
        """Close the phase `name` (its peaks since the last reset) and open the next one."""
        self.phases.append(dict(
            phase=name, max_allocated_bytes=self.stats.max_allocated(),
            max_reserved_bytes=self.stats.max_reserved(),
            allocated_at_end_bytes=self.stats.allocated()))
        self.stats.reset_peak()


def train_step(model, mp, batches, meter, cuda):
    mp.zero_grad()
    meter.reset()
    losses = []
    for i, (tokens, labels, loss_mask) in enumerate(batches):
        static_before = meter.stats.allocated()
        x = model.decoder(model.embed(tokens))
        meter.mark(f"forward_layers[{i}]")
        x.register_hook(lambda g, i=i: meter.mark(f"backward_output[{i}]"))
        loss = model.head_and_loss(x, labels, loss_mask) / len(batches)
        del x
        meter.mark(f"forward_output[{i}]")
        meter.phases[-1]["static_before_bytes"] = static_before
        loss.backward()
        meter.mark(f"backward_layers[{i}]")
        losses.append(loss.item())
        del loss
    mp.step()
    if cuda:
        torch.cuda.synchronize()
    meter.mark("optimizer")
    return sum(losses)


def summarise(phases, cuda):
    top = max(phases, key=lambda p: p["max_allocated_bytes"])
    # Steady state: allocated at the end of a microbatch's forward (its loss is computed, the
    # logits' fp32 softmax kept); static: allocated before its forward.
    fwd = [p for p in phases if p["phase"].startswith("forward_output")]
    steady = max(p["allocated_at_end_bytes"] for p in fwd)
    static = max(p["static_before_bytes"] for p in fwd)
    summary = dict(
        max_allocated_bytes=top["max_allocated_bytes"], peak_phase=top["phase"],
        max_reserved_bytes=None, device_used_bytes=None, device_total_bytes=None,
        reserved_at_end_bytes=None, cuda_context_bytes=None, allocator_slack_bytes=None,
        steady_allocated_bytes=steady, static_allocated_bytes=static,
        activations_bytes=steady - static)
    if cuda:
        free, total = torch.cuda.mem_get_info()
        used = total - free
        reserved_now = torch.cuda.memory_reserved()
        max_reserved = max(p["max_reserved_bytes"] for p in phases)
        summary.update(
            max_reserved_bytes=max_reserved, device_used_bytes=used, device_total_bytes=total,
            reserved_at_end_bytes=reserved_now, cuda_context_bytes=used - reserved_now,
            allocator_slack_bytes=max_reserved - top["max_allocated_bytes"])
    return summary


def measure(args):
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu (allocated bytes from the tracker only)")
    if cuda:
        stats = CudaStats()
        return _measure(args, stats, cuda)
    with make_tracker_class()() as stats:
        return _measure(args, stats, cuda)


def _measure(args, stats, cuda):
    device = torch.device(args.device)
    dtype = torch.bfloat16
    torch.manual_seed(0)
    model = make_model_class()(args, device, dtype)
    model.train()
    mp = MixedPrecision(model, args)
    if cuda:
        torch.cuda.synchronize()
    gen = torch.Generator(device=device).manual_seed(1)
    batches = []
    for _ in range(args.microbatches):
        tokens = torch.randint(0, args.vocab, (args.micro_batch, args.seq), device=device, generator=gen)
        labels = torch.randint(0, args.vocab, (args.micro_batch, args.seq), device=device, generator=gen)
        batches.append((tokens, labels, torch.ones(args.micro_batch, args.seq, device=device)))
    steps = []
    for step in range(args.steps):
        meter = Meter(stats)
        loss = train_step(model, mp, batches, meter, cuda)
        summary = summarise(meter.phases, cuda)
        steps.append(dict(step=step, loss=loss, phases=meter.phases, summary=summary))
        print(f"step {step}: loss {loss:.4f}"
              f"  max allocated {summary['max_allocated_bytes'] / MiB:,.1f} MiB ({summary['peak_phase']})"
              + (f"  max reserved {summary['max_reserved_bytes'] / MiB:,.0f} MiB"
                 f"  device used {summary['device_used_bytes'] / MiB:,.0f} MiB"
                 f"  context {summary['cuda_context_bytes'] / MiB:,.0f} MiB" if cuda else ""))
    last = steps[-1]
    for p in last["phases"]:
        print(f"  {p['phase']:<20} max allocated {p['max_allocated_bytes'] / MiB:>10,.1f} MiB"
              + (f"  max reserved {p['max_reserved_bytes'] / MiB:>10,.1f} MiB" if cuda else "")
              + f"  allocated at end {p['allocated_at_end_bytes'] / MiB:>10,.1f} MiB")
    row = dict(
        model=args.model, hidden=args.hidden, heads=args.heads, groups=args.groups, ffn=args.ffn,
        layers=args.layers, seq=args.seq, micro_batch=args.micro_batch,
        microbatches=args.microbatches, vocab=args.vocab, dropout=args.dropout,
        recompute=args.recompute, attention=args.attention, scores_buffer=args.scores_buffer,
        dtype=args.dtype, expandable_segments=args.expandable_segments,
        megaplan_gpu=args.gpu, parameters=mp.numel, clip_grad=args.clip_grad,
        device=torch.cuda.get_device_name() if cuda else "cpu", torch=torch.__version__,
        cuda=getattr(torch.version, "cuda", None),
        alloc_conf=os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
        allocated_from="torch.cuda" if cuda else "dispatch-mode tracker",
        steps=steps, summary=last["summary"], measured=True)
    row["megaplan_yaml"] = megaplan_yaml(row)
    return row


def main(argv=None):
    global torch, F
    args = parse_args(argv)
    if args.fill_megaplan:
        if not args.megaplan:
            sys.exit("--fill-megaplan needs --megaplan")
        return fill_megaplan(args)
    if args.expandable_segments:
        if "torch" in sys.modules:
            sys.exit("--expandable-segments must be set before torch is imported")
        os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"
    import torch as _torch
    import torch.nn.functional as _F
    import torch.utils.checkpoint  # noqa: F401 (torch.utils.checkpoint.checkpoint)
    torch, F = _torch, _F
    print(f"{args.model}: h={args.hidden} a={args.heads} g={args.groups} f={args.ffn} "
          f"L={args.layers} s={args.seq} b={args.micro_batch} m={args.microbatches} V={args.vocab} "
          f"recompute={args.recompute} attention={args.attention} dropout={args.dropout} "
          f"expandable_segments={args.expandable_segments}  torch {torch.__version__}")
    row = measure(args)
    if args.megaplan:
        row.update(megaplan_fields(megaplan_estimate(args.megaplan, row["megaplan_yaml"])))
        if row["measured"]:
            compare(row)
            print_comparison(row)
    if args.yaml_out:
        with open(args.yaml_out, "w") as fh:
            fh.write(row["megaplan_yaml"])
    if args.json_out:
        existing = []
        if os.path.exists(args.json_out):
            with open(args.json_out) as fh:
                existing = json.load(fh)
        with open(args.json_out, "w") as fh:
            json.dump(existing + [row], fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
