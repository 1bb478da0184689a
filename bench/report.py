#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's report (scripts/bench runs it): reads the boots that
scripts/bench made (DIR/boots.tsv: variant, kind, run, console log, plugin
output) and the variants (DIR/variants.tsv), and writes

  DIR/results.csv   every measurement (one window's instructions, one
                    round's wall time)
  DIR/results.md    per benchmark and variant the figures, then the ratios,
                    each against its reference in the same run, with the
                    goals met or not, and the hot spot where one is not
  DIR/ratios.dat, DIR/ratios.gp, DIR/ratios.png   the chart (gnuplot)

and prints results.md.

Instructions per iteration: the minimum window (no timer tick, no deferred
work in it: the same in every boot to ~0.01%) and the median window.
Wall time per iteration: the median over every wall-clock boot and round.
"""
import csv
import math
import os
import re
import statistics
import subprocess
import sys

OFF_PATH = ["anon_fault", "mmap_munmap", "mprotect_rw_rx", "fork_exit", "exec_static", "vmsplice_gup"]
GOAL_ZERO = 0.0005  # |ratio - 1| below this prints as 1.000
SPREAD = ["the wall clock's spread", "the rounds' spread"]  # of a time (wall, kvm)
IPS = 150e6  # scripts/run-bochs' default ips: Bochs' instructions per emulated second


def read_tsv(path):
    with open(path) as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]


def median(v):
    return statistics.median(v) if v else None


def spread(v):
    """Relative interquartile range of v (0 for fewer than 4 values)."""
    if len(v) < 4:
        return 0.0
    q = statistics.quantiles(v, n=4)
    return (q[2] - q[0]) / statistics.median(v)


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


class Data:
    def __init__(self, out):
        self.out = out
        self.variants = {}  # name -> dict
        self.order = []
        for name, purpose, kernel, qemu, cpu, count in read_tsv(os.path.join(out, "variants.tsv")):
            self.variants[name] = dict(purpose=purpose, kernel=kernel, qemu=qemu, cpu=cpu, count=count)
            self.order.append(name)
        self.units = {}
        self.mech = {}
        self.windows = {}  # (variant, bench) -> [insns per window]
        self.by_run = {}  # (variant, bench, run) -> [insns per window]
        self.user = {}
        self.wall = {}  # (variant, bench) -> [ns per iter]
        self.kvm = {}  # (variant, bench) -> [emulated ns per iter], item 4
        self.kvm_variants = []  # the variants whose boots are under KVM
        self.prof = {}  # (variant, bench) -> {addr: insns}
        self.rows = []
        self.failed_boots = []
        for variant, kind, run, console, plugin, rc in read_tsv(os.path.join(out, "boots.tsv")):
            if rc != "0":
                self.failed_boots.append((variant, kind, run, console, rc))
            if kind == "kvm" and variant not in self.kvm_variants:
                self.kvm_variants.append(variant)
            names = self.read_console(variant, kind, run, console)
            if kind == "count":
                self.read_plugin(variant, run, plugin, names)

    def read_console(self, variant, kind, run, console):
        names = {}
        if not os.path.exists(console):
            return names
        with open(console, errors="replace") as f:
            for line in f:
                m = re.search(r"# XO-BENCH id=(\d+) name=(\S+) round=(\d+) iters=(\d+) unit=(\d+) ns=(\d+)(?: mech=(\S+))?", line)
                if not m:
                    continue
                bid, name, rnd, iters, unit, ns, mech = m.groups()
                names[bid] = name
                self.units[name] = int(unit)
                if mech:
                    self.mech[(variant, name)] = mech
                if kind in ("wall", "kvm"):
                    per = int(ns) / int(iters)
                    (self.wall if kind == "wall" else self.kvm).setdefault((variant, name), []).append(per)
                    self.rows.append([variant, kind, run, name, rnd, iters, "ns_per_iter", f"{per:.1f}"])
        return names

    def read_plugin(self, variant, run, plugin, names):
        if not os.path.exists(plugin):
            return
        with open(plugin) as f:
            for i, line in enumerate(f):
                m = re.match(r"XO-WINDOW id=(\d+) vcpu=\d+ insns=(\d+) user=(\d+) kernel=(\d+)", line)
                if m and m[1] in names:
                    name = names[m[1]]
                    self.windows.setdefault((variant, name), []).append(int(m[2]))
                    self.by_run.setdefault((variant, name, run), []).append(int(m[2]))
                    self.user.setdefault((variant, name), []).append(int(m[3]))
                    self.rows.append([variant, "count", run, name, i, self.units[name], "insns_per_window", m[2]])
                m = re.match(r"XO-PROF id=(\d+) addr=0x([0-9a-f]+) insns=(\d+)", line)
                if m and m[1] in names:
                    p = self.prof.setdefault((variant, names[m[1]]), {})
                    p[int(m[2], 16)] = p.get(int(m[2], 16), 0) + int(m[3])

    def insns(self, v, b, how=min):
        w = self.windows.get((v, b))
        return how(w) / self.units[b] if w else None

    def aa_noise(self, v, b):
        """The A/A noise of v's count for b: how far apart the minimum
        windows of two count boots of the same variant are (relative), or
        None with fewer than two count boots."""
        mins = [min(w) for (vv, bb, r), w in self.by_run.items() if vv == v and bb == b]
        return (max(mins) - min(mins)) / min(mins) if len(mins) >= 2 else None

    def ns(self, v, b):
        return median(self.wall.get((v, b), []))


class Symbols:
    """Kernel addresses to function names, from a kernel's System.map."""

    def __init__(self, system_map):
        self.addrs, self.names = [], []
        if system_map and os.path.exists(system_map):
            with open(system_map) as f:
                for line in f:
                    a, t, n = line.split()[:3]
                    if t in "tTwW":
                        self.addrs.append(int(a, 16))
                        self.names.append(n)

    def name(self, addr):
        if addr < 1 << 63:
            return "[user]"
        import bisect
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.names[i] if i >= 0 else hex(addr)


def by_symbol(data, v, b):
    kernel = data.variants[v]["kernel"]
    sm = os.path.join(os.path.dirname(kernel), "../../../System.map")
    sym = Symbols(sm)
    # Per window: the profile sums the windows of every count boot.
    nwin = len(data.windows.get((v, b), [])) or 1
    out = {}
    for a, n in data.prof.get((v, b), {}).items():
        s = sym.name(a)
        out[s] = out.get(s, 0) + n / nwin
    return out


def hot_spot(data, num, den, bench_num, bench_den):
    """The function whose instructions grew most from den to num."""
    p, q = by_symbol(data, num, bench_num), by_symbol(data, den, bench_den)
    if not p:
        return ""
    diff = sorted(((p.get(s, 0) - q.get(s, 0), s) for s in set(p) | set(q)), reverse=True)
    d, s = diff[0]
    if d <= 0:
        return ""
    return f"{s} (+{d / data.units[bench_num]:,.0f} insns/iter in the blocks profiled)"


def main():
    out = sys.argv[1]
    data = Data(out)
    v = set(data.order)
    comps = []  # (item, label, metric, num, bench, den, bench, goal, goal text)

    # 1. Off the XO path: each build against the stock kernel (or, where
    # it was not built, XO on but unused against XO off).
    ref1 = "stock" if "stock" in v else "xo-off"
    for b in OFF_PATH:
        for n in ["xo-n", "xo-off", "xo-on"]:
            if n in v and n != ref1:
                comps.append(("1", f"{b}: {n} / {ref1}", "insns", n, b, ref1, b, ("eq", 1.0), "1.000"))
    # 2. XO itself.
    if "xo-on" in v:
        for x, r in [("mprotect_rw_x", "mprotect_rw_rx"), ("exec_fault_x", "exec_fault_rx"),
                     ("exec_first_x", "exec_first_rx"), ("read_fault_x", "read_fault_none")]:
            goal = ("le", 1.1) if x == "read_fault_x" else None
            comps.append(("2", f"xo-on: {x} / {r}", "insns", "xo-on", x, "xo-on", r, goal,
                          "<= 1.1" if goal else ""))
            comps.append(("2", f"xo-on: {x} / {r}", "wall", "xo-on", x, "xo-on", r, goal,
                          "<= 1.1" if goal else ""))
        pk = "stock" if "stock" in v else "xo-off"
        comps.append(("2", f"pkey XO ({pk}): read_fault_x / read_fault_none", "insns", pk, "read_fault_x",
                      pk, "read_fault_none", None, ""))
        comps.append(("2", f"NR XO / pkey XO: read_fault_x xo-on / {pk}", "insns", "xo-on", "read_fault_x",
                      pk, "read_fault_x", None, ""))
    # 3. QEMU under TCG, wall clock, the same guest kernel.
    q = next((n for n in ["qemu-base", "qemu-debian"] if n in v), None)
    if q and "xo-off" in v:
        comps.append(("3", f"our QEMU without +xo / {q}, all benchmarks (geometric mean)", "wall-geomean",
                      "xo-off", None, q, None, ("le", 1.005), "<= 1.005"))
    if q and "xo-on" in v:
        comps.append(("3", f"our QEMU +xo / {q}: xcode_x (code is XO)", "wall", "xo-on", "xcode_x", q, "xcode_x",
                      ("le", 1.02), "<= 1.02"))

    # 4. Under KVM in the Bochs L1 host (scripts/bench's kvm-* boots).
    for kv in data.kvm_variants:
        for x, r in [("read_fault_x", "read_fault_none"), ("exec_fault_x", "exec_fault_rx"),
                     ("exec_first_x", "exec_first_rx")]:
            if data.kvm.get((kv, x)) and data.kvm.get((kv, r)):
                goal = ("le", 1.1) if x == "read_fault_x" else None
                comps.append(("4", f"{kv}: {x} / {r}", "kvm", kv, x, kv, r, goal,
                              "<= 1.1" if goal else ""))

    results = []
    for item, label, metric, n, bn, d, bd, goal, gtext in comps:
        noise = ""
        if metric in ("wall", "kvm"):
            times = data.wall if metric == "wall" else data.kvm
            a, c = median(times.get((n, bn), [])), median(times.get((d, bd), []))
            r = a / c if a and c else None
            noise = max(spread(times.get((n, bn), [])), spread(times.get((d, bd), [])))
            rounds = f"(median of {len(times.get((n, bn), []))} rounds)"
            if metric == "wall":
                detail = f"{fmt(a)} vs {fmt(c)} ns/iter {rounds}"
            else:
                detail = (f"{fmt(a)} vs {fmt(c)} emulated ns/iter, ~{fmt(a * IPS / 1e9)} vs ~{fmt(c * IPS / 1e9)} "
                          f"emulated insns/iter {rounds}" if a and c else "")
        elif metric == "insns":
            a, c = data.insns(n, bn), data.insns(d, bd)
            am, cm = data.insns(n, bn, median), data.insns(d, bd, median)
            r = a / c if a and c else None
            extra = f"{a - c:+,.0f}" if a and c else "n/a"
            rm = f"{am / cm:.3f}" if am and cm else "n/a"
            aa = data.aa_noise(d, bd)
            noise = aa
            detail = (f"min window {fmt(a)} vs {fmt(c)} insns/iter ({extra}); median windows ratio {rm}"
                      + (f"; A/A noise of `{d}` {aa * 100:.2f}%" if aa is not None else ""))
        else:  # geometric mean of the per-benchmark wall ratios
            rs = [data.ns(n, b) / data.ns(d, b) for b in data.units if data.ns(n, b) and data.ns(d, b)]
            r = math.exp(sum(map(math.log, rs)) / len(rs)) if rs else None
            noise = statistics.median([max(spread(data.wall.get((n, b), [])), spread(data.wall.get((d, b), [])))
                                       for b in data.units]) if rs else 0
            detail = f"{len(rs)} benchmarks, per-benchmark ratios {min(rs):.3f}..{max(rs):.3f}" if rs else ""
        met = ""
        if goal and r is not None and os.environ.get("BENCH_TINY") == "1":
            met = "not judged: a tiny run proves the pipeline, its windows are too few for the goals"
        elif goal and r is not None and metric != "insns" and noise and noise > goal[1] - 1:
            # A time whose spread is wider than the goal's margin cannot
            # tell either way, whichever side of it the ratio falls.
            met = (f"inconclusive: {SPREAD[metric == 'kvm']} (IQR) "
                   f"{noise * 100:.1f}% is wider than the goal's margin {(goal[1] - 1) * 100:.1f}%")
        elif goal and r is not None:
            tol = max(GOAL_ZERO, noise or 0) if metric == "insns" else 0
            ok = abs(r - 1) <= tol if goal[0] == "eq" else r <= goal[1] + tol
            met = "met" if ok else "NOT met"
            if ok and tol > GOAL_ZERO and abs(r - 1) >= GOAL_ZERO:
                met += " (within the A/A noise)"
            if not ok and metric == "insns":
                hs = hot_spot(data, n, d, bn, bd)
                met += f"; hot spot: {hs}" if hs else ""
            if metric != "insns" and noise:
                met += f"; {SPREAD[metric == 'kvm']} (IQR) {noise * 100:.1f}%"
        elif goal:
            met = "not measured"
        results.append(dict(item=item, label=label, metric=metric, ratio=r, detail=detail, goal=gtext, met=met))

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "kind", "run", "bench", "round_or_window", "iters", "metric", "value"])
        w.writerows(data.rows)
        for x in results:
            w.writerow(["ratio", x["metric"], "", x["label"], "", "", x["goal"],
                        f"{x['ratio']:.4f}" if x["ratio"] else "n/a"])

    md = []
    md.append("### Variants\n")
    md.append("| variant | what | kernel | QEMU | -cpu |")
    md.append("|---|---|---|---|---|")
    top = os.environ["XO_TOP"] + "/" if os.environ.get("XO_TOP") else "\0"
    for n in data.order:
        x = data.variants[n]
        md.append(f"| `{n}` | {x['purpose']} | `{x['kernel'].replace(top, '')}` | `{x['qemu'].replace(top, '')}` | `{x['cpu']}` |")
    md.append("\n### Per benchmark: guest instructions and wall time per iteration\n")
    md.append("Instructions: the minimum window (median window in brackets), from the boot under the "
              "plugin; wall: the median of the boots without it. `mech`: what refuses a read of PROT_EXEC memory.\n")
    tcg = [n for n in data.order if n not in data.kvm_variants]
    md.append("| benchmark | " + " | ".join(f"`{n}` insns | `{n}` ns" for n in tcg) + " |")
    md.append("|---|" + "---|---|" * len(tcg))
    for b in sorted(data.units, key=lambda b: list(data.units).index(b)):
        if not any(data.windows.get((n, b)) or data.wall.get((n, b)) for n in tcg):
            continue
        cells = []
        for n in tcg:
            mech = data.mech.get((n, b))
            cells.append(fmt(data.insns(n, b)) + (f" ({fmt(data.insns(n, b, median))})" if data.insns(n, b) else "")
                         + (f" mech={mech}" if mech else ""))
            cells.append(fmt(data.ns(n, b)))
        md.append(f"| `{b}` | " + " | ".join(cells) + " |")
    kv = data.kvm_variants
    kb = [b for b in data.units if any(data.kvm.get((v, b)) for v in kv)]
    if kb:
        md.append("\n### Under KVM: the emulated time per iteration\n")
        md.append(f"The L2 guest's clock is Bochs' emulated one (`clock: sync=none`, ips {IPS:.0f}), so "
                  "an emulated ns is ~0.15 emulated instructions: L2's, L1's (the exits' handling) and "
                  "Bochs' VMX transitions together; the median of the rounds (their number and spread, IQR, "
                  "beside it).\n")
        md.append("| benchmark | " + " | ".join(f"`{v}` emulated ns | ~insns | rounds, IQR" for v in kv) + " |")
        md.append("|---|" + "---|---|---|" * len(kv))
        for b in kb:
            cells = []
            for v in kv:
                w = data.kvm.get((v, b), [])
                cells += ([fmt(median(w)), fmt(median(w) * IPS / 1e9), f"{len(w)}, {spread(w) * 100:.1f}%"]
                          if w else ["n/a", "n/a", "0"])
            md.append(f"| `{b}` | " + " | ".join(cells) + " |")
    md.append("\n### Ratios, each against its reference in the same run\n")
    md.append("| item | ratio | what | figures | goal | |")
    md.append("|---|---|---|---|---|---|")
    for x in results:
        md.append(f"| {x['item']} | {x['ratio']:.3f} | {x['label']} ({x['metric']}) | {x['detail']} | {x['goal']} | {x['met']} |"
                  if x["ratio"] is not None else
                  f"| {x['item']} | n/a | {x['label']} ({x['metric']}) | {x['detail']} | {x['goal']} | {x['met']} |")
    extra = os.path.join(out, "extra.md")
    if os.path.exists(extra):
        md.append("")
        md.append(open(extra).read().rstrip())
    if data.failed_boots:
        md.append("\nBoots that failed (their figures are missing):\n")
        for fb in data.failed_boots:
            md.append(f"- {fb[0]} {fb[1]} run {fb[2]}: exit {fb[4]}, `{fb[3]}`")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)

    # The chart: one bar per ratio, the line at 1.
    dat = os.path.join(out, "ratios.dat")
    with open(dat, "w") as f:
        for i, x in enumerate(r for r in results if r["ratio"] is not None):
            label = x["label"].replace('"', "'")
            f.write(f"{i}\t{x['ratio']:.4f}\t\"{x['item']}: {label} ({x['metric']})\"\n")
    gp = os.path.join(out, "ratios.gp")
    n = sum(1 for r in results if r["ratio"] is not None)
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1100,{200 + 22 * n} font ",9"
set output "{os.path.join(out, 'ratios.png')}"
set termoption noenhanced
set title "make bench: ratios against their references (1 = no cost)"
set style fill solid 0.6
set boxwidth 0.7
set yrange [-0.5:{n - 0.5}] reverse
set ytics nomirror
set xlabel "ratio"
set grid xtics
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "black" lw 2
unset key
plot "{dat}" using (($2 + 1) / 2):1:(1):2:($1 - 0.35):($1 + 0.35):ytic(3) with boxxyerror lc rgb "#4477aa"
""")
    if n:
        subprocess.run(["gnuplot", gp], check=True)


if __name__ == "__main__":
    main()
