#!/usr/bin/env bash
# A throwaway real PostgreSQL server on loopback, for `make test`, the benchmarks and CI.
#
#   scripts/pg_server.sh start DIR     # prints one line: postgres://postgres@127.0.0.1:PORT/mediaworker
#   scripts/pg_server.sh restart DIR   # pg_ctl restart -m fast -w, same options and port; prints the URL
#   scripts/pg_server.sh stop DIR      # pg_ctl stop -m fast; fine when it is not running
#
# start: installs Debian's `postgresql` when no server binaries are found (apt-get, sudo when not root),
# takes the newest /usr/lib/postgresql/*/bin, runs initdb into DIR/data (-U postgres, trust auth for local
# sockets and 127.0.0.1/::1, UTF8, C locale, --no-sync: the cluster is throwaway), picks a free TCP port
# (a random one in 20000-59999 for a new server, counting upward; a server started before always gets its own back), and starts the server listening on 127.0.0.1
# only, with its unix socket in DIR and max_connections=200. fsync and synchronous_commit keep their
# defaults (on): the server is used for benchmarks too. Extra server options can be given in
# PG_SERVER_EXTRA_OPTS (e.g. "-c shared_buffers=256MB"). Creates the database `mediaworker` if missing,
# writes the URL to DIR/url (and the port to DIR/port, the server options to DIR/opts, the server log to
# DIR/log) and prints it as the only line on stdout; everything else goes to stderr. When DIR/data already
# has a running server, start only prints the URL.
#
# initdb, pg_ctl and postgres refuse to run as root: as root, DIR is created owned by the `postgres` system
# user (created with useradd --system when absent) and they run through `runuser -u postgres --`, so DIR
# must be reachable by that user (e.g. under /tmp, or a checkout whose parents are world-searchable).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|restart DIR" >&2
  exit 2
}

