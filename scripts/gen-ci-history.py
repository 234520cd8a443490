#!/usr/bin/env python3
"""Generate labelled CI histories for perftriage: one directory per run with
junit-<split>.xml files, and truth.json mapping each test that can fail to its
class (flaky, regression, variance, gradual).

  gen-ci-history.py --seed S --out DIR [--runs R] [--splits K] [--benchmarks B]
                    [--stable N] [--style pytest|surefire|mixed] [--bad-runner RUN]
                    [--large]

Benchmarks follow the CI guide: each measures a duration, records it as a
property (duration_ms), and fails with "took 15.32ms, expected < 10ms
(threshold exceeded by 53.2%)" (or a variant) when over its limit. Reruns:
pytest-rerunfailures style repeats the testcase in the same file; Surefire
style uses flakyFailure / rerunFailure children. --large writes the parse
benchmark corpus (20 splits x 12,000 testcases x 10 runs by default, ~200 MB).
Standard library only.
"""
import argparse
import hashlib
import json
import os
import random
from xml.sax.saxutils import quoteattr

CLASSES = ("flaky", "regression", "variance", "gradual")


def sha(seed, i):
    return hashlib.sha1(("%s-%d" % (seed, i)).encode()).hexdigest()


def fmt_message(value_ms, limit_ms, variant):
    over = 100.0 * (value_ms - limit_ms) / limit_ms
    if variant == 0:
        return "AssertionError: took %.2fms, expected < %.0fms (threshold exceeded by %.1f%%)" % (
            value_ms, limit_ms, over)
    if variant == 1:
        return "AssertionError: benchmark took %.1f us, expected < %.0f us" % (
            value_ms * 1000, limit_ms * 1000)
    if variant == 2:
        return "AssertionError: %.2f ms exceeds %.2f ms" % (value_ms, limit_ms)
    if variant == 3:
        return "AssertionError: took %.4fs > %.4fs" % (value_ms / 1000, limit_ms / 1000)
    return "AssertionError: took %.2f\u00b5s, expected < %.0f\u00b5s" % (value_ms * 1000, limit_ms * 1000)


