#!/usr/bin/env python3
"""Decode-loop timing for `megaplan serve` (docs/serve.md, "Measuring on a GPU").

A plain PyTorch decoder with a KV cache, no serving engine: a small Llama-style model
(RMSNorm, rotary, grouped-query attention, SwiGLU) and a GPT-2-style model (LayerNorm, learned
positions, multi-head attention, GeLU). For each batch size it times the prefill of the prompts
(time to first token) and the mean time of one decode step (time per output token), with CUDA
events after warm-up, and writes JSON with the shapes so megaplan can be run on the same model.

    python3 validation/pytorch/measure_decode.py --out validation/results/decode-h100.json

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
    args = ap.parse_args()
    dtype = torch.bfloat16
    results = []
    for name, c in MODELS.items():
        for batch in (int(b) for b in args.batches.split(",")):
            r = measure(name, c, batch, args.input, args.output, dtype, args.repeats)
            print(json.dumps(r))
            results.append(r)
    doc = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, dtype="bf16",
               models=MODELS, results=results)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
