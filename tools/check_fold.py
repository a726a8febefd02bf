#!/usr/bin/env python3
"""Checks certhub's non-ASCII ignore-case matching against an independent
model of EventBridge's rule (aws/event-ruler): each code point c of the
pattern matches c.lower() or c.upper() (full mappings), written as a
backtracking regular expression, so it does not share the matcher's table
walk or its one-pass argument (lib/rules/fold.h).

Random patterns (equals-ignore-case, prefix/suffix with it, anything-but
with it) and values over a vocabulary of awkward letters (sharp s, long s,
Kelvin sign, dotted I, final sigma, titlecase, Deseret, ligatures) go
through `certhub events match --per-event` (the compiled ruleset); prints
the events whose matched rules differ and exits 1 if any.

Usage: tools/check_fold.py BUILD/certhub [SEED]
"""
import json, os, random, re, subprocess, sys, tempfile

TMP = tempfile.mkdtemp(prefix="check_fold.")
rules_f = os.path.join(TMP, "rules.json")
ev_f = os.path.join(TMP, "ev.jsonl")
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
alpha = list("aAsSkKiI") + list("ßẞſKİıéÉçÇΣσςΟοΐΰΫ́ǅǆǄⱥȺⱦȾЁёЖж𐐀𐐨ﬀ") + ["SS", "i\u0307", "ΐ".upper()]
def rnd(n):
    return "".join(random.choice(alpha) for _ in range(n))
def rx(p):
    return "".join("(?:%s|%s)" % (re.escape(c.lower()), re.escape(c.upper())) for c in p)
rules, pats = {}, []
for i in range(300):
    p = rnd(random.randint(1, 3))
    kind = random.choice(["eq", "prefix", "suffix", "anybut"])
    m = {"eq": {"equals-ignore-case": p}, "prefix": {"prefix": {"equals-ignore-case": p}},
         "suffix": {"suffix": {"equals-ignore-case": p}},
         "anybut": {"anything-but": {"equals-ignore-case": [p]}}}[kind]
    rules["r%d" % i] = {"detail": {"n": [m]}}
    pats.append((kind, re.compile(rx(p), re.S)))
evs = []
for i in range(3000):
    evs.append(rnd(random.randint(0, 4)))
json.dump(rules, open(rules_f, "w"), ensure_ascii=False)
with open(ev_f, "w") as f:
    for e in evs:
        f.write(json.dumps({"source": "s", "detail-type": "t", "detail": {"n": e}}, ensure_ascii=False) + "\n")
out = subprocess.run([sys.argv[1], "events", "match", "--rules", rules_f,
                      "--events", ev_f, "--per-event"], capture_output=True, text=True, check=True).stdout
got = {}
for line in out.splitlines():
    o = json.loads(line)
    if "line" in o:
        got[o["line"]] = set(o["rules"])
bad = 0; total = 0
for li, e in enumerate(evs, 1):
    want = set()
    for i, (kind, r) in enumerate(pats):
        ok = {"eq": lambda: r.fullmatch(e), "prefix": lambda: r.match(e),
              "suffix": lambda: any(r.fullmatch(e[k:]) for k in range(len(e) + 1)),
              "anybut": lambda: not r.fullmatch(e)}[kind]()
        if ok: want.add("r%d" % i)
    total += len(want)
    g = got.get(li, set())
    if g != want:
        bad += 1
        if bad < 5: print("event", repr(e), "extra", sorted(g - want)[:5], "missing", sorted(want - g)[:5])
print("events", len(evs), "expected hits", total, "mismatching events", bad)
os.remove(rules_f)
os.remove(ev_f)
os.rmdir(TMP)
sys.exit(1 if bad else 0)
