#!/usr/bin/env python3
"""Turn `go test -bench` output into the ratio tables of `make bench`.

Pairs every benchmark whose last name element is "serve" or "paimirror"
with its siblings (the baselines run in the same process, e.g.
BenchmarkPull/c=8/serve with BenchmarkPull/c=8/registry-v3.1.2), and
BenchmarkStartup and BenchmarkServeRSS's small with large. BenchmarkBuildLink
(paimirror build against crane pull on bad links) gets a table of its own,
each link's figure beside its goal. Repeats (-count, or rounds named NAME#01,
NAME#02, ...) are summed up by their median. Prints Markdown, ready for the
README.

usage: benchtable.py FILE...   (or the output on stdin)
"""
import fileinput
import re
import statistics
import sys
from collections import defaultdict

OURS = ("serve", "paimirror")
# NAME[#NN][-GOMAXPROCS]: #NN numbers the repeats of interleaved rounds.
LINE = re.compile(r"^(Benchmark\S+?)(?:#\d+)?(?:-\d+)?\s+\d+\s+(.*)$")


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
    return runs, cpu


def med(res, name, unit):
    v = res.get(name, {}).get(unit)
    return statistics.median(v) if v else None


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def ratio(res, a, b, unit):
    """a/b for unit: the median of the per-run ratios when both ran as often
    (run i of each is in the same round), else the ratio of the medians."""
    va, vb = res.get(a, {}).get(unit), res.get(b, {}).get(unit)
    if not va or not vb:
        return "-"
    if len(va) == len(vb) and all(vb):
        return f"{statistics.median(x / y for x, y in zip(va, vb)):.2f}"
    mb = statistics.median(vb)
    return f"{statistics.median(va) / mb:.2f}" if mb else "-"


# BenchmarkBuildLink's links (as cmd/paimirror/bench_build_test.go sets them
# up): what each is, the figure its goal is about, and the goal.
LINK = "BenchmarkBuildLink"
LINKS = (
    ("cut", "cut: 3 images × 64 MiB, every connection closed after 12 MiB, 16 MB/s each",
     "paimirror fetched / unique bytes", "<=", 1.05),
    ("throttle", "throttle: 1 image × 128 MiB, 8 MB/s per connection",
     "crane time / paimirror time", ">=", 4),
    ("clean", "clean: the default 45 images × 2 × 8 MiB, no toxics",
     "paimirror time / crane time", "<=", 0.8),
    ("resume", "resume: 1 image × 3 × 128 MiB, 32 MB/s per connection; kill -9 at a third, rerun",
     "paimirror fetched by both runs / unique bytes", "<=", 1.05),
)


def link_rows(res):
    """The rows of the bad-link table: one per link both sides ran on."""
    rows = []
    for case, what, figure, op, goal in LINKS:
        ours, base = f"{LINK}/{case}/paimirror", f"{LINK}/{case}/crane"
        t1, t2 = med(res, ours, "ns/op"), med(res, base, "ns/op")
        if t1 is None or t2 is None:
            continue
        f1, f2 = med(res, ours, "fetched/unique"), med(res, base, "fetched/unique")
        side1 = f"{t1 / 1e9:.2f} s"
        if case in ("cut", "resume") and f1 is not None:
            side1 += f", fetched {f1:.2f}× unique"
        side2 = f"{t2 / 1e9:.2f} s"
        oks = res.get(base, {}).get("ok")
        if oks is not None:
            share = statistics.mean(oks)
            if share == 0:
                side2 = f"fails after {t2 / 1e9:.2f} s (every pull)"
            elif share < 1:
                side2 += f", {share:.0%} of pulls succeed"
        if case == "resume" and f2 is not None:
            side2 += f", fetched {f2:.2f}× unique"
        floor = f"{LINK}/{case}/floor"
        if med(res, floor, "ns/op") is not None:
            # The least a synced pull takes here (benchLinkFloor).
            side2 += f"; floor {med(res, floor, 'ns/op') / 1e9:.2f} s, {ratio(res, floor, base, 'ns/op')}× crane"
        if case == "throttle":
            value = ratio(res, base, ours, "ns/op")
        elif case == "clean":
            value = ratio(res, ours, base, "ns/op")
        else:
            value = "-" if f1 is None else f"{f1:.2f}"
        met = "-"
        if value != "-":
            ok = float(value) <= goal if op == "<=" else float(value) >= goal
            met = "met" if ok else "not met"
        sign = "≤" if op == "<=" else "≥"
        rows.append((what, side1, side2, figure, value, f"{sign} {goal:g}", met))
    return rows


