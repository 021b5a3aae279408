#!/usr/bin/env bash
# Checks the HTTP API against its OpenAPI document (Sources/MediaServer/openapi.yaml, served at GET /openapi.yaml)
# with schemathesis: no 5xx, documented status codes, content types, headers and response bodies.
#
#   Tests/http/schemathesis_check.sh MEDIAWORKER_BINARY
#
# Starts `MEDIAWORKER_BINARY serve` on a free port over a temporary data folder, uploads a few fixtures so there
# are real jobs (accepted, rejected, an idempotent repeat and a conflict), then runs schemathesis twice:
#   1. the media operations with a real signed URL, so 200/206/304/416 answers and their headers are checked;
#   2. every operation, generated from the served document (positive and negative data, stateful links; it may erase
#      the real jobs, hence second).
# Prints `N passed, N failed` last (test cases of the JUnit reports: one per operation and one for the stateful
# phase, in each run); exits non-zero on any failure.
# Environment: VENV (default .build-tools/venv, with scripts/python-tools.txt installed), MAX_EXAMPLES (30), SEED.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 MEDIAWORKER_BINARY" >&2
    exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.build-tools/venv}
ST=$VENV/bin/schemathesis
PY=$VENV/bin/python
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
SEED=${SEED:-$RANDOM}
TOKEN=test-token
[ -x "$ST" ] || { echo "schemathesis not found at $ST (pip install -r scripts/python-tools.txt)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mediaworker-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail_setup() {
    echo "schemathesis_check: $*" >&2
    echo "--- server stderr (last 40 lines) ---" >&2
    tail -n 40 "$WORK/server.err" >&2 2>/dev/null
    echo "0 passed, 1 failed"
    exit 1
}

# --- the server ---------------------------------------------------------------------------------------------------
mkdir -p "$WORK/data"
MEDIAWORKER_TOKENS=$TOKEN MEDIAWORKER_SIGNING_KEYS=test-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0 \
    "$BIN" serve --port 0 --data "$WORK/data" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
BASE=
for _ in $(seq 600); do
    BASE=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*$/\1/p' "$WORK/server.out" | head -n 1)
    [ -n "$BASE" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail_setup "the server exited before listening"
    sleep 0.1
done
[ -n "$BASE" ] || fail_setup "the server did not print 'listening on' within 60 s"
echo "server: $BASE (data $WORK/data)"

# --- real jobs ----------------------------------------------------------------------------------------------------
# http METHOD PATH [FILE]: sends the request (bearer token, FILE as an octet-stream body), writes the body to
# $WORK/body and the status line and headers to $WORK/headers, prints the status code. Python, so the check
# needs nothing beyond the venv.
http() {
    "$PY" - "$1" "$BASE$2" "$TOKEN" "$WORK" "${3:-}" <<'EOF'
import sys, urllib.error, urllib.request
method, url, token, work, file = sys.argv[1:6]
data = open(file, "rb").read() if file else None
req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
if data is not None:
    req.add_header("Content-Type", "application/octet-stream")
try:
    resp = urllib.request.urlopen(req, timeout=30)
except urllib.error.HTTPError as e:
    resp = e
open(f"{work}/body", "wb").write(resp.read())
open(f"{work}/headers", "w").write(f"HTTP/1.1 {resp.status}\n" + "".join(f"{k}: {v}\n" for k, v in resp.headers.items()))
print(resp.status)
EOF
}
# json_field KEY…: a field of the last response body (KEY… is a path: json_field job id).
json_field() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$WORK/body" "$@"; }

declare -a JOBS=()
expect_upload() {  # expected-status file query
    local status
    status=$(http POST "/v1/attachments?$3" "$2") || fail_setup "upload of $2 failed"
    [ "$status" = "$1" ] || fail_setup "POST /v1/attachments?$3 ($2): expected $1, got $status: $(cat "$WORK/body")"
    if [ "$1" = 409 ]; then
        [ "$(json_field job id)" = "${JOBS[0]}" ] || fail_setup "the 409 does not carry the first job: $(cat "$WORK/body")"
    else
        JOBS+=("$(json_field id)")
    fi
}
F=$ROOT/Fixtures
expect_upload 202 "$F/images/small_300x200.jpg" 'from=visitor&declaredType=image/jpeg&fileName=photo.jpg&idempotencyKey=fixture-jpeg&conversationId=c-1&businessNumber=%2B34600000000'
expect_upload 202 "$F/audio/voice_note_1s.ogg" 'from=visitor&declaredType=audio/ogg&fileName=voice.ogg&idempotencyKey=fixture-ogg'
expect_upload 202 "$F/documents/text_3_pages.pdf" 'from=operator&channel=whatsapp&fileName=invoice.pdf'
expect_upload 202 "$F/hostile/cat.html" 'from=visitor&declaredType=image/jpeg&fileName=cat.jpg'
expect_upload 200 "$F/images/small_300x200.jpg" 'from=visitor&idempotencyKey=fixture-jpeg'
expect_upload 409 "$F/hostile/cat.html" 'from=visitor&idempotencyKey=fixture-jpeg'

# Wait until every job is final, then pick a signed URL of a real artifact (the JPEG's original).
for id in "${JOBS[@]:0:4}"; do
    state=
    for _ in $(seq 300); do
        http GET "/v1/jobs/$id" >/dev/null || fail_setup "GET /v1/jobs/$id failed"
        state=$(json_field state)
        case $state in accepted|rejected|dead) break ;; esac
        sleep 0.2
    done
    echo "job $id: $state"
    case $state in accepted|rejected) ;; *) fail_setup "job $id did not finish (state $state)" ;; esac
