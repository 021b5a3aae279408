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
