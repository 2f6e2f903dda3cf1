#!/usr/bin/env python3
"""Decode-loop timing for `megaplan serve --engine pytorch` (docs/serve.md, "Measuring on a GPU").

A plain PyTorch decoder with a KV cache, no serving engine: Llama-style models (RMSNorm, rotary,
grouped-query attention, SwiGLU: Llama 3.2 1B's and Llama 3 8B's shapes) and a GPT-2-style model
(LayerNorm, learned positions, multi-head attention, GeLU). For each batch size it times the
prefill of the prompts (time to first token) and the mean time of one decode step (time per
output token), with CUDA events after warm-up; `--prefill-lengths` adds a prefill sweep at batch
1. With `--cuda-graphs` the cache is static (one buffer of input + output tokens per sequence,
attended in full under a mask) and each decode step is replayed as one captured CUDA graph, as
megaplan's `pytorch` engine assumes; without it the loop is eager over the filled part of the
cache. Writes JSON with the shapes so megaplan can be run on the same models.

    python3 validation/pytorch/measure_decode.py --cuda-graphs --out validation/results/decode-h100.json

Not run yet: no GPU was available when it was written.
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F

MODELS = {
    # Llama-style, about 1.2B parameters: Llama 3.2 1B's shape (16 layers, h 2048, 32 heads,
    # 8 KV groups, f 8192, V 128256, tied).
    "llama-1b": dict(layers=16, hidden=2048, heads=32, groups=8, ffn=8192, vocab=128256,
                     style="llama", tied=True),
    # Llama 3 8B's shape (32 layers, h 4096, 32 heads, 8 KV groups, f 14336, V 128256, untied:
    # the output layer reads the embedding table here, the same bytes).
    "llama3-8b": dict(layers=32, hidden=4096, heads=32, groups=8, ffn=14336, vocab=128256,
                      style="llama", tied=True),
    # GPT-2 XL's shape (48 layers, h 1600, 25 heads, f 6400, V 50257 padded to 50304).
    "gpt2-xl": dict(layers=48, hidden=1600, heads=25, groups=25, ffn=6400, vocab=50304,
                    style="gpt", tied=True, max_positions=1024),
}


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, a, g = c["hidden"], c["heads"], c["groups"]
        self.c, self.dh = c, h // a
        self.llama = c["style"] == "llama"
        bias = not self.llama
        self.qkv = torch.nn.Linear(h, (a + 2 * g) * self.dh, bias=bias)
        self.proj = torch.nn.Linear(a * self.dh, h, bias=bias)
        width = 2 * c["ffn"] if self.llama else c["ffn"]
        self.fc1 = torch.nn.Linear(h, width, bias=bias)
        self.fc2 = torch.nn.Linear(c["ffn"], h, bias=bias)
        norm = torch.nn.RMSNorm if self.llama else torch.nn.LayerNorm
        self.n1, self.n2 = norm(h), norm(h)

    def forward(self, x, cache, pos, rope):
        c, dh = self.c, self.dh
        a, g = c["heads"], c["groups"]
        b, s, _ = x.shape
        q, k, v = self.qkv(self.n1(x)).split([a * dh, g * dh, g * dh], dim=-1)
        q = q.view(b, s, a, dh).transpose(1, 2)
        k = k.view(b, s, g, dh).transpose(1, 2)
        v = v.view(b, s, g, dh).transpose(1, 2)
        if rope is not None:
            cos, sin = rope
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        cache_k, cache_v = cache
        cache_k[:, :, pos:pos + s] = k
        cache_v[:, :, pos:pos + s] = v
        keys, values = cache_k[:, :, :pos + s], cache_v[:, :, :pos + s]
        out = F.scaled_dot_product_attention(
            q, keys, values, is_causal=s > 1, enable_gqa=g != a)
        x = x + self.proj(out.transpose(1, 2).reshape(b, s, a * dh))
        y = self.fc1(self.n2(x))
        if self.llama:
            gate, up = y.chunk(2, dim=-1)
            y = F.silu(gate) * up
        else:
            y = F.gelu(y)
        return x + self.fc2(y)


def apply_rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(c["vocab"], c["hidden"])
        self.pos = torch.nn.Embedding(c["max_positions"], c["hidden"]) if c["style"] == "gpt" else None
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        norm = torch.nn.RMSNorm if c["style"] == "llama" else torch.nn.LayerNorm
        self.norm = norm(c["hidden"])

    def rope(self, start, length, device, dtype):
        dh = self.c["hidden"] // self.c["heads"]
        inv = 1.0 / (500000.0 ** (torch.arange(0, dh, 2, device=device).float() / dh))
        t = torch.arange(start, start + length, device=device).float()
        freqs = torch.outer(t, inv)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def forward(self, tokens, caches, pos):
        x = self.embed(tokens)
        s = tokens.shape[1]
        rope = None
        if self.pos is not None:
            x = x + self.pos(torch.arange(pos, pos + s, device=tokens.device))
        else:
            rope = self.rope(pos, s, tokens.device, x.dtype)
        for layer, cache in zip(self.layers, caches):
            x = layer(x, cache, pos, rope)
        last = self.norm(x[:, -1])
        return last @ self.embed.weight.t()  # tied output layer, last token only


class StaticDecoder:
    """One decode step over a static cache, capturable as a CUDA graph: the position is a tensor,
    the new K and V are written with index_copy_, and attention covers the whole buffer under a
    mask of the filled positions."""

    def __init__(self, model, batch, total, device, dtype):
        c = model.c
        self.model, self.total = model, total
        dh = c["hidden"] // c["heads"]
        self.token = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.caches = [(torch.zeros(batch, c["groups"], total, dh, device=device, dtype=dtype),
                        torch.zeros(batch, c["groups"], total, dh, device=device, dtype=dtype))
                       for _ in range(c["layers"])]
        cos, sin = model.rope(0, total, device, dtype) if c["style"] == "llama" else (None, None)
        self.cos, self.sin = cos, sin
        self.positions = torch.arange(total, device=device)

    def step(self):
        m, c = self.model, self.model.c
        a, g = c["heads"], c["groups"]
        dh = c["hidden"] // a
        x = m.embed(self.token)
        if m.pos is not None:
            x = x + m.pos(self.pos)
        mask = (self.positions <= self.pos).view(1, 1, 1, -1)
        for layer, (ck, cv) in zip(m.layers, self.caches):
            b = x.shape[0]
            q, k, v = layer.qkv(layer.n1(x)).split([a * dh, g * dh, g * dh], dim=-1)
            q = q.view(b, 1, a, dh).transpose(1, 2)
            k = k.view(b, 1, g, dh).transpose(1, 2)
            v = v.view(b, 1, g, dh).transpose(1, 2)
            if self.cos is not None:
                cos, sin = self.cos[self.pos], self.sin[self.pos]
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            ck.index_copy_(2, self.pos, k)
            cv.index_copy_(2, self.pos, v)
            out = F.scaled_dot_product_attention(q, ck, cv, attn_mask=mask, enable_gqa=g != a)
            x = x + layer.proj(out.transpose(1, 2).reshape(b, 1, a * dh))
            y = layer.fc1(layer.n2(x))
            if layer.llama:
                gate, up = y.chunk(2, dim=-1)
                y = F.silu(gate) * up
            else:
                y = F.gelu(y)
            x = x + layer.fc2(y)
        last = m.norm(x[:, -1])
        self.token.copy_((last @ m.embed.weight.t()).argmax(-1, keepdim=True))


def measure_graphed(name, c, batch, input_len, output_len, dtype, repeats):
    """Decode steps replayed as one CUDA graph over a static cache (megaplan's `pytorch`
    engine); TTFT is the eager prefill of the prompts into the same cache."""
    device = "cuda"
    model = Model(c).to(device=device, dtype=dtype).eval()
    total = input_len + output_len
    prompt = torch.randint(0, c["vocab"], (batch, input_len), device=device)
    ttft, tpot = [], []
    with torch.inference_mode():
        dec = StaticDecoder(model, batch, total, device, dtype)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                dec.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            dec.step()
        for r in range(repeats + 1):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            logits = model(prompt, dec.caches, 0)
            end.record()
            dec.token.copy_(logits.argmax(-1, keepdim=True))
            torch.cuda.synchronize()
            first = start.elapsed_time(end) / 1e3
            start.record()
            for i in range(output_len - 1):
                dec.pos.fill_(input_len + i)
                graph.replay()
            end.record()
            torch.cuda.synchronize()
            if r > 0:
                ttft.append(first)
                tpot.append(start.elapsed_time(end) / 1e3 / max(1, output_len - 1))
    params = sum(p.numel() for p in model.parameters())
    del model, graph
    torch.cuda.empty_cache()
    return dict(model=name, batch=batch, input=input_len, output=output_len, cuda_graphs=True,
                parameters=params, ttft_seconds=sorted(ttft)[len(ttft) // 2],
                tpot_seconds=sorted(tpot)[len(tpot) // 2])


def measure(name, c, batch, input_len, output_len, dtype, repeats):
    device = "cuda"
    model = Model(c).to(device=device, dtype=dtype).eval()
    g, dh = c["groups"], c["hidden"] // c["heads"]
    total = input_len + output_len

    def fresh_caches():
        return [(torch.empty(batch, g, total, dh, device=device, dtype=dtype),
                 torch.empty(batch, g, total, dh, device=device, dtype=dtype))
                for _ in range(c["layers"])]

    prompt = torch.randint(0, c["vocab"], (batch, input_len), device=device)
    ttft, tpot = [], []
    with torch.inference_mode():
        for r in range(repeats + 1):  # the first round warms up
            caches = fresh_caches()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            logits = model(prompt, caches, 0)
            end.record()
            token = logits.argmax(-1, keepdim=True)
            torch.cuda.synchronize()
            first = start.elapsed_time(end) / 1e3
            start.record()
            for i in range(output_len - 1):
                logits = model(token, caches, input_len + i)
                token = logits.argmax(-1, keepdim=True)
            end.record()
            torch.cuda.synchronize()
            if r > 0:
                ttft.append(first)
                tpot.append(start.elapsed_time(end) / 1e3 / max(1, output_len - 1))
    params = sum(p.numel() for p in model.parameters())
    del model
    torch.cuda.empty_cache()
    return dict(model=name, batch=batch, input=input_len, output=output_len,
                parameters=params, ttft_seconds=sorted(ttft)[len(ttft) // 2],
                tpot_seconds=sorted(tpot)[len(tpot) // 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--batches", default="1,2,4,8,16,32,64")
    ap.add_argument("--input", type=int, default=512)
    ap.add_argument("--output", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--cuda-graphs", action="store_true",
                    help="static cache, decode steps replayed as one CUDA graph")
    ap.add_argument("--prefill-lengths", default="",
                    help="also time the prefill alone at batch 1 for these prompt lengths")
    args = ap.parse_args()
    dtype = torch.bfloat16
    results = []
    run = measure_graphed if args.cuda_graphs else measure
    for name in args.models.split(","):
        c = MODELS[name]
        if c["style"] == "gpt" and args.input + args.output > c["max_positions"]:
            continue
        for batch in (int(b) for b in args.batches.split(",")):
            try:
                r = run(name, c, batch, args.input, args.output, dtype, args.repeats)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                continue
            print(json.dumps(r))
            results.append(r)
        for length in (int(n) for n in args.prefill_lengths.split(",") if n):
            r = run(name, c, 1, length, 2, dtype, args.repeats)
            r["kind"] = "prefill"
            print(json.dumps(r))
            results.append(r)
    doc = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, dtype="bf16",
               models=MODELS, results=results)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
