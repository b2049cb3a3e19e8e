#!/usr/bin/env bash
# Makes sure the local test stack is running: MariaDB on 127.0.0.1:3306 with a database
# `encore_test`, and the moto server (AWS API emulator) on 127.0.0.1:$MOTO_PORT.
# Installs what is missing (apt-get, pip in a git-ignored virtualenv), starts it without
# systemd, waits until each answers. Idempotent; never stops anything.
# `infra/local/stack.sh stop` stops only what this script started.
#
# Source it (`. infra/local/stack.sh`) to get the test endpoints exported.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.stack"
VENV="$ROOT/.venv/stack"
MYSQL_PORT=3306
MOTO_PORT="${MOTO_PORT:-5055}"
mkdir -p "$STATE"

log() { printf '[stack] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ ! -f "$STATE/apt-updated" ]; then
    as_root apt-get update -qq && touch "$STATE/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name seconds command...
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "$name did not answer within ${seconds}s"; return 1; fi
    sleep 0.3
  done
}

mariadb_up() {
  if port_open $MYSQL_PORT; then
    log "MariaDB already answers on 127.0.0.1:$MYSQL_PORT"
  else
    if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
      log "installing MariaDB (apt-get)"
      apt_install mariadb-server mariadb-client
    fi
    log "starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld
    nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --port=$MYSQL_PORT \
      >"$STATE/mariadb.log" 2>&1 &
    echo $! >"$STATE/mariadb.pid"
    wait_for MariaDB 60 mariadb-admin ping --silent
  fi
  # Password-less root over TCP for tests, and the test database.
  if ! mariadb -h 127.0.0.1 -P $MYSQL_PORT -u root -e "SELECT 1" >/dev/null 2>&1; then
    as_root mariadb -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket"
  fi
  mariadb -h 127.0.0.1 -P $MYSQL_PORT -u root -e "CREATE DATABASE IF NOT EXISTS encore_test"
}

moto_up() {
  if port_open "$MOTO_PORT"; then
    log "moto already answers on 127.0.0.1:$MOTO_PORT"
    return
  fi
  if [ ! -x "$VENV/bin/moto_server" ]; then
    log "installing moto[server] into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.1,<6'
  fi
  log "starting moto on 127.0.0.1:$MOTO_PORT"
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/moto.pid"
  wait_for moto 60 port_open "$MOTO_PORT"
}

stop_started() {
  for name in moto mariadb; do
    if [ -f "$STATE/$name.pid" ]; then
      local pid; pid=$(cat "$STATE/$name.pid")
      kill "$pid" 2>/dev/null && log "stopped $name ($pid)"
      rm -f "$STATE/$name.pid"
    fi
  done
}

if [ "${1:-}" = stop ]; then
  stop_started
else
  mariadb_up
  moto_up
  export ENCORE_TEST_MYSQL_URL="${ENCORE_TEST_MYSQL_URL:-mysql://root@127.0.0.1:$MYSQL_PORT/encore_test}"
  export ENCORE_TEST_AWS_ENDPOINT="${ENCORE_TEST_AWS_ENDPOINT:-http://127.0.0.1:$MOTO_PORT}"
  log "ready: ENCORE_TEST_MYSQL_URL=$ENCORE_TEST_MYSQL_URL ENCORE_TEST_AWS_ENDPOINT=$ENCORE_TEST_AWS_ENDPOINT"
fi
