#!/usr/bin/env python3
"""Turns JMH JSON results into docs/benchmarks.md tables and an SVG chart.

Usage: bench-report.py --json results.json --label "JDK 17" --out-md docs/benchmarks-jdk17.md --out-svg docs/benchmarks-jdk17.svg
       bench-report.py --check results.json          # smoke guard: fail when Lake is far behind its peer

Workloads (which Lake benchmark stands beside which peers) are declared in WORKLOADS below: one home.
"""
import argparse
import json
import os
import platform
import sys
from html import escape

# title, lake benchmark, peers, published figure (other machine) or None, guard factor (None = no guard).
# The guard compares Lake with the FIRST peer only: --smoke fails when Lake is more than `factor` times slower.
# Benchmark ids are "Class.method" or "Class.method@threads".
# FfmPeersBench (the JDK's java.lang.foreign peers) exists only in the JDK 22+ jar (-Pbench,ffm): see OPTIONAL.
FFM_SLICING_SCOPE_8 = ["FfmPeersBench.slicingScope8x64", "FfmPeersBench.confinedArena8x64AndClose"]
WORKLOADS = [
    ("Lake: allocate 64 B + write one long", "LakeBench.allocate64AndWrite",
     ["RawBumpBench.bump64AndWrite", "MemoryStackBench.pushMalloc64WriteAndPop",
      "DirectPeersBench.allocateDirect64AndWrite", "DirectPeersBench.unsafeAllocateFree64AndWrite",
      "DirectPeersBench.nettyUnpooledDirect64AndWrite", "DirectPeersBench.heapByteArray64AndWrite",
      "FfmPeersBench.slicing64AndWrite"], None, 5.0),
    ("Lake: droplet allocate + write + close", "LakeBench.dropletAllocateWriteClose",
     ["RawBumpBench.bump64AndWrite", "FfmPeersBench.confinedArena64WriteAndClose",
      "FfmPeersBench.slicing64AndWrite"], None, 8.0),
    ("Lake: mark + 8 x 64 B + resetToMark", "LakeBench.mark8x64AndResetToMark",
     ["RawBumpBench.bump8x64AndRewind", "MemoryStackBench.push8x64WriteAndPop"] + FFM_SLICING_SCOPE_8, None, 5.0),
    ("Lake: snapshot + 8 x 64 B + rewind", "LakeBench.snapshot8x64AndRewind",
     ["RawBumpBench.bump8x64AndRewind"] + FFM_SLICING_SCOPE_8, None, None),
    ("Lake: sandbox + 8 x 64 B + commit", "LakeBench.sandbox8x64AndCommit",
     ["RawBumpBench.bump8x64AndRewind", "RawBumpBench.bump8x64AndKeep"] + FFM_SLICING_SCOPE_8, None, 5.0),
    ("Thread lake: current() + 64 B + write + rewind", "ThreadLakeBench.threadLakeAllocate64WriteRewind",
     ["ThreadLakeBench.localLakeAllocate64WriteRewind"], None, None),
    ("Thread lake on a LakeThread (field instead of ThreadLocal): current() + 64 B + write + rewind",
     "ThreadLakeOnLakeThreadBench.threadLakeAllocate64WriteRewind",
     ["ThreadLakeOnLakeThreadBench.localLakeAllocate64WriteRewind"], None, None),
    ("Arena: 1,000 x 8 B + reset", "ArenaBench.alloc1000x8AndReset",
     ["RawBumpBench.bump1000x8AndReset", "NettyPooledBench.directBuffer1000x8AndRelease",
      "NettyPooledBench.directBuffer1000x8AndReleaseDefaults", "FfmPeersBench.slicing1000x8AndReset"],
     "863 ns (fastarena, alloc 1k items)", 5.0),
    ("Arena: checkpoint + rewind", "ArenaBench.checkpointAndRewind", [], None, None),
    ("Arena: transaction with 16 x 64 B + commit", "ArenaBench.transaction16x64AndCommit",
     ["RawBumpBench.bump16x64AndRewind", "FfmPeersBench.slicingScope16x64",
      "FfmPeersBench.confinedArena16x64AndClose"], None, 5.0),
    ("Arena: ArenaVec of 4,096 longs built from a generator and finished", "ArenaBench.arenaVec4096LongsGenerated",
     ["ArenaBench.longArrayFill4096"], None, None),
    ("Arena: ArenaVec of 4,096 longs pushed one by one and finished", "ArenaBench.arenaVec4096Longs",
     ["ArenaBench.longArrayFill4096"], None, None),
    ("FixedArena: allocate + write 8 B + freeze + release, 4 KiB slots, handle tier, 1 thread",
     "FixedArenaBench.handleWrite8",
     ["NettySlotBench.write8", "FixedArenaBench.objectWrite8",
      "JctoolsPoolBench.write8", "NettySlotBench.write8Defaults", "FfmPeersBench.confinedArena4096Write8AndClose",
      "FfmPeersBench.sharedArena4096Write8AndClose"], None, 5.0),
    ("FixedArena: the same with 2 threads", "FixedArenaBench.handleWrite8x2t@2",
     ["FixedArenaBench.objectWrite8x2t@2", "JctoolsPoolBench.write8x2t@2", "NettySlotBench.write8x2t@2",
      "NettySlotBench.write8Defaultsx2t@2"], None, None),
] + [
    (f"FixedArena: allocate + write {size} B + freeze + release", f"FixedArenaBench.objectWriteSized[size={size}]",
     [f"FixedArenaBench.handleWriteSized[size={size}]", f"JctoolsPoolBench.writeSized[size={size}]",
      f"NettySlotBench.writeSized[size={size}]"], published, None)
    for size, published in (("256", "68 ns (arena-alligator)"), ("1024", "87 ns (arena-alligator)"),
                            ("4096", "146 ns (arena-alligator)"))
] + [
    (f"FixedArena: auto-spill, 1 KiB slot, {size} B written", f"FixedArenaBench.objectSpill[size={size}]",
     [f"JctoolsPoolBench.spill[size={size}]", f"NettySlotBench.spill[size={size}]"], published, None)
    for size, published in (("2048", "121 ns (arena-alligator)"), ("8192", "278 ns (arena-alligator)"))
] + [
    ("BuddyArena: allocate + write + freeze + release, sizes cycling 192 B .. 16 KiB, handle tier, 1 thread",
     "BuddyArenaBench.handleCycle", ["NettySlotBench.cycle", "BuddyArenaBench.objectCycle",
                                      "BuddyArenaBench.handleCycleNoCache"], None, 5.0),
    ("BuddyArena: the same with 2 threads", "BuddyArenaBench.handleCycleX2t@2",
     ["NettySlotBench.cycleX2t@2", "BuddyArenaBench.objectCycleX2t@2", "BuddyArenaBench.handleCycleNoCacheX2t@2"],
     None, None),
    ("Waiting: release to the parked waiter's wake-up (SampleTime)", "WaitWakeupBench.blockedThread",
     ["WaitWakeupBench.asyncCallback"], None, None),
] + [
    (f"BuddyArena: allocate + write {size} B + freeze + release", f"BuddyArenaBench.handleSized[size={size}]",
     [f"BuddyArenaBench.objectSized[size={size}]", f"NettySlotBench.writeSized[size={size}]"], published, None)
    for size, published in (("256", "4.5 us (arena-alligator buddy)"), ("1024", "1.1 us (arena-alligator buddy)"),
                            ("4096", "0.34 us (arena-alligator buddy)"))
] + [
    (f"Slices: allocate {n} longs + read + release", f"SliceBench.localAllocateReadRelease[n={n}]",
     [f"SliceBench.heapArrayAllocateRead[n={n}]", f"SliceBench.floorFillRead[n={n}]",
      f"SliceBench.readerAllocateReadRelease[n={n}]", f"SliceBench.readerBindAllocateReadRelease[n={n}]",
      f"SliceBench.refAllocateReadRelease[n={n}]", f"SliceBench.refAllocateCopyRelease[n={n}]",
      f"SliceBench.handleAllocateReadRelease[n={n}]"], None, None)
    for n in ("32", "256", "1024", "4096")
] + [
    ("Slices: share() + release() of a handle", "SliceBench.refRetainRelease[n=32]",
     ["SliceBench.handleShareRelease[n=32]", "SliceBench.floorShareReleaseAtomics[n=32]"], None, None),
]

