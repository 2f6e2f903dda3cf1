#!/usr/bin/env python3
"""GEMM throughput over the shapes a tensor-parallel layer shard runs, and HBM bandwidth (issue 11).

Measures, on one GPU, the weight GEMMs of one tensor-parallel shard of Llama 3 8B, Llama 3 70B and
GPT-3 175B layers (QKV, projection, fc1, fc2 at t = 1, 2, 4, 8 and 4,096 or 8,192 tokens) in their
three passes (forward [m, k]·[k, n], input gradient [m, n]·[n, k], weight gradient [k, m]·[m, n]),
in BF16 (torch.matmul) and FP8 (torch._scaled_mm, E4M3 with per-tensor scales, where the GPU and
PyTorch have it); the expert GEMMs of MoE layers (Mixtral 8x7B at EP 8, DeepSeek-V3 at EP 64,
Qwen3-30B-A3B at EP 8, Qwen3-235B-A22B at EP 32: their local experts at 512–8,192 tokens each) as
one grouped GEMM (torch._grouped_mm) and as one GEMM per expert; and the HBM bandwidth of a
streaming copy and an elementwise add. CUDA events,
after warm-up, the median of --repeat runs.

On the GPU (writes JSON; needs only PyTorch):
  python3 validation/pytorch/measure_gemm.py --out $OUT/gemm-h100.json
Here, where megaplan's constants live (no GPU needed):
  python3 validation/pytorch/measure_gemm.py --fit gemm-h100.json --peak-bf16 989e12 --peak-fp8 1979e12 \
      --hbm 3.35e12
fits megaplan's GEMM model, time = FLOPs / (peak · efficiency) + fixed (`StepTimeModel.time(of:)`,
`PerformanceConstants.gemmEfficiency`, `gemmFixedSeconds`, `fp8GEMMEfficiency`), by least squares
on the rows of at least --min-ms, and prints the fitted constants, the HBM efficiency and each
row's error under the fitted and under given constants (--efficiency, --fixed, --fp8-efficiency).
"""
import argparse
import json
import statistics
import sys

MODELS = {
    # name: (hidden h, query width a·d_h, QKV width (a + 2g)·d_h, MLP width f, fc1 width f₁)
    "llama3-8b": (4096, 4096, 6144, 14336, 28672),
    "llama3-70b": (8192, 8192, 10240, 28672, 57344),
    "gpt3-175b": (12288, 12288, 36864, 49152, 49152),
}


