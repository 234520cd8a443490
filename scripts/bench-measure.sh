#!/usr/bin/env bash
# Per-run overhead of `perfbisect measure` against hyperfine, on the same
# trivial command, measured in the same run and interleaved (rounds of
# hyperfine -N, hyperfine with its shell, perfbisect), so that drift of a
# shared machine hits all three alike. Prints the median of the rounds.
#
# What is compared (be careful reading the ratios):
#   hyperfine -N true   execs /usr/bin/true directly: no shell at all.
#   hyperfine true      runs `sh -c true` per run (like us), plus its own
#                       calibration runs of the bare shell, which it then
#                       subtracts from its reported times.
#   perfbisect measure  runs `/bin/sh -c true` per run (dash: `true` is a
#                       builtin, so one process per run).
# per-run = wall time of the whole tool invocation / (runs + warmup), so it
# includes the tool's own start-up, amortised.
#
# Usage: scripts/bench-measure.sh [BUILD_DIR]   (env: RUNS=300 ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --bench

build=${1:-build}
runs=${RUNS:-300}
rounds=${ROUNDS:-5}
warmup=10
if [ ! -x "$build/bin/perfbisect" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target perfbisect-bin >/dev/null
fi
pb=$(cd "$build/bin" && pwd)/perfbisect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now_ns() { date +%s%N; }

# time_it NAME CMD...: append the per-run wall time (µs) of one invocation;
# its stdout is kept in $tmp/NAME.out.
time_it() {
  local name=$1
  shift
  local t0 t1
  t0=$(now_ns)
  "$@" >"$tmp/$name.out" 2>/dev/null
  t1=$(now_ns)
  echo "scale=3; ($t1 - $t0) / 1000 / ($runs + $warmup)" | bc >>"$tmp/$name"
}

for ((r = 1; r <= rounds; r++)); do
  time_it hf_noshell hyperfine -N --runs "$runs" --warmup "$warmup" --style none true
  time_it hf_shell hyperfine --runs "$runs" --warmup "$warmup" --style none true
  time_it pb "$pb" measure --runs "$runs" --warmup "$warmup" --format json -- true
  # The command's own time as perfbisect measured it (mean, µs): the rest of
  # the per-run time is perfbisect's overhead.
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["mean"] * 1e6))' \
    "$tmp/pb.out" >>"$tmp/pb_child"
done

median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
hfn=$(median "$tmp/hf_noshell")
hfs=$(median "$tmp/hf_shell")
pbm=$(median "$tmp/pb")

child=$(median "$tmp/pb_child")

echo "per-run wall time, median of $rounds rounds of $runs runs (+$warmup warmup), in µs:"
printf '  %-34s %8.1f\n' "hyperfine -N true (no shell)" "$hfn"
printf '  %-34s %8.1f\n' "hyperfine true (sh -c, calibrated)" "$hfs"
printf '  %-34s %8.1f\n' "perfbisect measure -- true (sh -c)" "$pbm"
printf '  %-34s %8.1f\n' "  of which spawn-to-exit (its mean)" "$child"
echo "ratios (< 1: perfbisect costs less per run):"
printf '  perfbisect / hyperfine with shell  %.2f\n' "$(echo "$pbm / $hfs" | bc -l)"
printf '  perfbisect / hyperfine -N          %.2f\n' "$(echo "$pbm / $hfn" | bc -l)"
