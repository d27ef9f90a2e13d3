#!/usr/bin/env bash
# AuroraChat's one entry point.
#
#   ./run.sh                 run everything: a private Redis (unless REDIS_URL is set), then
#                            users :4000 (+ browser client), chat :8080, one ingestion worker :9090
#   ./run.sh test [args]     the whole suite: type-check, lint, vitest on this Node (args go to vitest),
#                            then the server-side suite again on Node 22 (scripts/test-node22.sh)
#
# On a fresh machine it installs what is missing: npm dependencies (npm ci, only when
# node_modules is missing or older than package-lock.json), and, when running as root,
# redis-server (and for tests chromium and shellcheck) from Debian's apt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

say() { printf '[run.sh] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

apt_updated=0
apt_install() {
  # Installs Debian packages when we are root; returns non-zero (without output) otherwise.
  [ "$(id -u)" = 0 ] || return 1
  command -v apt-get >/dev/null || return 1
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_node_deps() {
  local stamp=node_modules/.aurora-lock-sha
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "installing npm dependencies (npm ci; better-sqlite3 compiles from source, ~2 min)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
}

ensure_redis_server() {
  command -v redis-server >/dev/null && return
  apt_install redis-server || true
  command -v redis-server >/dev/null ||
    die "redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL to a running Redis"
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  apt_install chromium || true
  [ -x /usr/bin/chromium ] ||
    die "chromium not found at /usr/bin/chromium: the browser tests need it (Debian: apt-get install chromium)"
}

ensure_optional() {
  # Tools some tests use when present (they skip loudly otherwise).
  command -v shellcheck >/dev/null || apt_install shellcheck || say "shellcheck unavailable: its test will be skipped"
  # nginx runs deploy/nginx.conf in front of two chat replicas in test/deploy (the compose LB).
  command -v nginx >/dev/null || apt_install nginx-light || say "nginx unavailable: the load-balancer test will be skipped"
  # An emoji font, so reactions and messages render emoji in Chromium instead of boxes (the
  # formatting test checks which font was used when one is installed).
  fc-list 2>/dev/null | grep -qi emoji || apt_install fonts-noto-color-emoji || say "no emoji font: the emoji font check will be skipped"
}

redis_pid=""
stop_redis() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    say "stopping the private Redis (pid $redis_pid)"
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}

start_private_redis() {
  local port=${AURORA_REDIS_PORT:-6379}
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    die "something already answers on 127.0.0.1:$port; set REDIS_URL=redis://127.0.0.1:$port to use it, or AURORA_REDIS_PORT for another port"
  fi
  # everysec: a crash of the MACHINE can lose up to ~1 s of acked sends (a crash of Redis alone
  # loses nothing); always: nothing acked is lost, at the cost of an fsync per write (README,
  # "What an ack promises").
  local appendfsync
  appendfsync=$(redis_appendfsync)
  mkdir -p .data/redis
  redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/.data/redis" \
    --appendonly yes --appendfsync "$appendfsync" --save "" --daemonize no --loglevel warning &
  redis_pid=$!
  trap stop_redis EXIT
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null 2>&1 || die "the private Redis did not start on port $port"
  export REDIS_URL="redis://127.0.0.1:$port"
  say "private Redis on $REDIS_URL (AOF, appendfsync $appendfsync, data in .data/redis)"
}

# Checked before anything is installed: a bad setting is refused at once, not after an npm ci.
redis_appendfsync() {
  local appendfsync=${AURORA_REDIS_APPENDFSYNC:-everysec}
  case "$appendfsync" in
    always | everysec) ;;
    *) die "AURORA_REDIS_APPENDFSYNC must be always or everysec (got '$appendfsync')" ;;
  esac
  echo "$appendfsync"
}

cmd=${1:-dev}
case "$cmd" in
  dev | run | "")
    [ -n "${REDIS_URL:-}" ] || redis_appendfsync >/dev/null
    ensure_node_deps
    if [ -z "${REDIS_URL:-}" ]; then
      ensure_redis_server
      start_private_redis
    fi
    mkdir -p .data
    say "users http://localhost:4000  chat ws://localhost:8080/ws  ingestion :9090 — Ctrl-C stops everything"
    # Not exec: the EXIT trap must stop the private Redis after the services are gone.
    npm run dev
    ;;
  test)
    shift
    ensure_node_deps
    ensure_redis_server
    ensure_chromium
    ensure_optional
    say "type-checking"
    npx tsc -p tsconfig.json --noEmit
    say "linting (biome.json: a small set of correctness rules)"
    npx biome lint --error-on-warnings
    say "running the test suite"
    npx vitest run "$@"
    # The images run Node 22: the server-side suite runs again on it (scripts/test-node22.sh;
    # AURORA_NODE22=off skips it, =all runs everything). With a filter, only when asked for.
    if [ "$#" -eq 0 ] || [ -n "${AURORA_NODE22:-}" ]; then
      say "running the server-side suite on Node 22 (the images' runtime)"
      scripts/test-node22.sh "$@"
    fi
    ;;
  -h | --help | help)
    sed -n '2,11p' "$0"
    ;;
  *)
    die "unknown command '$cmd' (use ./run.sh or ./run.sh test)"
    ;;
esac