def shapes(tensors=(1, 2, 4, 8), tokens=(4096, 8192)):
    """(model, t, m, gemm, pass, M, N, K): the product [M, K]·[K, N] of each pass."""
    out = []
    for name, (h, qw, qkv, f, f1) in MODELS.items():
        for t in tensors:
            for m in tokens:
                for gemm, k, n in (("qkv", h, qkv // t), ("projection", qw // t, h),
                                   ("fc1", h, f1 // t), ("fc2", f // t, h)):
                    out.append((name, t, m, gemm, "forward", m, n, k))
                    out.append((name, t, m, gemm, "input_gradient", m, k, n))
                    out.append((name, t, m, gemm, "weight_gradient", k, n, m))
    return out


EXPERTS = {
    # name: (hidden h, expert fc1 width (gated: 2·f_e), expert f_e, local experts per GPU)
    "mixtral-8x7b-ep8": (4096, 28672, 14336, 1),
    "deepseek-v3-ep64": (7168, 4096, 2048, 4),
    "qwen3-30b-a3b-ep8": (2048, 1536, 768, 16),
    "qwen3-235b-a22b-ep32": (4096, 3072, 1536, 4),
}


def expert_shapes(tokens=(512, 1024, 2048, 4096, 8192)):
    """(model, local experts G, tokens per expert, gemm, M, N, K): an MoE layer's expert fc1 and
    fc2 on one GPU, G experts of `tokens` rows each (balanced routing)."""
    out = []
    for name, (h, fe1, fe, local) in EXPERTS.items():
        for m in tokens:
            out.append((name, local, m, "expert_fc1", m, fe1, h))
            out.append((name, local, m, "expert_fc2", m, h, fe))
    return out


def time_cuda(fn, warmup, repeat):
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def measure(args):
    import torch
    if not torch.cuda.is_available():
        sys.exit("no CUDA device (this script measures a GPU; --fit runs anywhere)")
    dev = torch.device("cuda")
    rows = []
    fp8 = hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn") and \
        torch.cuda.get_device_capability() >= (8, 9)
    one = torch.ones((), device=dev, dtype=torch.float32)
    for (model, t, m, gemm, pass_, M, N, K) in shapes():
        a = torch.randn(M, K, device=dev, dtype=torch.bfloat16)
        b = torch.randn(K, N, device=dev, dtype=torch.bfloat16)
        sec = time_cuda(lambda: torch.matmul(a, b), args.warmup, args.repeat)
        rows.append(dict(model=model, tensor=t, tokens=m, gemm=gemm, pass_=pass_, M=M, N=N, K=K,
                         dtype="bf16", seconds=sec, flops=2.0 * M * N * K))
        if fp8:
            a8 = a.to(torch.float8_e4m3fn)
            b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt wants
            try:
                sec8 = time_cuda(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one,
                                                          out_dtype=torch.bfloat16),
                                 args.warmup, args.repeat)
                rows.append(dict(model=model, tensor=t, tokens=m, gemm=gemm, pass_=pass_, M=M, N=N,
                                 K=K, dtype="fp8", seconds=sec8, flops=2.0 * M * N * K))
            except RuntimeError as err:  # a shape _scaled_mm refuses
                print(f"fp8 {model} t{t} {gemm} {pass_}: {err}", file=sys.stderr)
        del a, b
    # MoE experts: G local experts' GEMMs of `tokens` rows each, as one grouped GEMM
    # (torch._grouped_mm, where PyTorch has it on this GPU) and as G separate GEMMs (Megatron-Core's
    # SequentialMLP); FLOPs are G · 2·M·N·K either way.
    experts = []
    for (model, G, m, gemm, M, N, K) in expert_shapes():
        a = torch.randn(G * M, K, device=dev, dtype=torch.bfloat16)
        w = torch.randn(G, N, K, device=dev, dtype=torch.bfloat16)
        b = w.transpose(-2, -1)  # [G, K, N], column-major per expert
        parts = list(a.split(M))
        loop = time_cuda(lambda: [torch.matmul(x, b[i]) for i, x in enumerate(parts)],
                         args.warmup, args.repeat)
        row = dict(model=model, local_experts=G, tokens_per_expert=m, gemm=gemm, M=M, N=N, K=K,
                   flops=2.0 * G * M * N * K, loop_seconds=loop, grouped_seconds=None)
        if hasattr(torch, "_grouped_mm"):
            offs = torch.arange(M, G * M + 1, M, device=dev, dtype=torch.int32)
            try:
                row["grouped_seconds"] = time_cuda(lambda: torch._grouped_mm(a, b, offs=offs),
                                                   args.warmup, args.repeat)
            except (RuntimeError, TypeError) as err:
                print(f"grouped {model} {gemm} m{m}: {err}", file=sys.stderr)
        experts.append(row)
        del a, w, b, parts
    # HBM: a 2 GiB streaming copy (read + write) and an elementwise add (2 reads + 1 write).
    n = (2 << 30) // 2
    x = torch.empty(n, device=dev, dtype=torch.bfloat16).normal_()
    y = torch.empty_like(x)
    z = torch.empty_like(x)
    copy = time_cuda(lambda: y.copy_(x), args.warmup, args.repeat)
    add = time_cuda(lambda: torch.add(x, y, out=z), args.warmup, args.repeat)
    hbm = [dict(kernel="copy", bytes=2.0 * 2 * n, seconds=copy),
           dict(kernel="add", bytes=3.0 * 2 * n, seconds=add)]
    out = dict(device=torch.cuda.get_device_name(), torch=torch.__version__,
               cuda=torch.version.cuda, fp8=fp8, gemms=rows, experts=experts, hbm=hbm)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    for r in rows[:6]:
        print(f"{r['model']} t{r['tensor']} {r['gemm']} {r['pass_']} {r['dtype']}: "
              f"{r['flops'] / r['seconds'] / 1e12:.0f} TFLOP/s")
    print(f"{len(rows)} GEMMs; HBM copy {hbm[0]['bytes'] / copy / 1e12:.2f} TB/s, "
          f"add {hbm[1]['bytes'] / add / 1e12:.2f} TB/s -> {args.out}")


def fit_line(rows, peak):
    """Least squares of seconds = flops · (1 / (peak · eff)) + fixed: returns (eff, fixed)."""
    xs = [r["flops"] / peak for r in rows]
    ys = [r["seconds"] for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return 1 / slope, my - slope * mx


def fit(args):
    data = json.load(open(args.fit))
    print(f"{data['device']}, torch {data['torch']}, CUDA {data['cuda']}")
    for h in data["hbm"]:
        print(f"HBM {h['kernel']}: {h['bytes'] / h['seconds'] / 1e12:.2f} TB/s = "
              f"{h['bytes'] / h['seconds'] / args.hbm:.1%} of {args.hbm / 1e12:.2f} TB/s")
    for dtype, peak, given in (("bf16", args.peak_bf16, args.efficiency),
                               ("fp8", args.peak_fp8, args.fp8_efficiency)):
        rows = [r for r in data["gemms"] if r["dtype"] == dtype]
        if not rows or not peak:
            continue
        big = [r for r in rows if r["seconds"] >= args.min_ms / 1e3]
        eff, fixed = fit_line(big, peak)
        if eff is None:
            continue
        print(f"\n{dtype}: {len(big)} of {len(rows)} GEMMs of ≥ {args.min_ms} ms: "
              f"efficiency {eff:.3f} of {peak / 1e12:.0f} TFLOP/s, fixed {fixed * 1e6:.1f} µs")
        for label, e, c in (("fitted", eff, fixed), ("given", given, args.fixed)):
            if not e:
                continue
            errs = [(r["flops"] / (peak * e) + c) / r["seconds"] - 1 for r in rows]
            mean = sum(abs(x) for x in errs) / len(errs)
            print(f"  {label} constants ({e:.3f}, {c * 1e6:.0f} µs): mean |error| {mean:.1%}, "
                  f"max {max(abs(x) for x in errs):.1%}")
        if dtype == "bf16" and data.get("experts"):
            print(f"  MoE expert GEMMs against the fitted dense constants (megaplan times a grouped "
                  f"GEMM as one GEMM of G·M rows with G weight matrices):")
            for r in data["experts"]:
                # megaplan's `time(of:)`: compute or the bytes streamed (the G weight matrices,
                # inputs and outputs at 90 % of HBM), whichever is longer, plus one fixed cost.
                G, M, N, K = r["local_experts"], r["M"], r["N"], r["K"]
                streamed = 2.0 * (G * M * K + G * K * N + G * M * N) / (0.9 * args.hbm)
                pred = max(r["flops"] / (peak * eff), streamed) + fixed
                cells = [f"loop {pred / r['loop_seconds'] - 1:+.1%}"]
                if r.get("grouped_seconds"):
                    cells.append(f"grouped {pred / r['grouped_seconds'] - 1:+.1%}")
                print(f"    {r['model']:<22} G {r['local_experts']:>2} × {r['tokens_per_expert']:>5} "
                      f"tokens {r['gemm']:<10} {r['flops'] / (r.get('grouped_seconds') or r['loop_seconds']) / 1e12:6.0f} "
                      f"TFLOP/s; predicted vs measured: {', '.join(cells)}")
        if args.verbose:
            for r in rows:
                pred = r["flops"] / (peak * eff) + fixed
                print(f"  {r['model']:<10} t{r['tensor']} m{r['tokens']} {r['gemm']:<10} "
                      f"{r['pass_']:<15} {r['flops'] / r['seconds'] / 1e12:6.0f} TFLOP/s "
                      f"{r['seconds'] * 1e3:8.3f} ms, fitted {pred / r['seconds'] - 1:+.1%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="measure on the GPU and write the JSON here")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--fit", metavar="JSON", help="fit megaplan's GEMM model to a measurement")
    ap.add_argument("--peak-bf16", type=float, default=989e12)
    ap.add_argument("--peak-fp8", type=float, default=1979e12)
    ap.add_argument("--hbm", type=float, default=3.35e12, help="datasheet HBM bytes/s")
    ap.add_argument("--min-ms", type=float, default=0.2, help="fit on GEMMs at least this long")
    ap.add_argument("--efficiency", type=float, default=0.75, help="megaplan's BF16 constant")
    ap.add_argument("--fp8-efficiency", type=float, default=0.54, help="megaplan's FP8 constant")
    ap.add_argument("--fixed", type=float, default=25e-6, help="megaplan's fixed seconds per GEMM")
    ap.add_argument("--verbose", action="store_true", help="every row under the fitted constants")
    args = ap.parse_args()
    if args.fit:
        return fit(args)
    if not args.out:
        ap.error("--out (measure) or --fit (fit)")
    measure(args)


if __name__ == "__main__":
    main()