# Peers that only some runs can have: a table leaves them out when the run has no result for them, instead of
# a "not run" row (FfmPeersBench needs JDK 22+, so the JDK 17 tables never show it).
OPTIONAL = ("FfmPeersBench.",)


def load(path):
    with open(path) as f:
        data = json.load(f)
    results = {}
    for r in data:
        name = r["benchmark"].rsplit(".", 2)
        key = name[-2] + "." + name[-1]
        params = r.get("params") or {}
        if params:
            key += "[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"
        threads = r.get("threads", 1)
        if threads != 1:
            key += f"@{threads}"
        score = r["primaryMetric"]["score"]
        error = r["primaryMetric"].get("scoreError")
        unit = r["primaryMetric"]["scoreUnit"]
        scale = {"us/op": 1000.0, "ms/op": 1e6, "ns/op": 1.0}.get(unit, 1.0)  # every table is in ns
        score *= scale
        try:
            error = float(error) * scale  # JMH writes "NaN" (a string) when there was one iteration
        except (TypeError, ValueError):
            error = None
        if error != error:
            error = None
        pct = r["primaryMetric"].get("scorePercentiles") or {}
        percentiles = (pct["50.0"] * scale, pct["99.0"] * scale) if r.get("mode") == "sample" and "99.0" in pct else None
        norm = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", {}).get("score")
        results[key] = {"score": score, "error": error, "unit": "ns/op", "bytes": norm, "percentiles": percentiles,
                        "jvm": r.get("jvm"), "jdk": r.get("jdkVersion"), "vm": r.get("vmName")}
    return results


