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
scan=$("$build/bench/bench_junit_scan" "${files[@]}")
read1=$("$build/bench/bench_junit_read" "${files[@]}")
full1=$("$PT" parse --threads 1 $(for d in "$work/large"/run-*; do echo --junit "$d"; done))
full2=$("$PT" parse --threads 2 $(for d in "$work/large"/run-*; do echo --junit "$d"; done))
mbs() { sed -E 's/.*MB\/s ([0-9.]+).*/\1/'; }
e=${etree%% *}
b=$(echo "$scan" | mbs)
python3 - "$e" "$b" "$(echo "$read1" | mbs)" "$(echo "$full1" | mbs)" "$(echo "$full2" | mbs)" <<'PY'
import sys
e, b, r1, f1, f2 = map(float, sys.argv[1:])
rows = [("python xml.etree (1 core)", e), ("bare expat scan (1 core)", b),
        ("junit reader, no store (1 core)", r1), ("perftriage parse, 1 thread", f1),
        ("perftriage parse, 2 threads", f2)]
print("  %-34s %9s %10s %10s" % ("parser", "MB/s", "vs expat", "vs etree"))
for name, v in rows:
    print("  %-34s %9.1f %9.0f%% %9.1fx" % (name, v, 100 * v / b, v / e))
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