def main():
    res, cpu = parse(fileinput.input())
    links = link_rows(res)
    pairs = []
    for name in res:
        head, _, last = name.rpartition("/")
        if last not in OURS or head.startswith(LINK + "/"):
            continue
        for other in res:
            ohead, _, olast = other.rpartition("/")
            if ohead == head and olast not in OURS:
                pairs.append((head, name, olast, other))
    timed = [p for p in pairs if med(res, p[1], "MB/s") is None and med(res, p[1], "ns/op") is not None]
    pairs = [p for p in pairs if p not in timed]
    if timed:
        print("Time and memory, side by side in one run (ratio < 1: paimirror takes less)")
        print()
        print("| benchmark | paimirror s | baseline | baseline s | time ratio | "
              "paimirror peak RSS MB | baseline peak RSS MB | RSS ratio |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for head, ours, base, other in timed:
            t1, t2 = med(res, ours, "ns/op"), med(res, other, "ns/op")
            print(f"| {head.removeprefix('Benchmark')} | {fmt(t1 / 1e9 if t1 else None, 2)} | {base} | "
                  f"{fmt(t2 / 1e9 if t2 else None, 2)} | {ratio(res, ours, other, 'ns/op')} | "
                  f"{fmt(med(res, ours, 'peak-RSS-MB'), 1)} | {fmt(med(res, other, 'peak-RSS-MB'), 1)} | "
                  f"{ratio(res, ours, other, 'peak-RSS-MB')} |")
        print()
    if pairs:
        print("Throughput, side by side in one run (ratio > 1: paimirror is faster; "
              "CPU ratio < 1: paimirror spends less server CPU per byte)")
        print()
        print("| benchmark | paimirror MB/s | baseline | baseline MB/s | ratio | "
              "paimirror server CPU ms/GB | baseline server CPU ms/GB | CPU ratio |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for head, ours, base, other in pairs:
            print(f"| {head.removeprefix('Benchmark')} | {fmt(med(res, ours, 'MB/s'))} | {base} | "
                  f"{fmt(med(res, other, 'MB/s'))} | {ratio(res, ours, other, 'MB/s')} | "
                  f"{fmt(med(res, ours, 'server-CPU-ms/GB'))} | {fmt(med(res, other, 'server-CPU-ms/GB'))} | "
                  f"{ratio(res, ours, other, 'server-CPU-ms/GB')} |")
        print()

    rows = []
    small, large = "BenchmarkStartup/small", "BenchmarkStartup/large"
    if med(res, small, "ns/op") and med(res, large, "ns/op"):
        rows.append(("start-up: open, registry, file server, first /healthz and manifest (ms)",
                     fmt(med(res, small, "ns/op") / 1e6, 2), fmt(med(res, large, "ns/op") / 1e6, 2),
                     ratio(res, large, small, "ns/op")))
    small, large = "BenchmarkServeRSS/small", "BenchmarkServeRSS/large"
    for unit, what in (("ready-RSS-MB", "serve process RSS once it answers (MB)"),
                       ("peak-RSS-MB", "serve process peak RSS, pulling everything once (MB)")):
        if med(res, small, unit) and med(res, large, unit):
            rows.append((what, fmt(med(res, small, unit), 1), fmt(med(res, large, unit), 1),
                         ratio(res, large, small, unit)))
    if rows:
        print("Start-up and memory against bundle size (same images and files; "
              "ratio ~1: they do not grow with the bundle)")
        print()
        print("| measure | small bundle (~10 MiB) | large bundle (~4 GiB) | large/small |")
        print("|---|---:|---:|---:|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print()
    if links:
        print("Build on bad links: paimirror build and crane pull --format oci, from distribution's "
              "registry v3.1.2 through the same link (toxiproxy's, or none), side by side in each round")
        print()
        print("| link | paimirror | crane pull --format oci | figure | value | goal | |")
        print("|---|---|---|---|---:|---|---|")
        for r in links:
            print("| " + " | ".join(r) + " |")
        print()
    if not pairs and not rows and not timed and not links:
        sys.exit("benchtable: no paired benchmark results in the input")
    if cpu:
        print(f"CPU: {cpu}. Clients and servers share the machine, so absolute figures "
              "are noisy; compare ratios from the same run.")


if __name__ == "__main__":
    main()
