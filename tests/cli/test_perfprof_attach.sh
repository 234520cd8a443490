#!/usr/bin/env bash
# perfprof attach: sample a running split (tests/cli/prof/split.c) from
# outside for a second, then check the target kept running and finished its
# work with the right result, and that the profile found its hot leaves.
# ~500 samples: a 50% share has a standard error of ~2.2 points, so the
# shares are checked loosely (+/-10 points) here; the precise +/-3 point
# checks are in test_perfprof_record.sh.
set -euo pipefail
: "${PB_BIN:?}" "${PB_SRC:?}"
PY=/usr/bin/python3
work=$(mktemp -d)
target=
cleanup() { [ -n "$target" ] && kill "$target" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

cc -O2 -fomit-frame-pointer -g -pthread -o split "$PB_SRC/tests/cli/prof/split.c"
P="$PB_BIN/perfprof"
rounds=8000
want=$(./split -r "$rounds" -t 2 | grep checksum)

./split -r "$rounds" -t 2 -b >target.out &
target=$!
sleep 0.2
"$P" attach -p "$target" -d 0.8 -F 499 -o att.data 2>attach.err || fail "attach: $(cat attach.err)"
kill -0 "$target" 2>/dev/null || fail "target is gone right after detach"
beats=$(grep -c heartbeat target.out)
set +e
wait "$target"
rc=$?
set -e
target=
[ "$rc" -eq 0 ] || fail "target exited $rc"
[ "$(grep checksum target.out)" = "$want" ] || fail "target's result changed"
[ "$(grep -c heartbeat target.out)" -gt "$beats" ] || fail "no heartbeat after detach"

"$P" report -i att.data --format json --top 0 >att.json 2>/dev/null
"$PY" - <<'PYEOF' || fail "attach profile"
import json
d = json.load(open("att.json"))
f = {x["name"]: x for x in d["functions"]}
assert d["samples"] >= 100, d["samples"]
assert d["mode"] == "ptrace" and d["threads"] >= 2, (d["mode"], d["threads"])
for name, pct in {"leaf_a": 50, "leaf_b": 30, "leaf_c": 20}.items():
    got = f[name]["self_pct"]
    print("%s %.1f%% (want %d +/- 10)" % (name, got, pct))
    assert abs(got - pct) <= 10, name
assert f["work_ab"]["total_pct"] > 60
PYEOF

set +e
"$P" attach -p 999999999 -d 1 2>err.txt
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q '^perfprof: ' err.txt || fail "attach to a missing pid: $rc $(cat err.txt)"
echo ok
