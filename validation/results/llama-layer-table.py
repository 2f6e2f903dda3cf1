#!/usr/bin/env python3
"""Prints the docs/validation.md tables (measured vs megaplan) from llama-layer-cpu.json.
Usage: python3 validation/results/llama-layer-table.py [fused|torch]"""
import json
import sys

rows = json.load(open("validation/results/llama-layer-cpu.json"))
norm = sys.argv[1] if len(sys.argv) > 1 else "fused"
cases = {}
for r in rows:
    if r["norm"] != norm:
        continue
    key = (r["groups"], r["dtype"], r["tensor"], r["attention"], r["softmax_fp32"], r["dropout"])
    cases.setdefault(key, {})[r["recompute"]] = r
print("| g | dtype | t | attention | dropout | none: measured | megaplan | diff "
      "| selective: measured | megaplan | diff | full: measured | megaplan | diff |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key, modes in cases.items():
    g, dtype, t, att, fp32, p = key
    name = "sdpa (fused)" if att == "sdpa" else ("explicit, fp32 softmax" if fp32 else "explicit, 16-bit softmax")
    cells = [str(g), dtype, str(t), name, f"{p:.1f}"]
    for mode in ("none", "selective", "full"):
        r = modes[mode]
        m, q = r["measured_bytes_per_layer"], r["megaplan_bytes_per_layer"]
        cells += [f"{m:,.0f}", f"{q:,.0f}", f"{m / q - 1:+.2%}"]
    print("| " + " | ".join(cells) + " |")
