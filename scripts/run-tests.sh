#!/usr/bin/env bash
# Runs every Swift test suite (`make test`), in two streams at once:
# - the outage suites, which spend most of their minutes waiting for a stopped database to come back (PostgreSQL
#   stopped for 60 s, SQLite locked for 60 s; the store and database outages of OutageRecoveryTests), run side by
#   side in a test process of their own;
# - every other suite runs one after another in `swift test` (`--no-parallel`): side by side on 2 cores, the
#   CPU-heavy suites would slow the suites that measure real time past their margins.
# The exit status is the first stream's failure, if any. Usage: scripts/run-tests.sh [SWIFT]
set -uo pipefail
swift=${1:-swift}
waiting='SQLiteOutageTests|PostgresOutageTests|OutageRecoveryTests'
bin=$("$swift" build --show-bin-path)
bundle=$(ls -d "$bin"/*PackageTests.xctest | head -n 1)
log=$(mktemp /tmp/mediaworker-outage-tests.XXXXXX)
"$bundle" --testing-library swift-testing --filter "$waiting" >"$log" 2>&1 &
outage=$!
"$swift" test --skip-build --no-parallel --skip "$waiting"
main=$?
wait "$outage"
waited=$?
echo "---- the outage suites (run beside the others) ----"
cat "$log"
rm -f "$log"
[ "$main" -ne 0 ] && exit "$main"
exit "$waited"
