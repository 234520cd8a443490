#!/usr/bin/env bash
# perftriage benchmark: (1) classification accuracy per class over varied
# seeds of generated CI histories; (2) parse speed on a large corpus
# (20 splits x 12,000 testcases x 10 runs, ~200 MB) against Python's
# xml.etree and a bare expat scan on the same files in the same run;
# (3) peak RSS for 1 vs many files; (4) step/trend analysis on 10,000 points.
# Numbers are printed, not asserted. SEEDS=N sets the number of seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PB_BUILD:-build/bench-triage}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target perftriage-bin bench_junit_scan bench_junit_read \
  bench_triage_step >/dev/null
PT=$build/bin/perftriage
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-triage.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== accuracy over ${SEEDS:-12} seeds (30 runs x 4 splits, 5 benchmarks per class + 20 stable)"
styles=(pytest surefire mixed)
for ((s = 1; s <= ${SEEDS:-12}; s++)); do
  st=${styles[$((s % 3))]}
  bad=()
  [ $((s % 3)) -eq 0 ] && bad=(--bad-runner $((5 + s)))
  python3 scripts/gen-ci-history.py --seed "$s" --out "$work/h$s" --style "$st" "${bad[@]}"
  args=()
  for d in "$work/h$s"/run-*; do args+=(--junit "$d"); done
  "$PT" classify "${args[@]}" --format json >"$work/h$s.json" || true
done
python3 - "$work" "${SEEDS:-12}" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
per, tot = {}, [0, 0]
for s in range(1, n + 1):
    truth = json.load(open("%s/h%d/truth.json" % (work, s)))
    got = {b["id"]: b["class"] for b in json.load(open("%s/h%d.json" % (work, s)))["benchmarks"]}
    for k, v in truth.items():
        p = per.setdefault(v, [0, 0]); p[1] += 1; tot[1] += 1
        if got.get(k) == v:
            p[0] += 1; tot[0] += 1
for c in ("flaky", "regression", "variance", "gradual"):
    ok, all_ = per.get(c, [0, 0])
    print("  %-10s %4d/%-4d %6.1f%%" % (c, ok, all_, 100.0 * ok / max(all_, 1)))
print("  %-10s %4d/%-4d %6.1f%%   (goal >= 95%%)" % ("all", tot[0], tot[1], 100.0 * tot[0] / tot[1]))
PY

echo "== large corpus"
python3 scripts/gen-ci-history.py --seed 1 --out "$work/large" --large
mapfile -t files < <(find "$work/large" -name '*.xml' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "  ${#files[@]} files, $((bytes / 1000000)) MB"
cat "${files[@]}" >/dev/null # page cache warm for every contender

etree=$(python3 - "${files[@]}" <<'PY'
import sys, time, os, xml.etree.ElementTree as ET
t0 = time.perf_counter(); n = 0; b = 0
for f in sys.argv[1:]:
    n += sum(1 for _ in ET.parse(f).getroot().iter("testcase")); b += os.path.getsize(f)
s = time.perf_counter() - t0
print("%.1f %d" % (b / 1e6 / s, n))
PY
)
# The C contenders run in rounds, interleaved, so a busy or drifting machine
# hits them alike: median MB/s of each, and the median of each round's ratio
# to that round's bare scan (one run each is +-15% on this VM).
rounds=${TRIAGE_ROUNDS:-5}
mbs() { sed -E 's/.*MB\/s ([0-9.]+).*/\1/'; }
runs_dirs=$(for d in "$work/large"/run-*; do echo --junit "$d"; done)
scan_l="" read_l="" full1_l="" full2_l=""
for r in $(seq "$rounds"); do
    scan=$("$build/bench/bench_junit_scan" "${files[@]}")
    scan_l+=" $(echo "$scan" | mbs)"
    read_l+=" $("$build/bench/bench_junit_read" "${files[@]}" | mbs)"
    full1_l+=" $("$PT" parse --threads 1 $runs_dirs | mbs)"
    full2=$("$PT" parse --threads 2 $runs_dirs)
    full2_l+=" $(echo "$full2" | mbs)"
done
e=${etree%% *}
python3 - "$e" "$scan_l" "$read_l" "$full1_l" "$full2_l" "$rounds" <<'PY'
import statistics, sys
e = float(sys.argv[1])
scan, read, f1, f2 = ([float(v) for v in a.split()] for a in sys.argv[2:6])
b = statistics.median(scan)
rows = [("python xml.etree (1 core, once)", [e], None), ("bare expat scan (1 core)", scan, None),
        ("junit reader, no store (1 core)", read, read), ("perftriage parse, 1 thread", f1, f1),
        ("perftriage parse, 2 threads", f2, f2)]
print("  %d rounds; MB/s is the median, 'paired' the median of each round's ratio to its scan" % int(sys.argv[6]))
print("  %-34s %9s %10s %10s %16s" % ("parser", "MB/s", "vs expat", "vs etree", "paired [min..max]"))
for name, vals, pair in rows:
    v = statistics.median(vals)
    extra = ""
    if pair:
        ratios = sorted(x / s for x, s in zip(pair, scan))
        extra = "%4.0f%% [%.0f..%.0f]" % (100 * statistics.median(ratios), 100 * ratios[0], 100 * ratios[-1])
    print("  %-34s %9.1f %9.0f%% %9.1fx %16s" % (name, v, 100 * v / b, v / e, extra))
print("  (goal: >= 80% of the bare expat scan on one core)")
PY
echo "  testcases: etree ${etree##* }, $(echo "$scan" | sed -E 's/.*testcases ([0-9]+).*/\1/') expat, $(echo "$full2" | sed -E 's/.*testcases ([0-9]+).*/\1/') perftriage"

echo "== peak RSS (KB)"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
one=${files[0]}
echo "  reader alone:       1 file $(rss "$build/bench/bench_junit_read" "$one")  ${#files[@]} files $(rss "$build/bench/bench_junit_read" "${files[@]}")"
echo "  perftriage parse:   1 run (20 files) $(rss "$PT" parse --junit "$work/large/run-000")  10 runs (200 files) $(rss "$PT" parse $(for d in "$work/large"/run-*; do echo --junit "$d"; done))"
echo "  (the reader is flat in the number of files; the store grows with tests x runs, not with files)"

echo "== step and trend analysis on 10,000 points"
echo "  $("$build/bench/bench_triage_step" 10000)"
if [ -x "$build/bench/bench_changepoint" ] || cmake --build "$build" --target bench_changepoint >/dev/null 2>&1; then
  echo "  changepoint module: $("$build/bench/bench_changepoint" 2>&1 | tail -3 | tr '\n' ' ')"
fi