done
http GET "/v1/jobs/${JOBS[0]}" >/dev/null || fail_setup "GET /v1/jobs/${JOBS[0]} failed"
MEDIA_URL=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print([a["url"] for a in j["artifacts"] if a["role"]=="original"][0])' "$WORK/body") \
    || fail_setup "the JPEG job has no original artifact: $(cat "$WORK/body")"

# A schemathesis config that pins the media operations' path and signature to that real, valid URL, and draws
# the headers they vary (Range, If-None-Match, If-Range) from values that reach the 200/206/304/416 answers.
http GET "$MEDIA_URL" >/dev/null || fail_setup "GET $MEDIA_URL failed"
"$PY" - "$MEDIA_URL" "$WORK/headers" >"$WORK/media.toml" <<'EOF' || fail_setup "cannot pin $MEDIA_URL"
import json, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
_, _, _, job, role = url.path.split("/")
q = dict(urllib.parse.parse_qsl(url.query))
lines = open(sys.argv[2], encoding="latin-1").read().splitlines()
assert lines[0].split()[1] == "200", lines[0]
h = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if ":" in l)}
etag, n = h["etag"], int(h["content-length"])
s = json.dumps
print("[cache]\nenabled = false")  # no .schemathesis/ folder in the work tree, no replay of earlier runs
print("[dictionaries.ranges]")
# Hypothesis favours the first entries, so the rarer answers (416, then 206) come first.
print("values = " + s([f"bytes={n}-", f"bytes=0-{n // 2}", f"bytes={n + 100}-{n + 200}", f"bytes={n - 10}-", "bytes=-0",
                       "bytes=-10", f"bytes=0-{n * 2}", "bytes=0-1,5-9", "items=0-1", "bytes=9-2", "bytes=x-"]))
print("[dictionaries.etags]")
print("values = " + s([etag, "W/" + etag, "*", '"0000"', f'"0000", {etag}']))
print("[parameters]")
print(f'"path.jobId" = {s(job)}')
print(f'"path.role" = {s(role)}')
print(f'"query.expires" = {int(q["expires"])}')
print(f'"query.sig" = {s(q["sig"])}')
print('"header.Range" = { dictionary = "ranges", probability = 0.9 }')
print('"header.If-None-Match" = { dictionary = "etags", probability = 0.15 }')
print('"header.If-Range" = { dictionary = "etags", probability = 0.2 }')
EOF

