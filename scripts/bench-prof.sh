#!/usr/bin/env bash
# Profiler overhead, side by side in one run: the bare program, perfprof
# record -F 999, gperftools (LD_PRELOAD libprofiler, CPUPROFILE_FREQUENCY=1000)
# and perf record -F 1000 --call-graph dwarf, on tests/cli/prof/split.c
# (50/30/20 split, -O2, no frame pointers). Prints per tool: median wall
# time and CPU time (user+sys, less sensitive to a busy shared machine) with
# their ratios to bare, samples per CPU-second, data written and per 10 s of
# run, and the leaf_a share each profiler found (truth: 50%).
#
#   scripts/bench-prof.sh [BUILD_DIR] [ROUNDS] [REPEATS]
# Defaults: build-bench (configured and built here), 5000 rounds (~2 s),
# 9 repeats. Every profiled run follows a bare run of its own, and its ratio
# is to that run (paired), so drift on a shared machine cancels; the median
# and range of the paired ratios are printed, with the same ratio between
# consecutive bare runs as the noise floor. perfprof-rtsig is perfprof with
# PERFPROF_MODE=signal (the real-time signal route, the fallback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --bench
build=${1:-build-bench}
rounds=${2:-5000}
repeats=${3:-9}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
  cmake --build "$build" --target perfprof-bin perfprof-rt -j"$(nproc)"; } >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; exit 1; }
cc -O2 -fomit-frame-pointer -g -pthread -o "$work/split" tests/cli/prof/split.c
libprofiler=$(ls /usr/lib/*/libprofiler.so 2>/dev/null | head -1 || true)

/usr/bin/python3 - "$build" "$work" "$rounds" "$repeats" "$libprofiler" <<'PYEOF'
import json, os, resource, statistics, struct, subprocess, sys, time, glob, re

build, work, rounds, repeats, libprofiler = sys.argv[1:6]
repeats = int(repeats)
prog = [os.path.join(work, "split"), "-r", rounds]
perfprof = os.path.join(build, "bin", "perfprof")

def run(cmd, env=None):
    """Wall seconds and child CPU seconds (user+sys) of one run."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s" % " ".join(cmd))
    return wall, ru.ru_utime + ru.ru_stime

def size(paths):
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))

def gperf_samples(path):
    """Sum of sample counts in a gperftools CPU profile (64-bit slots):
    header 0,3,0,period,0; records count,npcs,pcs...; trailer 0,1,0."""
    data = open(path, "rb").read()
    words = struct.unpack("<%dQ" % (len(data) // 8), data[: len(data) // 8 * 8])
    i, total, top = 5, 0, {}
    while i + 1 < len(words):
        count, n = words[i], words[i + 1]
        if count == 0 and n == 1:
            break
        total += count
        i += 2 + n
    return total

tools = ["perfprof", "perfprof-rtsig", "gperftools", "perf-dwarf"]
if not libprofiler:
    tools.remove("gperftools")

def profiled(t, out):
    """One run of the program under tool t: wall, cpu, samples, bytes, leaf_a%."""
    env = dict(os.environ)
    if t.startswith("perfprof"):
        if t == "perfprof-rtsig":
            env["PERFPROF_MODE"] = "signal"
        wall, cpu = run([perfprof, "record", "-q", "-F", "999", "-o", out, "--"] + prog, env)
        rep = json.loads(subprocess.check_output([perfprof, "report", "-i", out, "--format", "json", "--top", "0"], stderr=subprocess.DEVNULL))
        share = next((f["self_pct"] for f in rep["functions"] if f["name"] == "leaf_a"), 0)
        return wall, cpu, rep["samples"], size([out]), share
    if t == "gperftools":
        env.update(LD_PRELOAD=libprofiler, CPUPROFILE=out, CPUPROFILE_FREQUENCY="1000")
        wall, cpu = run(prog, env)
        return wall, cpu, gperf_samples(out), size([out]), None
    wall, cpu = run(["perf", "record", "-q", "-F", "1000", "--call-graph", "dwarf", "-o", out, "--"] + prog)
    stats = subprocess.run(["perf", "report", "-i", out, "--stats"], capture_output=True, text=True).stdout
    m = re.search(r"SAMPLE events:\s+(\d+)", stats)
    return wall, cpu, int(m.group(1)) if m else 0, size([out]), None

# Every profiled run is paired with a bare run just before it, so the
# machine's drift over the benchmark cancels in the ratio; the bare run
# paired with the previous bare run shows the noise floor of one ratio.
res = {t: [] for t in tools}
bare_runs, pairs = [], {t: [] for t in ["bare"] + tools}
for r in range(repeats):
    for t in tools:
        bw, bc = run(prog)
        if bare_runs:
            pairs["bare"].append((bw / bare_runs[-1][0], bc / bare_runs[-1][1]))
        bare_runs.append((bw, bc))
        x = profiled(t, os.path.join(work, "%s.%d" % (t, r)))
        res[t].append(x)
        pairs[t].append((x[0] / bw, x[1] / bc))

def spread(v):
    v = sorted(v)
    return "%.3f [%.3f..%.3f]" % (statistics.median(v), v[0], v[-1])

bare = statistics.median(w for w, _ in bare_runs)
bare_cpu = statistics.median(c for _, c in bare_runs)
print("program: split -r %s (%.2f s bare, median of %d); %d repeats; samples/s = samples per CPU-second of the profiled run" % (rounds, bare, len(bare_runs), repeats))
print("paired ratios: each run over the bare run just before it, median [min..max]; the bare row pairs consecutive bare runs (the noise floor)")
print("%-14s %8s %8s %10s %11s %12s %8s  %-24s %s" % ("tool", "wall s", "cpu s", "samples/s", "data", "data/10s", "leaf_a%", "paired wall ratio", "paired cpu ratio"))
print("%-14s %8.3f %8.3f %10s %11s %12s %8s  %-24s %s" % ("bare", bare, bare_cpu, "-", "-", "-", "-",
      spread(w for w, _ in pairs["bare"]), spread(c for _, c in pairs["bare"])))
for t in tools:
    rows = res[t]
    wall = statistics.median(x[0] for x in rows)
    rate = statistics.median(x[2] / x[1] for x in rows if x[1] > 0)
    data = statistics.median(x[3] for x in rows)
    shares = [x[4] for x in rows if x[4] is not None]
    print("%-14s %8.3f %8.3f %10.0f %9.1fKB %10.1fKB %8s  %-24s %s" % (t, wall, statistics.median(x[1] for x in rows), rate, data / 1024, data / wall * 10 / 1024,
          "%.1f" % statistics.median(shares) if shares else "-", spread(w for w, _ in pairs[t]), spread(c for _, c in pairs[t])))
PYEOF
