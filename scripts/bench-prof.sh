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
# Defaults: build-bench (configured and built here), 10000 rounds (~5 s),
# 5 repeats, interleaved so drift on a shared machine hits every tool alike;
# each repeat's ratio is to the bare run just before it (paired), and the
# median and range of those paired ratios are printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --bench
build=${1:-build-bench}
rounds=${2:-10000}
repeats=${3:-5}
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

tools = ["bare", "perfprof", "gperftools", "perf-dwarf"]
if not libprofiler:
    tools.remove("gperftools")
res = {t: [] for t in tools}
for r in range(repeats):
    for t in tools:
        out = os.path.join(work, "%s.%d" % (t, r))
        env = dict(os.environ)
        if t == "bare":
            wall, cpu = run(prog)
            res[t].append((wall, cpu, 0, 0))
        elif t == "perfprof":
            wall, cpu = run([perfprof, "record", "-q", "-F", "999", "-o", out, "--"] + prog)
            rep = json.loads(subprocess.check_output([perfprof, "report", "-i", out, "--format", "json", "--top", "0"], stderr=subprocess.DEVNULL))
            share = next((f["self_pct"] for f in rep["functions"] if f["name"] == "leaf_a"), 0)
            res[t].append((wall, cpu, rep["samples"], size([out]), share))
        elif t == "gperftools":
            env.update(LD_PRELOAD=libprofiler, CPUPROFILE=out, CPUPROFILE_FREQUENCY="1000")
            wall, cpu = run(prog, env)
            res[t].append((wall, cpu, gperf_samples(out), size([out]), None))
        else:
            wall, cpu = run(["perf", "record", "-q", "-F", "1000", "--call-graph", "dwarf", "-o", out, "--"] + prog)
            stats = subprocess.run(["perf", "report", "-i", out, "--stats"], capture_output=True, text=True).stdout
            m = re.search(r"SAMPLE events:\s+(\d+)", stats)
            res[t].append((wall, cpu, int(m.group(1)) if m else 0, size([out]), None))

bare = statistics.median(w for w, *_ in res["bare"])
print("program: split -r %s (%.2f s bare, median of %d); samples/s = samples per CPU-second of the profiled run" % (rounds, bare, repeats))
bare_cpu = statistics.median(x[1] for x in res["bare"])
print("%-11s %8s %7s %8s %7s %10s %11s %12s %8s  %s" % ("tool", "wall s", "ratio", "cpu s", "ratio", "samples/s", "data", "data/10s", "leaf_a%", "paired wall ratio: median [min..max]"))
for t in tools:
    rows = res[t]
    wall = statistics.median(x[0] for x in rows)
    if t == "bare":
        print("%-11s %8.3f %7.3f %8.3f %7.3f %10s %11s %12s %8s  -" % (t, wall, 1.0, bare_cpu, 1.0, "-", "-", "-", "-"))
        continue
    rate = statistics.median(x[2] / x[1] for x in rows if x[1] > 0)
    data = statistics.median(x[3] for x in rows)
    per10 = data / wall * 10
    shares = [x[4] for x in rows if len(x) > 4 and x[4] is not None]
    cpu = statistics.median(x[1] for x in rows)
    paired = sorted(x[0] / b[0] for x, b in zip(rows, res["bare"]))
    print("%-11s %8.3f %7.3f %8.3f %7.3f %10.0f %9.1fKB %10.1fKB %8s  %.3f [%.3f..%.3f]" % (t, wall, wall / bare, cpu, cpu / bare_cpu, rate, data / 1024, per10 / 1024,
          "%.1f" % statistics.median(shares) if shares else "-", statistics.median(paired), paired[0], paired[-1]))
PYEOF