def fmt_ns(x):
    if x is None:
        return "n/a"
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def fmt_bytes(b):
    if b is None:
        return "n/a"
    if b < 0.5:
        return "0"
    return f"{b:,.0f}"


def table(results, lake, peers, published):
    rows = ["| benchmark | ns/op | ± | B/op | peer / Lake |", "|---|---:|---:|---:|---:|"]
    base = results.get(lake, {}).get("score")
    for key in [lake] + peers:
        r = results.get(key)
        if r is None and key.startswith(OPTIONAL):
            continue
        if r is None:
            rows.append(f"| `{key}` | not run | | | |")
            continue
        ratio = "1.00 (Lake)" if key == lake else (f"{r['score'] / base:.2f}x" if base else "n/a")
        err = fmt_ns(r["error"]) if r["error"] is not None else ""
        score = fmt_ns(r["score"])
        if r.get("percentiles"):
            score += f" (median {fmt_ns(r['percentiles'][0])}, p99 {fmt_ns(r['percentiles'][1])})"
        rows.append(f"| `{key}` | {score} | {err} | {fmt_bytes(r['bytes'])} | {ratio} |")
    if published:
        rows.append(f"| published, other machine | {published} | | | not comparable |")
    return "\n".join(rows)


def svg_chart(results, label):
    groups = [(t, [k for k in [lake] + peers if k in results]) for t, lake, peers, _, _ in WORKLOADS]
    groups = [(t, ks) for t, ks in groups if ks]
    bar_h, gap, left, width = 16, 26, 330, 520
    height = 40 + sum(len(ks) * bar_h + gap for _, ks in groups)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           f'<text x="10" y="20" font-size="14">Lake vs peers, ns/op ({escape(label)}); bar length relative '
           f'to the slowest in its workload</text>']
    y = 40
    for title, keys in groups:
        out.append(f'<text x="10" y="{y + 10}" font-weight="bold">{escape(title)}</text>')
        y += 14
        worst = max(results[k]["score"] for k in keys) or 1
        for i, k in enumerate(keys):
            s = results[k]["score"]
            w = max(1, int(width * s / worst))
            colour = "#1f77b4" if i == 0 else "#bbbbbb"
            out.append(f'<text x="10" y="{y + 12}">{escape(k[:46])}</text>')
            out.append(f'<rect x="{left}" y="{y + 2}" width="{w}" height="{bar_h - 4}" fill="{colour}"/>')
            out.append(f'<text x="{left + w + 5}" y="{y + 12}">{fmt_ns(s)}</text>')
            y += bar_h
        y += gap - 14
    out.append("</svg>")
    return "\n".join(out)