# --- schemathesis ---------------------------------------------------------------------------------------------------
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
PASSED=0
FAILED=0
# statuses HAR [STATUS…]: prints the status codes each operation answered; fails unless /v1/media answered
# every STATUS given (so a pinning that silently stopped working is noticed).
statuses() {
    "$PY" - "$@" <<'EOF'
import collections, json, re, sys, urllib.parse
try:
    entries = json.load(open(sys.argv[1]))["log"]["entries"]
except Exception as e:
    print(f"  (no HAR report: {e})"); sys.exit(1)
routes = [(r"/v1/attachments", "/v1/attachments"), (r"/v1/jobs/[^/]*", "/v1/jobs/{id}"),
          (r"/v1/media/[^/]*/[^/]*", "/v1/media/{jobId}/{role}")]
seen = collections.defaultdict(collections.Counter)
for e in entries:
    path = urllib.parse.urlsplit(e["request"]["url"]).path
    op = next((name for rx, name in routes if re.fullmatch(rx, path)), path)
    seen[f'{e["request"]["method"]} {op}'][e["response"]["status"]] += 1
documented = {"POST /v1/attachments", "GET /v1/jobs/{id}", "DELETE /v1/jobs/{id}", "POST /v1/erasures", "GET /v1/media/{jobId}/{role}",
              "HEAD /v1/media/{jobId}/{role}", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.yaml"}
other = collections.Counter()
for op in sorted(seen):
    if op in documented:
        print(f"  {op}: " + ", ".join(f"{s}×{n}" for s, n in sorted(seen[op].items())))
    else:
        other.update(seen[op])
if other:
    print("  undocumented methods: " + ", ".join(f"{s}×{n}" for s, n in sorted(other.items())))
media = seen["GET /v1/media/{jobId}/{role}"] + seen["HEAD /v1/media/{jobId}/{role}"]
missing = [s for s in sys.argv[2:] if int(s) not in media]
if missing:
    print(f"  GET/HEAD /v1/media never answered {', '.join(missing)}")
    sys.exit(1)
EOF
}

# run NAME CONFIG [STATUS…] -- [schemathesis run options...]: counts the run's operations as passed or failed from its JUnit
# report. CONFIG is a schemathesis.toml (given explicitly, so a stray ./schemathesis.toml is never read).
run() {
    local name=$1 config=$2; shift 2
    local required=()
    while [ "$1" != -- ]; do required+=("$1"); shift; done
    shift
    local junit="$WORK/$name.xml"
    echo
    echo "=== schemathesis: $name ==="
    "$ST" --config-file "$config" run "$BASE/openapi.yaml" \
        -H "Authorization: Bearer $TOKEN" \
        --checks "$CHECKS" \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --request-timeout 10 \
        --workers 1 \
        --no-shrink \
        --report junit,har --report-junit-path "$junit" --report-har-path "$WORK/$name.har" \
        "$@"
    local rc=$?
    local counts
    counts=$("$PY" - "$junit" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0"); sys.exit()
cases = root.iter("testcase")
passed = failed = 0
for case in cases:
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is None:
        passed += 1
print(passed, failed)
EOF
)
    local p=${counts% *} f=${counts#* }
    # A run that failed without reporting a failing operation (a bad schema, a crash) still counts as one failure.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    echo "=== $name: status codes ==="
    # Whether the pinned values reached every answer only matters in a run that passed (a failure stops early).
    [ "$rc" -eq 0 ] || required=()
    statuses "$WORK/$name.har" "${required[@]}" || f=$((f + 1))
    echo "=== $name: exit $rc, $p operations passed, $f failed ==="
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
}

START=$SECONDS
# The first run reads the real jobs (accepted image, voice note and PDF, rejected HTML) half the time it reads
# one, so finished jobs with outcomes and artifacts are checked too; the jobs it creates itself are read back
# through the document's links while still queued. It cannot sign media URLs, so it warns that they answered
# only 403: the second run covers them.
{
    printf '[cache]\nenabled = false\n'
    printf '[dictionaries.jobs]\nvalues = [%s]\n' "$(printf '"%s", ' "${JOBS[@]:0:4}")"
    printf '[parameters]\n"path.id" = { dictionary = "jobs", probability = 0.5 }\n'
} >"$WORK/jobs.toml"
# The signed media first: the first run may erase the pinned jobs (DELETE /v1/jobs/{id} takes the same ids), after
# which their media answer 410.
run signed-media "$WORK/media.toml" 200 206 304 416 -- --include-operation-id getMedia --include-operation-id headMedia \
    --phases examples,coverage,fuzzing --mode positive --max-examples "$((MAX_EXAMPLES * 3))"
run all-operations "$WORK/jobs.toml" -- --phases examples,coverage,fuzzing,stateful
echo
echo "schemathesis $("$ST" --version | sed 's/.*version //'), seed $SEED, $((SECONDS - START)) s"

kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server died during the run" >&2; FAILED=$((FAILED + 1)); }
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
