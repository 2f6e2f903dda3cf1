#!/usr/bin/env python3
"""CPU time to issue eager PyTorch ops, a CUDA graph launch and a host round trip (issues 23, 24).

megaplan's host model (`StepTimeModel.hostSeconds`, `Machine.hostSeconds`) takes three
constants from public write-ups, not from a measurement: the CPU time of one eager op that
launches a kernel (`PerformanceConstants.eagerHostSecondsPerKernel`, 10 µs), one CUDA graph
launch (`measuredGraphLaunchSeconds`, 5 µs) and the dropless MoE dispatcher's copy of its token
counts to the host (two launches' worth). This script measures each on the device:

- issue: the CPU time per op of a loop of n ops (`time.perf_counter` around the loop, no
  synchronisation inside it), for ops whose GPU time is shorter than their issue time, so the
  GPU never holds the CPU back: an in-place add, an allocating multiply, a small linear layer
  (cuBLAS), each eager, and the same multiply and linear with autograd recording (forward) and
  their backward (per op of the recorded chain);
- graph: the CPU time of one `CUDAGraph.replay()` of a graph of 1 and of 100 such kernels;
- round trip: `tensor.item()` on an idle GPU (a device-to-host copy and the wait), and
  `torch.cuda.synchronize()` on an idle GPU.

Each figure is the median of 5 repeats of n ops after warm-up, in microseconds, with the GPU time
per op (the same loop timed to its end) beside it so a reader can check the GPU kept up.

    python3 validation/pytorch/measure_host.py --out host.json

Not run yet: no GPU was available when it was written (a CPU run only checks that it runs).
"""
import argparse
import json
import statistics
import time

import torch


def timed(fn, n, sync, repeats=5):
    """(issue µs, wall µs) per call of `fn`: the loop's CPU time, and its time to completion."""
    for _ in range(min(n, 100)):
        fn()
    sync()
    issue, wall = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t1 = time.perf_counter()
        sync()
        t2 = time.perf_counter()
        issue.append((t1 - t0) / n * 1e6)
        wall.append((t2 - t0) / n * 1e6)
    return statistics.median(issue), statistics.median(wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--ops", type=int, default=2000, help="ops per timed loop")
    parser.add_argument("--out", default="host.json")
    args = parser.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n = args.ops
    torch.manual_seed(0)

    x = torch.randn(1024, device=dev)
    y = torch.randn(1024, device=dev)
    a = torch.randn(16, 64, device=dev, dtype=torch.bfloat16)
    w = torch.randn(64, 64, device=dev, dtype=torch.bfloat16)
    out = {"device": torch.cuda.get_device_name() if cuda else "cpu",
           "torch": torch.__version__, "ops_per_loop": n, "issue_us": {}, "wall_us": {}}

    def record(name, fn):
        issue, wall = timed(fn, n, sync)
        out["issue_us"][name] = issue
        out["wall_us"][name] = wall
        print(f"{name:28s} issue {issue:8.2f} µs   to completion {wall:8.2f} µs per op")

    with torch.no_grad():
        record("add_inplace", lambda: x.add_(y))
        record("mul_alloc", lambda: x * y)
        record("linear_16x64", lambda: torch.nn.functional.linear(a, w))

    # Autograd: a chain of n ops recorded, then its backward, per op.
    xg = torch.randn(1024, device=dev, requires_grad=True)
    ag = torch.randn(16, 64, device=dev, dtype=torch.bfloat16, requires_grad=True)
    for name, step in (("mul_autograd", lambda t: t * 1.0001),
                       ("linear_autograd", lambda t: torch.nn.functional.linear(t, w))):
        start = xg if name == "mul_autograd" else ag
        forward, backward = [], []
        for _ in range(6):
            sync()
            t0 = time.perf_counter()
            t = start
            for _ in range(n // 10):
                t = step(t)
            t1 = time.perf_counter()
            sync()
            loss = t.float().sum()
            sync()
            t2 = time.perf_counter()
            loss.backward()
            t3 = time.perf_counter()
            sync()
            forward.append((t1 - t0) / (n // 10) * 1e6)
            backward.append((t3 - t2) / (n // 10) * 1e6)
        # The first repeat warms up.
        out["issue_us"][name + "_forward"] = statistics.median(forward[1:])
        out["issue_us"][name + "_backward"] = statistics.median(backward[1:])
        print(f"{name:28s} forward issue {statistics.median(forward[1:]):8.2f} µs, "
              f"backward {statistics.median(backward[1:]):8.2f} µs per op")

    if cuda:
        for kernels in (1, 100):
            graph = torch.cuda.CUDAGraph()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    for _ in range(kernels):
                        x.add_(y)
            torch.cuda.current_stream().wait_stream(stream)
            with torch.cuda.graph(graph):
                for _ in range(kernels):
                    x.add_(y)
            record(f"graph_replay_{kernels}_kernels", graph.replay)
        # Round trips on an idle GPU: each call waits for the device.
        s = x.sum()
        record("item_round_trip", lambda: s.item())
        record("synchronize_idle", torch.cuda.synchronize)

    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
