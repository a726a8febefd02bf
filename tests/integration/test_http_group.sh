#!/usr/bin/env bash
# Group commit of concurrent BatchImportFindings calls (lib/http/server.c
# gc_write): many calls in flight against 8 server threads, so calls that
# wait for the writer share a transaction. Test-only triggers make some
# calls fail in the store: Id "boom-*" is refused by a constraint (400:
# only that call is undone) and Id "fail-*" hits an SQL error (500: its
# whole group fails). Whatever the grouping, every call answered 200 has
# all its findings stored, every other call none, and findings_counts
# matches a GROUP BY over findings.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"

run_expect 0 "$CERTHUB" tokens create ci --scope findings:write --scope read
RW=$OUT
sqlite3 "$CERTHUB_DB" <<'EOF'
CREATE TRIGGER test_boom BEFORE INSERT ON findings WHEN NEW.id LIKE 'boom-%'
BEGIN SELECT RAISE(ABORT, 'boom refused by the test'); END;
CREATE TRIGGER test_fail BEFORE INSERT ON findings WHEN NEW.id LIKE 'fail-%'
BEGIN SELECT json('{not json'); END;
EOF

PORT=$(free_port)
printf 'http:\n  listen: 127.0.0.1:%s\n  threads: 8\n' "$PORT" >"$TMP/c.yaml"
serve_start --config "$TMP/c.yaml" serve --interval 60s
URL=http://127.0.0.1:$PORT
api_up() { log_has "API at $URL"; }
wait_until 30 "the API URL in the log" api_up

note "240 calls of 20 findings, 24 in flight ($SECONDS s)"
python3 - "$URL" "$RW" "$TMP/calls.json" <<'EOF'
import json, sys, threading, urllib.request, urllib.error
url, token, out = sys.argv[1:4]
ARN = "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
def finding(fid, k):
    return {"SchemaVersion": "2018-10-08", "Id": fid, "ProductArn": ARN,
            "GeneratorId": "gen-%d" % (k % 7), "AwsAccountId": "1234567890%02d" % (k % 5),
            "Types": ["Software and Configuration Checks"],
            "CreatedAt": "2026-11-01T00:00:00Z", "UpdatedAt": "2026-11-02T00:00:00Z",
            "Severity": {"Label": ["LOW", "MEDIUM", "HIGH", "CRITICAL"][k % 4]},
            "Title": "t %d" % k, "Description": "d",
            "Resources": [{"Type": "Other", "Id": "host-%d" % k}]}
calls = []
for c in range(240):
    ids = ["c%d-%d" % (c, i) for i in range(20)]
    if c % 11 == 5:
        ids[7] = "boom-%d" % c
    elif c % 13 == 6:
        ids[3] = "fail-%d" % c
    calls.append({"ids": ids})
lock = threading.Lock()
nxt = [0]
def worker():
    while True:
        with lock:
            c = nxt[0]; nxt[0] += 1
        if c >= len(calls):
            return
        body = json.dumps({"Findings": [finding(i, c * 20 + k) for k, i in enumerate(calls[c]["ids"])]}).encode()
        rq = urllib.request.Request(url + "/v1/findings/import", data=body, method="POST",
                                    headers={"Authorization": "Bearer " + token,
                                             "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(rq, timeout=60) as r:
                calls[c]["status"], calls[c]["body"] = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            calls[c]["status"], calls[c]["body"] = e.code, e.read().decode()
ts = [threading.Thread(target=worker) for _ in range(24)]
for t in ts: t.start()
for t in ts: t.join()
json.dump(calls, open(out, "w"))
EOF

sqlite3 "$CERTHUB_DB" 'SELECT id FROM findings' | sort >"$TMP/stored"
python3 - "$TMP/calls.json" "$TMP/stored" <<'EOF'
import json, sys
calls = json.load(open(sys.argv[1]))
stored = set(open(sys.argv[2]).read().split())
want = set()
grouped = 0
for n, c in enumerate(calls):
    st, body, ids = c.get("status"), c.get("body", ""), c["ids"]
    have = [i for i in ids if i in stored]
    if st == 200:
        d = json.loads(body)
        assert d["SuccessCount"] == 20 and d["FailedCount"] == 0, (n, body)
        assert len(have) == 20, ("call %d answered 200 but %d of 20 stored" % (n, len(have)))
        want.update(ids)
    else:
        assert not have, ("call %d answered %s but stored %s" % (n, st, have))
        if st == 500 and "one transaction" in body:
            grouped += 1  # in the group of a failing call, perhaps not run
        elif any(i.startswith("boom-") for i in ids):
            assert st == 400 and "boom refused" in body, (n, st, body)
        else:
            assert st == 500 and any(i.startswith("fail-") for i in ids) \
                and "malformed JSON" in body, (n, st, body)
assert stored == want, "stored findings differ from the calls answered 200"
print("# %d calls, %d stored findings, %d calls failed with their group"
      % (len(calls), len(stored), grouped))
EOF

note "findings_counts agrees with the rows"
diff <(sqlite3 "$CERTHUB_DB" "SELECT severity_label, record_state,
        workflow_status, coalesce(compliance_status, ''), aws_account_id,
        count(*) FROM findings GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5") \
  <(sqlite3 "$CERTHUB_DB" "SELECT severity_label, record_state,
        workflow_status, compliance_status, aws_account_id, n
        FROM findings_counts WHERE n > 0 ORDER BY 1, 2, 3, 4, 5") ||
  fail "findings_counts differs from GROUP BY over findings"
serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC"
echo "PASS"
