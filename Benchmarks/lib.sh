# Shared by the benchmark scripts (sourced, not run): installing missing tools and timing commands.

# install_missing PKG...: apt-get installs the given Debian packages (sudo when not root); no-op when empty.
install_missing() {
  [ $# -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing: $*"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# time_run KEY DEST CMD...: empties DEST (outside the timing), runs CMD once under GNU time and keeps the
# best (lowest wall) run of KEY in WALL[KEY] / CPU[KEY] (user + system seconds of CMD and its children).
# Needs OUT and LOG set and `declare -A WALL CPU` in the caller.
time_run() {
  local key=$1 dest=$2 e u s
  shift 2
  rm -rf "$dest"
  mkdir -p "$dest"
  /usr/bin/time -f '%e %U %S' -o "$OUT/time.txt" "$@" >>"$LOG" 2>&1 \
    || { echo "FAILED: $key (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
  read -r e u s <"$OUT/time.txt"
  if [ -z "${WALL[$key]:-}" ] || awk -v t="$e" -v b="${WALL[$key]}" 'BEGIN { exit !(t < b) }'; then
    WALL[$key]=$e
    CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
  fi
}

# add_missing_debs PKG...: appends to the caller's `missing` array each given Debian package not installed yet.
add_missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
}

# build_release PRODUCT...: `swift build -c release` of each product (its last output line shown); sets SWIFT
# (the swift driver) and BIN (the release bin folder).
build_release() {
  local product
  SWIFT=$(command -v swift || echo /opt/swift/usr/bin/swift)
  echo "== build: $SWIFT build -c release ($*)"
  for product in "$@"; do
    "$SWIFT" build -c release --product "$product" 2>&1 | grep -vE '^warning: prohibited flag' | tail -n 1
  done
  BIN=$("$SWIFT" build -c release --show-bin-path)
}

# start_serve: a release `mediaworker serve` (SQLite + files in a new temporary folder, 2 workers, bench token
# `bench`) on a free loopback port; sets SERVE (its pid), SERVE_DATA and URL, and stops it and removes the folder
# on exit. Needs BIN (build_release), OUT and LOG.
start_serve() {
  SERVE_DATA=$(mktemp -d /tmp/mw-bench-serve.XXXXXX)
  MEDIAWORKER_TOKENS=bench MEDIAWORKER_SIGNING_KEYS=bench-key-0123456789abcdef0123456789abcdef MEDIAWORKER_WORKERS=2 \
    MEDIAWORKER_LOG_LEVEL=warning "$BIN/mediaworker" serve --port 0 --data "$SERVE_DATA" >"$OUT/serve.out" 2>>"$LOG" &
  SERVE=$!
  trap 'kill "$SERVE" 2>/dev/null || true; rm -rf "$SERVE_DATA"' EXIT
  local _
  for _ in $(seq 100); do grep -q listening "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^listening on //p' "$OUT/serve.out")
  [ -n "$URL" ] || { echo "FAILED: serve did not start (see $LOG)" >&2; exit 1; }
}

# bench_out NAME: ROOT (the repository), OUT (bench-out/NAME, created) and LOG (OUT/bench.log, emptied).
bench_out() {
  ROOT=$PWD
  OUT=$ROOT/bench-out/$1
  mkdir -p "$OUT"
  LOG=$OUT/bench.log
  : >"$LOG"
}
