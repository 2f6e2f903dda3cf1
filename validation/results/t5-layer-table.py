#!/usr/bin/env python3
"""Prints the docs/validation.md tables (measured vs megaplan) from t5-layer-cpu.json.
Usage: python3 validation/results/t5-layer-table.py [main|variants|groups KIND ATTENTION T P MODE|misses]
  main      the bf16, fused-LayerNorm rows: both layers, three recompute settings
  variants  the unfused GeGLU, fp32, F.layer_norm and TE-flash-output rows
  groups    one case op group by op group (e.g. groups decoder explicit 2 0.1 none)
  decoder   the docs' table of four t = 2 decoder cases op group by op group
  misses    every op group, in every row, where measured and megaplan differ"""
import json
import sys

rows = json.load(open("validation/results/t5-layer-cpu.json"))


def attention_name(r):
    if r["attention"] == "sdpa":
        return "sdpa (fused)"
    return "explicit, fp32 softmax" if r["softmax_fp32"] else "explicit, 16-bit softmax"


def variant(r):
    parts = []
    if r["unfused_activation"]:
        parts.append("unfused GeGLU")
    if r["dtype"] != "bf16":
        parts.append(r["dtype"])
    if r["norm"] != "fused":
        parts.append("F.layer_norm")
    if r.get("output_copy"):
        parts.append("TE flash output copy")
    return ", ".join(parts)


def cases(select):
    out = {}
    for r in rows:
        if not select(r):
            continue
        key = (variant(r), r["tensor"], attention_name(r), r["dropout"], r["kind"])
        out.setdefault(key, {})[r["recompute"]] = r
    return out


def table(select, with_variant):
    head = "| " + ("variant | " if with_variant else "") + "t | attention | dropout | layer "
    head += "| none: measured | megaplan | diff | selective: measured | megaplan | diff "
    head += "| full: measured | megaplan | diff |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for key, modes in cases(select).items():
        v, t, att, p, kind = key
        cells = ([v] if with_variant else []) + [str(t), att, f"{p:.1f}", kind]
        for mode in ("none", "selective", "full"):
            r = modes[mode]
            m, q = r["measured_bytes_per_layer"], r["megaplan_bytes_per_layer"]
            cells += [f"{m:,.0f}", f"{q:,.0f}", f"{m / q - 1:+.2%}"]
        print("| " + " | ".join(cells) + " |")


def groups(kind, attention, t, p, mode):
    for r in rows:
        if (r["kind"] == kind and r["attention"] == attention and not r["softmax_fp32"]
                and r["tensor"] == int(t) and r["dropout"] == float(p) and r["recompute"] == mode
                and variant(r) == ""):
            print("| op group | measured | megaplan | difference |")
            print("|---|---|---|---|")
            for g in r["by_group"]:
                q = g["megaplan"]
                d = "" if q is None else f"{g['measured'] - q:+,.0f}"
                print(f"| {g['group']} | {g['measured']:,} | {'—' if q is None else f'{q:,.0f}'} | {d} |")
            return
    sys.exit("no such row")


def find(kind, attention, t, p, mode):
    for r in rows:
        if (r["kind"] == kind and r["attention"] == attention and not r["softmax_fp32"]
                and r["tensor"] == t and r["dropout"] == p and r["recompute"] == mode
                and variant(r) == ""):
            return r
    sys.exit("no such row")


def decoder_table():
    picked = [("explicit", 0.1, "none"), ("explicit", 0.1, "selective"), ("sdpa", 0.0, "none"),
              ("sdpa", 0.1, "none")]
    rs = [find("decoder", att, 2, p, mode) for att, p, mode in picked]
    head = "| op group (decoder layer, t = 2) |"
    for att, p, mode in picked:
        head += f" {att}, p = {p:g}, {mode}: measured | megaplan |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name in [g["group"] for g in rs[0]["by_group"]]:
        cells = [name]
        for r in rs:
            g = [x for x in r["by_group"] if x["group"] == name]
            cells += [f"{g[0]['measured']:,}", f"{g[0]['megaplan']:,.0f}"] if g else ["0", "0"]
        print("| " + " | ".join(cells) + " |")
    cells = ["**per layer**"]
    for r in rs:
        cells += [f"**{r['measured_bytes_per_layer']:,.0f}**", f"**{r['megaplan_bytes_per_layer']:,.0f}**"]
    print("| " + " | ".join(cells) + " |")


def misses():
    for r in rows:
        for g in r["by_group"]:
            q = g["megaplan"]
            if q is not None and g["measured"] != q:
                print(f"{r['kind']:<8} {r['recompute']:<10} t={r['tensor']} {attention_name(r):<25} "
                      f"p={r['dropout']:<4} {variant(r) or '-':<14} {g['group']:<34} "
                      f"{g['measured'] - q:>+12,.0f}")


what = sys.argv[1] if len(sys.argv) > 1 else "main"
if what == "main":
    table(lambda r: variant(r) == "", False)
elif what == "variants":
    table(lambda r: variant(r) != "", True)
elif what == "groups":
    groups(*sys.argv[2:7])
elif what == "decoder":
    decoder_table()
else:
    misses()