def cpu_model():
    """The processor's name where Linux says it: figures from different CPUs are not comparable."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def report(results, label, command, svg_name):
    any_r = next(iter(results.values()), {})
    lines = [f"## {label}", "",
             f"Machine: {platform.node() or 'unknown'}, {os.cpu_count()} cores, {platform.machine()} "
             f"({cpu_model()}); "
             f"JVM: {any_r.get('vm', '?')} {any_r.get('jdk', '?')}.", "",
             f"Command: `{command}`", "", f"![chart]({svg_name})", ""]
    listed = set()
    for title, lake, peers, published, _ in WORKLOADS:
        lines += [f"### {title}", "", table(results, lake, peers, published), ""]
        listed.update([lake] + peers)
    others = sorted(k for k in results if k not in listed)
    if others:
        lines += ["### Other benchmarks in the run", "", "| benchmark | ns/op | B/op |", "|---|---:|---:|"]
        for k in others:
            lines.append(f"| `{k}` | {fmt_ns(results[k]['score'])} | {fmt_bytes(results[k]['bytes'])} |")
        lines.append("")
    return "\n".join(lines)


def check(results):
    failures = []
    checked = 0
    for title, lake, peers, _, factor in WORKLOADS:
        if factor is None or lake not in results:
            continue
        guard_peer = peers[0] if peers and peers[0] in results else None
        if guard_peer is None:
            continue
        checked += 1
        peer_score = results[guard_peer]["score"]
        ratio = results[lake]["score"] / peer_score
        verdict = "ok" if ratio <= factor else "REGRESSION"
        print(f"{verdict:10} {title}: Lake {results[lake]['score']:.1f} ns vs {guard_peer} {peer_score:.1f} ns "
              f"= {ratio:.2f}x (guard {factor}x)")
        if ratio > factor:
            failures.append(title)
    print(f"bench guard: {checked} workloads checked, {len(failures)} regressions")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--json")
    p.add_argument("--label", default="")
    p.add_argument("--command", default="scripts/bench.sh")
    p.add_argument("--out-md")
    p.add_argument("--out-svg")
    p.add_argument("--check")
    p.add_argument("--guard-regex", action="store_true")
    a = p.parse_args()
    if a.guard_regex:
        names = set()
        for _, lake, peers, _, factor in WORKLOADS:
            if factor is not None and peers:
                names.update(k.split("@")[0].split("[")[0] for k in (lake, peers[0]))
        print("|".join("\\." + n.replace(".", "\\.") + "$" for n in sorted(names)) or "dev.lake.bench")
        return
    if a.check:
        sys.exit(check(load(a.check)))
    results = load(a.json)
    with open(a.out_svg, "w") as f:
        f.write(svg_chart(results, a.label))
    with open(a.out_md, "w") as f:
        f.write(report(results, a.label, a.command, os.path.basename(a.out_svg)))


if __name__ == "__main__":
    main()
