#!/usr/bin/env bash
# make sanitize: the in-process suites under the Swift toolchain's sanitizers, on SQLite and on a PostgreSQL server
# this script starts (and stops):
#   AddressSanitizer: the pipeline (every fixture decoded in-process, also on 4 threads at once, voice notes,
#                     limits, policy) and the queue, store and intake suites;
#   ThreadSanitizer:  the worker (slots, heartbeat, batch claims, stop) and the queue suites.
# Suites that run the built `mediaworker` as a separate process (the CLI, helper processes, worker processes, HTTP)
# are skipped: their processes are not the instrumented test binary. Scratch folders .build-address and .build-thread.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
pg=$(mktemp -d /tmp/mediaworker-sanitize-pg.XXXXXX)
s3=$(mktemp -d /tmp/mediaworker-sanitize-s3.XXXXXX)
trap 'bash scripts/pg_server.sh stop "$pg" >/dev/null 2>&1; rm -rf "$pg"; bash scripts/s3_server.sh stop "$s3" >/dev/null 2>&1; rm -rf "$s3"' EXIT
MEDIAWORKER_TEST_DATABASE_URL=$(bash scripts/pg_server.sh start "$pg")
export MEDIAWORKER_TEST_DATABASE_URL
# The blob-store suites run on S3 too (SeaweedFS from the Makefile's venv).
MEDIAWORKER_TEST_S3_ENDPOINT=$(bash scripts/s3_server.sh start "$s3")
MEDIAWORKER_TEST_S3_ACCESS_KEY=$(cat "$s3/access_key")
MEDIAWORKER_TEST_S3_SECRET_KEY=$(cat "$s3/secret_key")
MEDIAWORKER_TEST_S3_DIR=$s3
export MEDIAWORKER_TEST_S3_ENDPOINT MEDIAWORKER_TEST_S3_ACCESS_KEY MEDIAWORKER_TEST_S3_SECRET_KEY MEDIAWORKER_TEST_S3_DIR
export SWIFT_BACKTRACE=enable=no
# Leaks are checked too, except the few the system libraries and the toolchain's own runtime make (scripts/lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
status=0

run() {  # run NAME SANITIZER FILTER SKIP
  local name=$1 sanitizer=$2 filter=$3 skip=$4 log=bench-out/sanitize/$1.log
  mkdir -p bench-out/sanitize
  echo "== $name: building the tests with -sanitize=$sanitizer (.build-$sanitizer)"
  swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" 2>&1 | grep -vE '^warning: prohibited flag' | tail -n 1
  echo "== $name: swift test --filter '$filter' --skip '$skip'"
  if swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" --filter "$filter" --skip "$skip" >"$log" 2>&1; then
    grep -E 'Test run with' "$log" | tail -n 1
  else
    status=1
    grep -E 'ERROR: (Address|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY|Test run with|recorded an issue' "$log" | head -n 20
  fi
  echo "   reports: $(grep -cE 'ERROR: AddressSanitizer|WARNING: ThreadSanitizer' "$log" || true) (log: $log)"
}

run asan address 'MediaPipelineTests|MediaQueueTests' 'FixtureSuiteTests|CLITests'
run tsan thread 'MediaWorkerTests|MediaQueueTests' 'WorkerProcessTests|BlobRepairTests|OutageRecoveryTests|S3VolumeOutageTests'
exit $status
