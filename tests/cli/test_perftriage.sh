#!/usr/bin/env bash
# End to end: perftriage classifies generated CI histories (pytest and Surefire
# rerun styles, a runner failure, hostile files) and compares with the truth.
set -euo pipefail
: "${PB_BIN:?}" "${PB_SRC:?}"
PT="$PB_BIN/perftriage"
PY=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# accuracy.py TRUTH RESULT MIN: prints accuracy, fails below MIN.
cat >"$work/acc.py" <<'PYEOF'
import json, sys
truth = json.load(open(sys.argv[1])); res = json.load(open(sys.argv[2]))
got = {b["id"]: b["class"] for b in res["benchmarks"]}
ok = sum(1 for k, v in truth.items() if got.get(k) == v)
for k, v in truth.items():
    if got.get(k) != v:
        print("  miss: %s is %s, got %s" % (k, v, got.get(k)))
extra = [k for k in got if k not in truth]
print("accuracy %d/%d, extra %d" % (ok, len(truth), len(extra)))
sys.exit(0 if ok >= float(sys.argv[3]) * len(truth) and not extra else 1)
PYEOF

runs() { for d in "$1"/run-*; do printf -- '--junit\n%s\n' "$d"; done; }

# 1. mixed styles with a runner failure in run 12
$PY "$PB_SRC/scripts/gen-ci-history.py" --seed 101 --out "$work/h1" --style mixed --bad-runner 12
mapfile -t args < <(runs "$work/h1")
rc=0
"$PT" classify "${args[@]}" --format json >"$work/h1.json" 2>"$work/h1.err" || rc=$?
[ "$rc" -eq 1 ] || fail "classify should exit 1 when regressions are found (got $rc)"
$PY "$work/acc.py" "$work/h1/truth.json" "$work/h1.json" 0.95 || fail "accuracy below 95% (mixed)"
# the regressions name the right commits and print the command
$PY - "$work/h1/truth-steps.json" "$work/h1.json" <<'PYEOF' || fail "regression commits"
import json, shlex, sys
steps = json.load(open(sys.argv[1])); res = {b["id"]: b for b in json.load(open(sys.argv[2]))["benchmarks"]}
for k in ("id", "class", "failures", "runs", "evidence", "action"):
    assert all(k in b for b in res.values()), k
right = 0
for tid, s in steps.items():
    b = res[tid]
    if b["class"] == "regression" and b["evidence"]["last_good"] == s["last_good"] \
            and b["evidence"]["first_bad"] == s["first_bad"]:
        argv = shlex.split(b["action"])  # as a POSIX shell splits it
        assert argv[:7] == ["perfbisect", "run", "--good", s["last_good"], "--bad", s["first_bad"],
                            "--bench"] and len(argv) == 8, argv
        right += 1
print("regression commits right: %d/%d" % (right, len(steps)))
assert right >= len(steps) - 1
PYEOF
$PY -c "
import json,sys; r=json.load(open('$work/h1.json'))
assert [x['run'] for x in r['runner_problems']] == ['$work/h1/run-012'], r['runner_problems']
assert all(k in r for k in ('splits','broad_regressions','summary'))
" || fail "runner problem not reported"