class Bench:
    def __init__(self, rng, kind, idx, runs, style):
        self.kind = kind
        self.base = rng.uniform(2.0, 50.0)
        self.variant = rng.randrange(5)
        self.rerun = rng.random() < 0.7  # reruns configured for this job
        if style == "surefire":
            self.classname = "com.example.perf.Bench%03d" % idx
            self.name = "testCase%03d" % idx
        else:
            self.classname = "tests.perf.test_bench_%03d" % (idx // 4)
            self.name = "test_case_%03d" % idx
        self.cv = 0.03
        self.limit = self.base * 1.5
        self.step = None
        self.slope = 0.0
        self.outlier_p = 0.0
        if kind == "flaky":
            self.cv = rng.uniform(0.015, 0.03)
            self.limit = self.base * 1.4
            self.outlier_p = rng.uniform(0.04, 0.1)
            self.forced = rng.randrange(runs)
        elif kind == "regression":
            self.limit = self.base * 1.3
            self.step = rng.randrange(runs // 3, 2 * runs // 3 + 1)
            self.factor = rng.uniform(1.5, 2.0)
        elif kind == "variance":
            self.cv = rng.uniform(0.15, 0.22)
            self.limit = self.base * (1 + 1.3 * self.cv)
            self.forced = rng.randrange(runs)
        elif kind == "gradual":
            self.cv = 0.025
            self.slope = rng.uniform(0.015, 0.03)
            cross = rng.randrange(runs // 2, 3 * runs // 4 + 1)
            self.limit = self.base * (1 + self.slope * cross)

    def centre(self, run):
        c = self.base * (1 + self.slope * run)
        if self.step is not None and run >= self.step:
            c *= self.factor
        return c

    def measure(self, rng, run, first_attempt):
        v = rng.gauss(self.centre(run), self.cv * self.base)
        if self.kind == "flaky" and first_attempt and (
                run == self.forced or rng.random() < self.outlier_p):
            v = self.base * rng.uniform(2.0, 4.0)
        if self.kind == "variance" and first_attempt and run == self.forced:
            v = max(v, self.limit * rng.uniform(1.01, 1.1))
        return max(v, 0.1 * self.base)


def attempts_for(b, rng, run, bad_runner):
    """[(value_ms or None, passed, message)] in time order."""
    out = []
    if bad_runner:
        out.append((None, False, "ConnectionError: lost contact with the runner"))
        return out
    v = b.measure(rng, run, True)
    out.append((v, v < b.limit, None if v < b.limit else fmt_message(v, b.limit, b.variant)))
    tries = 0
    while not out[-1][1] and b.rerun and tries < 2:
        v = b.measure(rng, run, False)
        out.append((v, v < b.limit, None if v < b.limit else fmt_message(v, b.limit, b.variant)))
        tries += 1
    return out


def pytest_case(cls, name, attempts, split_file):
    parts = []
    for v, ok, msg in attempts:
        t = (v or 50.0) / 1000 + 0.0004
        props = ""
        if v is not None:
            props = '<properties><property name="duration_ms" value="%.4f"/></properties>' % v
        body = ""
        if not ok:
            body = '<failure message=%s>%s\nE   %s\n%s:42: AssertionError</failure>' % (
                quoteattr(msg), "def test():\n&gt;   assert elapsed &lt; limit", msg.replace("&", "&amp;").replace("<", "&lt;"),
                split_file)
        parts.append('    <testcase classname="%s" name="%s" time="%.4f">%s%s</testcase>\n' % (
            cls, name, t, props, body))
    return "".join(parts)


def surefire_case(cls, name, attempts, rng):
    final = attempts[-1]
    v_final = final[0]
    t = (v_final or 50.0) / 1000 + 0.0004
    if rng.random() < 0.05:
        t += 1234.0  # exercise Surefire's "1,234.5" times
    tstr = "{:,.3f}".format(t)
    props = ""
    if v_final is not None:
        props = '<properties><property name="duration_ms" value="%.4f"/></properties>' % v_final
    body = ""
    if final[1]:
        for v, ok, msg in attempts[:-1]:
            body += ('<flakyFailure message=%s type="java.lang.AssertionError">'
                     '<stackTrace>java.lang.AssertionError: %s\n\tat %s.%s(%s.java:42)</stackTrace>'
                     '<system-out>measuring</system-out></flakyFailure>') % (
                quoteattr(msg), msg.replace("&", "&amp;").replace("<", "&lt;"), cls, name, cls)
    else:
        v, ok, msg = attempts[0]
        body += '<failure message=%s type="java.lang.AssertionError">at %s.%s</failure>' % (
            quoteattr(msg), cls, name)
        for v, ok, msg in attempts[1:]:
            body += ('<rerunFailure message=%s type="java.lang.AssertionError">'
                     '<stackTrace>at %s</stackTrace></rerunFailure>') % (quoteattr(msg), cls)
    return '    <testcase name="%s" classname="%s" time="%s">%s%s</testcase>\n' % (
        name, cls, tstr, props, body)


def write_history(args):
    rng = random.Random(args.seed)
    runs, K = args.runs, args.splits
    benches = []
    idx = 0
    for kind in CLASSES:
        for _ in range(args.benchmarks):
            style = args.style if args.style != "mixed" else rng.choice(["pytest", "surefire"])
            benches.append((Bench(rng, kind, idx, runs, style), style))
            idx += 1
    for _ in range(args.stable):
        style = args.style if args.style != "mixed" else rng.choice(["pytest", "surefire"])
        benches.append((Bench(rng, "stable", idx, runs, style), style))
        idx += 1
    order = list(range(len(benches)))
    rng.shuffle(order)
    split_of = {}
    for pos, i in enumerate(order):
        split_of[i] = pos % K
    steps = {b.step for b, _ in benches if b.step is not None}
    commits = []
    c = 0
    for r in range(runs):
        if r > 0 and r not in steps and rng.random() < 0.25:
            commits.append(commits[-1])  # the same commit built again (nightly, retry)
        else:
            c += 1
            commits.append(sha(args.seed, c))
    truth = {}
    for b, style in benches:
        if b.kind in CLASSES:
            truth["%s::%s" % (b.classname, b.name)] = b.kind
    for r in range(runs):
        d = os.path.join(args.out, "run-%03d" % r)
        os.makedirs(d, exist_ok=True)
        ts = "2024-03-%02dT%02d:00:00" % (1 + r // 24, r % 24)
        bad = args.bad_runner is not None and r == args.bad_runner
        per_split = {s: {"pytest": [], "surefire": []} for s in range(K)}
        for i, (b, style) in enumerate(benches):
            att = attempts_for(b, rng, r, bad)
            if bad and b.kind == "stable":
                truth["%s::%s" % (b.classname, b.name)] = "flaky"
            fname = "junit-%d.xml" % split_of[i]
            if style == "pytest":
                per_split[split_of[i]]["pytest"].append(pytest_case(b.classname, b.name, att, fname))
            else:
                per_split[split_of[i]]["surefire"].append(surefire_case(b.classname, b.name, att, rng))
        for s in range(K):
            props = ('      <property name="commit" value="%s"/>\n'
                     '      <property name="split" value="%d"/>\n') % (commits[r], s)
            py, sf = per_split[s]["pytest"], per_split[s]["surefire"]
            with open(os.path.join(d, "junit-%d.xml" % s), "w") as f:
                f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="ci">\n')
                if py:
                    f.write('  <testsuite name="pytest" tests="%d" timestamp="%s">\n'
                            '    <properties>\n%s    </properties>\n' % (len(py), ts, props))
                    f.write("".join(py))
                    f.write("  </testsuite>\n")
                if sf:
                    f.write('  <testsuite name="surefire" tests="%d" timestamp="%s">\n'
                            '    <properties>\n%s    </properties>\n' % (len(sf), ts, props))
                    f.write("".join(sf))
                    f.write("  </testsuite>\n")
                f.write("</testsuites>\n")
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    steps = {}
    for b, style in benches:
        if b.kind == "regression":
            steps["%s::%s" % (b.classname, b.name)] = {
                "last_good": commits[b.step - 1], "first_bad": commits[b.step]}
    with open(os.path.join(args.out, "truth-steps.json"), "w") as f:
        json.dump(steps, f, indent=1, sort_keys=True)


def write_large(args):
    """The parse benchmark corpus: plain testcases, a few failures, ~83 bytes each."""
    rng = random.Random(args.seed)
    runs = args.runs if args.runs_given else 10
    K = args.splits if args.splits_given else 20
    n = args.cases
    for r in range(runs):
        d = os.path.join(args.out, "run-%03d" % r)
        os.makedirs(d, exist_ok=True)
        ts = "2024-03-01T%02d:00:00" % r
        for s in range(K):
            lines = ['<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
                     '<testsuite name="pytest" timestamp="%s"><properties>'
                     '<property name="commit" value="%s"/><property name="split" value="%d"/>'
                     '</properties>\n' % (ts, sha(args.seed, r), s)]
            for i in range(n):
                t = 0.001 + rng.random() * 0.05
                if i % 997 == 0 and rng.random() < 0.3:
                    lines.append('<testcase classname="tests.s%02d.test_mod_%03d" name="test_case_%05d" '
                                 'time="%.4f"><failure message="AssertionError: took %.2fms, expected '
                                 '&lt; 10ms">E</failure></testcase>\n' % (s, i // 100, i, t, t * 1000 + 10))
                else:
                    lines.append('<testcase classname="tests.s%02d.test_mod_%03d" name="test_case_%05d" '
                                 'time="%.4f"/>\n' % (s, i // 100, i, t))
            lines.append("</testsuite>\n</testsuites>\n")
            with open(os.path.join(d, "junit-%02d.xml" % s), "w") as f:
                f.write("".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int)
    p.add_argument("--splits", type=int)
    p.add_argument("--benchmarks", type=int, default=5, help="benchmarks per class")
    p.add_argument("--stable", type=int, default=20, help="benchmarks that never fail")
    p.add_argument("--style", choices=["pytest", "surefire", "mixed"], default="pytest")
    p.add_argument("--bad-runner", type=int, help="a run in which every test fails")
    p.add_argument("--large", action="store_true", help="write the parse benchmark corpus")
    p.add_argument("--cases", type=int, default=12000, help="testcases per file with --large")
    a = p.parse_args()
    a.runs_given = a.runs is not None
    a.splits_given = a.splits is not None
    if a.runs is None:
        a.runs = 30
    if a.splits is None:
        a.splits = 4
    if a.runs < 6 or a.splits < 1:
        p.error("need --runs >= 6 and --splits >= 1")
    os.makedirs(a.out, exist_ok=True)
    if a.large:
        write_large(a)
    else:
        write_history(a)


if __name__ == "__main__":
    main()
