#!/usr/bin/env python3
"""Turn `go test -bench` output into the ratio tables of `make bench`.

Pairs every benchmark whose last name element is "serve" or "paimirror"
with its siblings (the baselines run in the same process, e.g.
BenchmarkPull/c=8/serve with BenchmarkPull/c=8/registry-v3.1.2), and
BenchmarkStartup and BenchmarkServeRSS's small with large. With -count N the
median of the N runs is used. Prints Markdown, ready for the README.

usage: benchtable.py FILE...   (or the output on stdin)
"""
import fileinput
import re
import statistics
import sys
from collections import defaultdict

OURS = ("serve", "paimirror")
LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$")


def parse(lines):
    runs = defaultdict(lambda: defaultdict(list))  # name -> unit -> values
    cpu = ""
    for line in lines:
        if line.startswith("cpu:") and not cpu:
            cpu = line.split(":", 1)[1].strip()
        m = LINE.match(line.strip())
        if not m:
            continue
        fields = m.group(2).split()
        for value, unit in zip(fields[0::2], fields[1::2]):
            try:
                runs[m.group(1)][unit].append(float(value))
            except ValueError:
                pass
    return {n: {u: statistics.median(v) for u, v in us.items()} for n, us in runs.items()}, cpu


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return "-" if a is None or b in (None, 0) else f"{a / b:.2f}"


def main():
    res, cpu = parse(fileinput.input())
    pairs = []
    for name in res:
        head, _, last = name.rpartition("/")
        if last not in OURS:
            continue
        for other in res:
            ohead, _, olast = other.rpartition("/")
            if ohead == head and olast not in OURS:
                pairs.append((head, name, olast, other))
    if pairs:
        print("Throughput, side by side in one run (ratio > 1: paimirror is faster; "
              "CPU ratio < 1: paimirror spends less server CPU per byte)")
        print()
        print("| benchmark | paimirror MB/s | baseline | baseline MB/s | ratio | "
              "paimirror server CPU ms/GB | baseline server CPU ms/GB | CPU ratio |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for head, ours, base, other in pairs:
            a, b = res[ours], res[other]
            print(f"| {head.removeprefix('Benchmark')} | {fmt(a.get('MB/s'))} | {base} | "
                  f"{fmt(b.get('MB/s'))} | {ratio(a.get('MB/s'), b.get('MB/s'))} | "
                  f"{fmt(a.get('server-CPU-ms/GB'))} | {fmt(b.get('server-CPU-ms/GB'))} | "
                  f"{ratio(a.get('server-CPU-ms/GB'), b.get('server-CPU-ms/GB'))} |")
        print()

    rows = []
    small, large = res.get("BenchmarkStartup/small"), res.get("BenchmarkStartup/large")
    if small and large:
        s, l = small["ns/op"] / 1e6, large["ns/op"] / 1e6
        rows.append(("start-up: open, registry, file server, first /healthz and manifest (ms)",
                     fmt(s, 2), fmt(l, 2), ratio(l, s)))
    small, large = res.get("BenchmarkServeRSS/small"), res.get("BenchmarkServeRSS/large")
    if small and large and "peak-RSS-MB" in small and "peak-RSS-MB" in large:
        s, l = small["peak-RSS-MB"], large["peak-RSS-MB"]
        rows.append(("serve process peak RSS after pulling everything once (MB)",
                     fmt(s, 1), fmt(l, 1), ratio(l, s)))
    if rows:
        print("Start-up and memory against bundle size (same images and files; "
              "ratio ~1: they do not grow with the bundle)")
        print()
        print("| measure | small bundle (~10 MiB) | large bundle (~4 GiB) | large/small |")
        print("|---|---:|---:|---:|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print()
    if not pairs and not rows:
        sys.exit("benchtable: no paired benchmark results in the input")
    if cpu:
        print(f"CPU: {cpu}. Clients and servers share the machine, so absolute figures "
              "are noisy; compare ratios from the same run.")


if __name__ == "__main__":
    main()