# 2. surefire style; runs given newest first: ordering comes from the timestamps
$PY "$PB_SRC/scripts/gen-ci-history.py" --seed 7 --out "$work/h2" --style surefire
mapfile -t args < <(runs "$work/h2")
rev=()
for ((i = ${#args[@]} - 2; i >= 0; i -= 2)); do rev+=(--junit "${args[i + 1]}"); done
"$PT" classify "${rev[@]}" --format json >"$work/h2.json" || true
$PY "$work/acc.py" "$work/h2/truth.json" "$work/h2.json" 0.95 || fail "accuracy below 95% (surefire, reversed)"

# 3. hostile and broken files: a warning each, the rest still counts
d="$work/h2/run-005"
printf '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><testsuite><testcase name="&b;"/></testsuite>' >"$d/junit-laughs.xml"
printf '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&x;"/></testsuite>' >"$d/junit-xxe.xml"
head -c $(($(stat -c %s "$d/junit-0.xml") / 2)) "$d/junit-0.xml" >"$d/junit-trunc.xml"
head -c 4096 /dev/urandom >"$d/junit-binary.xml"
"$PT" classify "${args[@]}" --format json >"$work/h3.json" 2>"$work/h3.err" || true
[ "$(grep -c 'warning:' "$work/h3.err")" -eq 4 ] || { cat "$work/h3.err"; fail "expected 4 warnings"; }
grep -q 'junit-laughs.xml.*entity' "$work/h3.err" || fail "billion laughs not named"
grep -q 'junit-trunc.xml' "$work/h3.err" || fail "truncated file not named"
$PY "$work/acc.py" "$work/h2/truth.json" "$work/h3.json" 0.95 || fail "hostile files changed the verdicts"

# 4. text and markdown views
"$PT" classify "${args[@]}" --format markdown >"$work/h.md" 2>/dev/null || true
grep -q '^| Class | Test | Failed | Evidence | Action |' "$work/h.md" || fail "markdown table"
"$PT" classify "${args[@]}" >"$work/h.txt" 2>/dev/null || true
grep -q 'perfbisect run --good' "$work/h.txt" || fail "text view lacks the bisect command"

# 4b. a test name with a line break, a backtick and a pipe (JUnit allows
# them) keeps its report line and its Markdown row whole
for i in 1 2 3 4 5 6; do
  mkdir -p "$work/names/r$i"
  f=""
  [ "$i" = 3 ] && f='<failure message="boom"/>'
  echo "<testsuite><testcase classname=\"m\" name=\"a&#10;b\`c|d\" time=\"0.01\">$f</testcase></testsuite>" \
    >"$work/names/r$i/junit-x.xml"
done
nargs=()
for i in 1 2 3 4 5 6; do nargs+=(--junit "$work/names/r$i"); done
"$PT" classify "${nargs[@]}" >"$work/names.txt" || true
grep -q '^[a-z]* *1/6 *m::a b`c|d$' "$work/names.txt" || fail "odd name, text: $(cat "$work/names.txt")"
"$PT" classify "${nargs[@]}" --format markdown >"$work/names.md" || true
grep -q '^| [a-z]* | `` m::a b`c\\|d `` | 1/6 | .* |$' "$work/names.md" || fail "odd name, markdown: $(cat "$work/names.md")"

# 5. threshold: strictness and CI=true
"$PT" threshold "${args[@]}" --strictness strict --format json 2>/dev/null >"$work/t.json"
$PY -c "import json; r=json.load(open('$work/t.json')); assert r['multiplier']==0.5 and r['thresholds'], r['multiplier']"
# A test classify calls a regression or gradual is flagged: a higher limit would hide it.
"$PT" classify "${args[@]}" --format json 2>/dev/null >"$work/tc.json" || true
$PY - "$work/tc.json" "$work/t.json" <<'PYEOF' || fail "threshold: hides does not follow classify"
import json, sys
cls = {v["id"]: v["class"] for v in json.load(open(sys.argv[1]))["benchmarks"]}
th = json.load(open(sys.argv[2]))["thresholds"]
flagged = {t["id"]: t["hides"] for t in th if t["hides"]}
want = {i: c for i, c in cls.items() if c in ("regression", "gradual") and any(t["id"] == i for t in th)}
assert want and flagged == want, (flagged, want)
PYEOF
CI=true "$PT" threshold "${args[@]}" --format json 2>/dev/null >"$work/t2.json"
$PY -c "import json; r=json.load(open('$work/t2.json')); assert r['strictness']=='ci' and r['multiplier']==2.0"
set +e
"$PT" threshold "${args[@]}" --strictness lax >/dev/null 2>"$work/e1"; rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <"$work/e1")" -eq 1 ] && grep -q '^perftriage: ' "$work/e1" || fail "bad strictness"

# 5b. impossible times: a negative one is no time, one beyond a float's range
# is unknown (it was kept as inf and made the median inf)
for i in 1 2 3 4 5 6; do
  mkdir -p "$work/odd/r$i"
  t=0.01
  [ "$i" = 3 ] && t=1e308
  echo "<testsuite><testcase classname=\"m\" name=\"a\" time=\"$t\"/><testcase classname=\"m\" name=\"b\" time=\"-5\"/></testsuite>" >"$work/odd/r$i/junit-x.xml"
done
"$PT" threshold --format json $(for i in 1 2 3 4 5 6; do echo --junit "$work/odd/r$i"; done) >"$work/odd.json"
$PY -c "
import json; t={x['id']: x for x in json.load(open('$work/odd.json'))['thresholds']}
assert list(t) == ['m::a'] and t['m::a']['n'] == 5 and abs(t['m::a']['median'] - 0.01) < 1e-6, t
# kept as 32-bit floats, printed to a float's digits: 10 ms is 0.01, not 0.009999999776
assert t['m::a']['median'] == 0.01, t" ||
  fail "impossible times: $(cat "$work/odd.json")"

# 6. usage errors: one line, exit 2
# (a pipe named like a report is no report: read, it would block for ever)
mkdir "$work/fifo-run" && mkfifo "$work/fifo-run/junit-e.xml"
for bad in "classify" "classify --junit /nonexistent" "classify --format xml --junit $work/h2/run-000" "frobnicate" \
  "classify --junit $work/fifo-run"; do
  set +e
  # shellcheck disable=SC2086
  timeout 60 "$PT" $bad >/dev/null 2>"$work/e2"; rc=$?
  set -e
  [ "$rc" -eq 2 ] && [ "$(wc -l <"$work/e2")" -eq 1 ] || fail "'$bad' should fail with one line (rc $rc)"
done

# 7. console logs and a history file
for i in 0 1 2 3 4 5; do
  {
    echo "commit: c$i"
    echo "tests/perf/test_io.py::test_read PASSED [ 50%]"
    if [ "$i" -eq 3 ]; then
      echo "tests/perf/test_io.py::test_write RERUN [100%]"
      echo "tests/perf/test_io.py::test_write PASSED [100%]"
      echo "RERUN tests/perf/test_io.py::test_write"
    else
      echo "tests/perf/test_io.py::test_write PASSED [100%]"
    fi
    echo "0.0$((10 + i % 2))s call     tests/perf/test_io.py::test_write"
  } >"$work/run$i.log"
done
largs=()
for i in 0 1 2 3 4 5; do largs+=(--log "$work/run$i.log"); done
"$PT" classify "${largs[@]}" --format json >"$work/l.json"
$PY -c "
import json; r=json.load(open('$work/l.json'))
b={x['id']:x for x in r['benchmarks']}
assert list(b)==['tests.perf.test_io::test_write'], b
assert b['tests.perf.test_io::test_write']['class']=='flaky'
assert b['tests.perf.test_io::test_write']['evidence']['reruns_passed']==1
" || fail "console logs"
printf 'run,commit,test,value,outcome\n' >"$work/hist.csv"
for i in $(seq 0 19); do
  if [ "$i" -lt 10 ]; then v=0.010; o=passed; else v=0.020; o=failed; fi
  echo "r$i,c$i,m::t,$v,$o" >>"$work/hist.csv"
done
rc=0
"$PT" classify --history "$work/hist.csv" --format json >"$work/hh.json" || rc=$?
[ "$rc" -eq 1 ] || fail "history regression should exit 1"
$PY -c "
import json; r=json.load(open('$work/hh.json'))['benchmarks'][0]
assert r['class']=='regression' and r['evidence']['last_good']=='c9' and r['evidence']['first_bad']=='c10', r
" || fail "history regression"
# 8. the suggested bisect command is safe to paste into a shell: a test name
# with an apostrophe and $(...) and commits with quotes arrive intact as
# perfbisect's arguments, in every format, and nothing in them runs.
pwn="$work/PWNED"
name="test_read[it's \$(touch $pwn)]"
good="v9'; touch $pwn; '"
bad="\$(touch $pwn)"
$PY - "$work/inj" "$name" "$good" "$bad" <<'PYEOF'
import os, sys
from xml.sax.saxutils import quoteattr
out, name, good, bad = sys.argv[1:5]
for i in range(20):
    d = os.path.join(out, "run-%02d" % i)
    os.makedirs(d)
    v = (0.010 if i < 10 else 0.020) + 0.0001 * (i % 3)
    fail = '<failure message="took %.2fms, expected &lt; 15ms"/>' % (v * 1e3) if i >= 10 else ""
    commit = good if i == 9 else bad if i == 10 else "c%02d" % i
    with open(os.path.join(d, "junit-0.xml"), "w") as f:
        f.write('<testsuite name="s" timestamp="2024-01-%02dT00:00:00"><properties>'
                '<property name="commit" value=%s/></properties>'
                '<testcase classname="tests.perf.test_io" name=%s time="%.4f">%s</testcase>'
                '</testsuite>\n' % (i + 1, quoteattr(commit), quoteattr(name), v, fail))
PYEOF
iargs=()
for d in "$work"/inj/run-*; do iargs+=(--junit "$d"); done
for fmt in json text markdown; do
  rc=0
  "$PT" classify "${iargs[@]}" --format "$fmt" >"$work/inj.$fmt" || rc=$?
  [ "$rc" -eq 1 ] || fail "injection: classify --format $fmt exit $rc"
done
# the command line as each format shows it
$PY - "$work" <<'PYEOF' || fail "injection: no command line in some format"
import json, re, sys
w = sys.argv[1]
b = json.load(open(w + "/inj.json"))["benchmarks"]
assert len(b) == 1 and b[0]["class"] == "regression", b
lines = {"json": b[0]["action"]}
for l in open(w + "/inj.text", encoding="utf-8"):
    if l.strip().startswith("-> perfbisect run "):
        lines["text"] = l.strip()[3:]
for l in open(w + "/inj.markdown", encoding="utf-8"):
    m = re.search(r"\| `(perfbisect run .*)` \|$", l.rstrip("\n"))
    if m:
        lines["markdown"] = m.group(1).replace("\\|", "|")
assert sorted(lines) == ["json", "markdown", "text"], lines
for k, v in lines.items():
    open("%s/cmd.%s" % (w, k), "w").write(v)
PYEOF
for fmt in json text markdown; do
  line=$(cat "$work/cmd.$fmt")
  for shell in sh bash; do
    $shell -n -c "$line" || fail "injection: $fmt: $shell -n refuses: $line"
    # perfbisect: a stub that writes its arguments, NUL-terminated
    OUT="$work/argv" $shell -c 'perfbisect() { printf "%s\0" "$@" >"$OUT"; }; eval "$1"' _ "$line" ||
      fail "injection: $fmt: $shell could not run: $line"
    [ ! -e "$pwn" ] || fail "injection: $fmt: $shell ran code from the report: $line"
    # perfbisect runs --bench under /bin/sh -c: a stub pytest gets the test
    $PY - "$work/argv" "$good" "$bad" "$name" "$work/bench" <<'PYEOF' || fail "injection: $fmt: $shell: arguments"
import sys
argv = open(sys.argv[1], encoding="utf-8").read().split("\0")[:-1]
good, bad, name = sys.argv[2:5]
assert argv[:6] == ["run", "--good", good, "--bad", bad, "--bench"] and len(argv) == 7, argv
open(sys.argv[5], "w").write(argv[6])
PYEOF
    OUT="$work/pyargv" sh -c 'pytest() { printf "%s\0" "$@" >"$OUT"; }; eval "$1"' _ "$(cat "$work/bench")" ||
      fail "injection: $fmt: the --bench command does not run"
    [ ! -e "$pwn" ] || fail "injection: $fmt: the --bench command ran code from the name"
    $PY -c '
import sys
a = open(sys.argv[1], encoding="utf-8").read().split("\0")[:-1]
assert a == ["tests/perf/test_io.py::" + sys.argv[2]], a' "$work/pyargv" "$name" ||
      fail "injection: $fmt: pytest does not get the test: $(cat "$work/bench")"
    rm -f "$work/argv" "$work/pyargv"
  done
done

# 9. a --log test id that is not UTF-8 keeps its id (and message) in the JSON,
# its bad byte as U+FFFD; it used to be left out
mkdir -p "$work/l1"
for i in 0 1 2 3 4 5; do
  {
    echo "commit: c$i"
    if [ "$i" -eq 3 ]; then
      printf 'FAILED tests/perf/test_io.py::test_caf\351 - took 15.3ms, expected < 10ms\n'
    else
      printf 'tests/perf/test_io.py::test_caf\351 PASSED [100%%]\n'
    fi
  } >"$work/l1/run$i.log"
done
l1args=()
for i in 0 1 2 3 4 5; do l1args+=(--log "$work/l1/run$i.log"); done
"$PT" classify "${l1args[@]}" --format json >"$work/l1.json" || true
$PY -c "
import json; b=json.load(open('$work/l1.json'))['benchmarks']
assert len(b) == 1 and all(k in b[0] for k in ('id', 'class', 'failures', 'runs', 'evidence', 'action')), b
assert b[0]['id'] == 'tests.perf.test_io::test_caf\ufffd', b[0]['id']
" || fail "a test id that is not UTF-8: $(cat "$work/l1.json")"

# A throughput (a testcase property ops_per_sec) that fell 10% and fails
# under its minimum from run 10 on: a regression sized as measured, not
# "variance"; its recommended threshold is a minimum.
$PY - "$work/ops" <<'PYEOF'
import os, sys
for i in range(16):
    d = os.path.join(sys.argv[1], "run-%02d" % i)
    os.makedirs(d)
    v = (1000 if i < 10 else 900) + i % 3
    fail = '<failure message="ops_per_sec %d below the minimum 950"/>' % v if i >= 10 else ""
    with open(os.path.join(d, "junit-0.xml"), "w") as f:
        f.write('<testsuite name="s" timestamp="2024-02-%02dT00:00:00"><properties>'
                '<property name="commit" value="c%02d"/></properties>'
                '<testcase classname="bench" name="test_ops" time="1.0"><properties>'
                '<property name="ops_per_sec" value="%d"/></properties>%s</testcase>'
                '</testsuite>\n' % (i + 1, i, v, fail))
PYEOF
oargs=()
for d in "$work"/ops/run-*; do oargs+=(--junit "$d"); done
"$PT" classify "${oargs[@]}" --format json >"$work/ops.json" || true
"$PT" threshold "${oargs[@]}" --format json >"$work/ops-th.json"
$PY - "$work/ops.json" "$work/ops-th.json" <<'PYEOF' || fail "a throughput that fell: $(cat "$work/ops.json")"
import json, sys
b = json.load(open(sys.argv[1]))["benchmarks"]
assert len(b) == 1 and b[0]["class"] == "regression", b
e = b[0]["evidence"]
assert e["lower_is_worse"] and e["first_bad"] == "c10" and e["last_good"] == "c09", e
assert e["before_median"] == 1001 and e["after_median"] == 901 and -10.1 < e["change_pct"] < -9.9, e
t = json.load(open(sys.argv[2]))["thresholds"]
assert t[0]["lower_is_worse"] and t[0]["recommended"] < t[0]["p5"] < t[0]["median"], t
PYEOF
"$PT" threshold "${oargs[@]}" | grep -Eq '^bench::test_ops .* min [0-9.]+! ' ||
  fail "threshold text: a rate's minimum not marked: $("$PT" threshold "${oargs[@]}")"
# A timeout's limit in seconds says nothing about ops per second: one such
# failure early on turned the fall around (variance, an upper threshold).
sed -i 's|</testcase>|<failure message="timed out: exceeded the 30 s limit"/></testcase>|' \
  "$work/ops/run-03/junit-0.xml"
"$PT" classify "${oargs[@]}" --format json >"$work/ops2.json" || true
$PY -c "
import json; b = json.load(open('$work/ops2.json'))['benchmarks']
assert b[0]['class'] == 'regression' and b[0]['evidence']['lower_is_worse'], b" ||
  fail "a timeout's limit turned a falling throughput around: $(cat "$work/ops2.json")"

# Real reports (tests/data/junit-real, see its README): counts as the files say.
real="$PB_SRC/tests/data/junit-real"
parse_counts() { "$PT" parse "$@" | sed 's/ seconds .*//'; }
[ "$(parse_counts --junit "$real/gtest.xml")" = \
  "runs 1 files 1 bytes 6563 testcases 13 attempts 13 tests 13 failing 4 warnings 0" ] ||
  fail "gtest: one result per testcase: $(parse_counts --junit "$real/gtest.xml")"
[ "$(parse_counts --junit "$real/gradle-merge-reruns.xml")" = \
  "runs 1 files 1 bytes 2492 testcases 5 attempts 13 tests 3 failing 3 warnings 0" ] ||
  fail "gradle reruns: $(parse_counts --junit "$real/gradle-merge-reruns.xml")"
[ "$(parse_counts --junit "$real/pytest-xunit2.xml")" = \
  "runs 1 files 1 bytes 1919 testcases 10 attempts 10 tests 10 failing 2 warnings 0" ] ||
  fail "pytest xunit2: $(parse_counts --junit "$real/pytest-xunit2.xml")"
# Google Test's DISABLED_ tests are skipped (no value); two failed assertions are one failure.
"$PT" threshold --junit "$real/gtest.xml" --junit "$real/gtest.xml" --junit "$real/gtest.xml" \
  --format json >"$work/gtest-th.json"
$PY - "$work/gtest-th.json" <<'PYEOF' || fail "gtest thresholds: $(cat "$work/gtest-th.json")"
import json, sys
t = {x["id"]: x["n"] for x in json.load(open(sys.argv[1]))["thresholds"]}
assert not any("DISABLED" in k for k in t), t
assert t["MixedResultTest::Fails"] == 3 and t["SkippedTest::SkippedAfterFailure"] == 3, t
PYEOF
# Old Surefire names no classname: the suite is the class, so two classes'
# testX are two tests, not one run twice.
mkdir "$work/sf"
cp "$real/TEST-com.shape.CircleTest.xml" "$work/sf/"
sed -e 's/CircleTest/PointTest/g' -e '/<failure/,/<\/failure>/d' -e '/<error/,/<\/error>/d' \
  "$real/TEST-com.shape.CircleTest.xml" >"$work/sf/TEST-com.shape.PointTest.xml"
"$PT" classify --junit "$work/sf" --format json >"$work/sf.json"
$PY - "$work/sf.json" <<'PYEOF' || fail "surefire without classname: $(cat "$work/sf.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["tests"] == 16, r["tests"]
assert sorted(b["id"] for b in r["benchmarks"]) == [
    "com.shape.CircleTest::testProperties", "com.shape.CircleTest::testRadius"], r["benchmarks"]
PYEOF
"$PT" classify --junit "$real/jest-junit.xml" --format json | grep -q '"tests": 2' ||
  fail "jest-junit"
# A well-formed file that is no JUnit report: one line, exit 2; with others, a warning.
rc=0
"$PT" classify --junit "$real/non-junit.xml" >/dev/null 2>"$work/nj.err" || rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$work/nj.err")" -eq 1 ] &&
  grep -q 'non-junit.xml: not a JUnit report: its root element is <suites>' "$work/nj.err" &&
  ! grep -q 'file skipped' "$work/nj.err" ||
  fail "not JUnit (rc $rc): $(cat "$work/nj.err")"
"$PT" parse --junit "$real/non-junit.xml" --junit "$real/jest-junit.xml" 2>"$work/nj2.err" |
  grep -q 'tests 2 ' || fail "not JUnit among others"
grep -q 'warning: .*not a JUnit report.*(file skipped)' "$work/nj2.err" || fail "$(cat "$work/nj2.err")"

echo "ok"