die() {
  echo "pg_server: $*" >&2
  exit 1
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
case "$CMD" in start | stop | restart) ;; *) usage ;; esac
case "$DIR" in *[[:space:]\'\"\\]*) die "DIR must not contain spaces, quotes or backslashes: $DIR" ;; esac

IS_ROOT=0
[ "$(id -u)" -ne 0 ] || IS_ROOT=1
SUDO=""
[ "$IS_ROOT" -eq 1 ] || SUDO=sudo

# as_pg CMD...: runs CMD as the postgres user when we are root (from /, which that user can always enter),
# as ourselves otherwise.
as_pg() {
  if [ "$IS_ROOT" -eq 1 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# find_bindir: prints the newest folder holding the server binaries (postgres, initdb, pg_ctl), if any.
find_bindir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    echo "$d"
    return 0
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  fi
  return 1
}

BIN=$(find_bindir || true)
if [ -z "$BIN" ]; then
  [ "$CMD" = start ] || die "no PostgreSQL server binaries found (nothing to $CMD)"
  echo "pg_server: installing postgresql (apt-get)" >&2
  $SUDO apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN=$(find_bindir || true)
  [ -n "$BIN" ] || die "postgresql installed, but no server binaries under /usr/lib/postgresql/*/bin"
fi

# Absolute DIR (pg_ctl and the socket path need it).
if [ "$CMD" = start ]; then
  mkdir -p "$DIR"
fi
[ -d "$DIR" ] || die "no such folder: $DIR"
DIR=$(cd "$DIR" && pwd -P)
DATA=$DIR/data
LOG=$DIR/log

if [ "$IS_ROOT" -eq 1 ] && [ "$CMD" = start ]; then
  if ! id -u postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  chown postgres: "$DIR"
  runuser -u postgres -- test -w "$DIR" -a -x "$DIR" \
    || die "the postgres user cannot write $DIR (is a parent folder closed to other users?)"
fi

running() {
  [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url_for() {
  echo "postgres://postgres@127.0.0.1:$1/mediaworker"
}

# port_free PORT: nothing accepts TCP connections on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# socket_dir PORT: DIR, unless DIR/.s.PGSQL.PORT would be too long for a unix socket path (107 bytes):
# then a short folder under /tmp, kept in DIR/sockdir for later starts.
socket_dir() {
  local s
  if [ $((${#DIR} + 18)) -lt 100 ]; then
    echo "$DIR"
    return
  fi
  s=$(cat "$DIR/sockdir" 2>/dev/null || true)
  if [ -z "$s" ] || [ ! -d "$s" ]; then
    s=$(mktemp -d /tmp/pgsock.XXXXXX)
    [ "$IS_ROOT" -eq 0 ] || chown postgres: "$s"
    echo "$s" >"$DIR/sockdir"
  fi
  echo "$s"
}

server_opts() {
  echo "-k $(socket_dir "$1") -h 127.0.0.1 -p $1 -c max_connections=200 ${PG_SERVER_EXTRA_OPTS:-}"
}

ensure_database() {
  local port=$1 have
  have=$("$BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'mediaworker'")
  if [ "$have" != 1 ]; then
    "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres mediaworker >&2
  fi
}

publish_url() {
  local port=$1
  echo "$port" >"$DIR/port"
  url_for "$port" >"$DIR/url"
  url_for "$port"
}

do_start() {
  local port i opts failures=0
  if running; then
    port=$(cat "$DIR/port" 2>/dev/null) || die "a server runs on $DATA but $DIR/port is missing"
    url_for "$port"
    return 0
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  # A server started before keeps its port (its URL is in clients' settings): wait for the port, never move.
  # Moving let a test that stopped its server for a minute come back on another port while another test's new
  # server took the old one, and its clients then talked to the wrong database. A new server starts at a random
  # port in 20000-59999 (two servers started at once rarely try the same one), then counts upward.
  if port=$(cat "$DIR/port" 2>/dev/null) && [ -n "$port" ]; then
    for i in $(seq 1 60); do port_free "$port" && break; sleep 1; done
    port_free "$port" || die "port $port of this server is taken by another program"
    opts=$(server_opts "$port")
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start -o "$opts" >&2 || { tail -n 5 "$LOG" >&2; die "the server did not start (see $LOG)"; }
    echo "$opts" >"$DIR/opts"
    ensure_database "$port"
    publish_url "$port"
    return 0
  fi
  port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  for i in $(seq 1 200); do
    if port_free "$port"; then
      opts=$(server_opts "$port")
      if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start -o "$opts" >&2; then
        echo "$opts" >"$DIR/opts"
        ensure_database "$port"
        publish_url "$port"
        return 0
      fi
      # Lost a race for the port (or another failure): show the log's end, try the next port.
      running && die "pg_ctl start failed but a server is running on $DATA"
      tail -n 5 "$LOG" >&2 2>/dev/null || true
      failures=$((failures + 1))
      [ "$failures" -lt 5 ] || die "the server did not start (see $LOG)"
    fi
    port=$((port + 1))
    [ "$port" -lt 60000 ] || port=20000
  done
  die "no free TCP port found (tried $i ports)"
}

do_stop() {
  if [ ! -f "$DATA/postmaster.pid" ]; then
    echo "pg_server: no server running on $DATA" >&2
    return 0
  fi
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 120 stop >&2; then
    running && die "pg_ctl stop failed"
  fi
  return 0
}

do_restart() {
  local opts port
  { [ -f "$DATA/PG_VERSION" ] && [ -f "$DIR/opts" ]; } || die "no server was started in $DIR (run: $0 start $DIR)"
  opts=$(cat "$DIR/opts")
  port=$(cat "$DIR/port")
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -m fast -w -t 120 restart -o "$opts" >&2 \
    || { tail -n 20 "$LOG" >&2 2>/dev/null || true; die "pg_ctl restart failed"; }
  url_for "$port"
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_restart ;;
esac
