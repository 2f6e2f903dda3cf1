#!/usr/bin/env python3
"""Prints the docs/validation.md table (whole training steps on CPU: measured allocated peak
against megaplan's memory.peak_allocated_bytes less the cuBLAS workspaces) from
step-memory-cpu.json, after `measure_step_memory.py --fill-megaplan` has added megaplan's figures.
Usage: python3 validation/results/step-memory-table.py"""
import json

MiB = 1 << 20
rows = json.load(open("validation/results/step-memory-cpu.json"))
print("| shape | model | b | recompute | attention | peak measured (MiB) | megaplan (MiB) | diff "
      "| measured at | megaplan's moment | activations diff |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
worst = 0.0
for r in rows:
    s, c = r["summary"], r["comparison"]
    shape = f"h {r['hidden']}, a {r['heads']}, g {r['groups']}, s {r['seq']}, L {r['layers']}, V {r['vocab']}"
    phase = s["peak_phase"].split("[")[0].replace("_", " ")
    worst = max(worst, abs(c["peak_allocated"]))
    print(f"| {shape} | {r['model']} | {r['micro_batch']} | {r['recompute']} | {r['attention']} "
          f"| {s['max_allocated_bytes'] / MiB:,.1f} | {r['megaplan_peak_allocated_compared_bytes'] / MiB:,.1f} "
          f"| {c['peak_allocated']:+.2%} | {phase} | {r['megaplan_peak_moment']} "
          f"| {c['activations']:+.2%} |")
print(f"\n{len(rows)} rows, max |diff| {worst:.2%}")
