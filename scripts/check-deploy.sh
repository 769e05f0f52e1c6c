#!/usr/bin/env bash
# Checks the operations assets in deploy/ (Grafana dashboard, Prometheus alert
# rules and their unit tests, example Prometheus config) against a real
# Airlock: every metric they query must be exposed at GET /metrics.
#
#   ./scripts/check-deploy.sh
#
#   AIRLOCK_BIN  binary under test (default: <target dir>/debug/airlock)
#
# Installs promtool (Debian's `prometheus` package) when it is missing, starts
# `$AIRLOCK_BIN serve` in zero-config simulator mode on a free 127.0.0.1 port
# with its own data directory, runs deploy/check.py against it, and stops it.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
airlock_bin="${AIRLOCK_BIN:-$target_dir/debug/airlock}"
python="${PYTHON:-python3}"
master_key="check-key"

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x "$airlock_bin" ]]; then
  echo "check-deploy: airlock binary not found at $airlock_bin (run 'cargo build -p airlock' or set AIRLOCK_BIN)" >&2
  exit 1
fi

if ! command -v promtool >/dev/null 2>&1; then
  step "installing promtool (Debian package prometheus)"
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "check-deploy: promtool is missing and this is not root; install it with: apt-get install prometheus" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends prometheus
  if ! command -v promtool >/dev/null 2>&1; then
    echo "check-deploy: promtool still not found after installing prometheus" >&2
    exit 1
  fi
fi
promtool="$(command -v promtool)"

work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-check-deploy.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

step "starting $airlock_bin serve on 127.0.0.1:$port (built-in simulator)"
# Zero-config: no provider key (so the built-in simulator serves) and no other
# AIRLOCK_* setting from the caller's environment; only the client key.
(
  while IFS= read -r name; do
    case "$name" in
      AIRLOCK_* | GEMINI_* | GOOGLE_* | OPENAI_*) unset "$name" ;;
    esac
  done < <(compgen -e)
  export AIRLOCK_MASTER_KEY="$master_key" AIRLOCK_LOG_FORMAT=json
  exec "$airlock_bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data"
) >"$work/airlock.log" 2>&1 &
server_pid=$!

server_log() {
  echo "---- airlock serve output (last 60 lines) ----" >&2
  tail -n 60 "$work/airlock.log" >&2 || true
  echo "----" >&2
}

if ! "$python" - "$base/healthz" "$server_pid" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("check-deploy: airlock exited before it was healthy")
    try:
        with opener.open(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(f"check-deploy: {url} not healthy after 60 s")
EOF
then
  server_log
  exit 1
fi

step "deploy/check.py against $base (promtool: $promtool)"
if ! "$python" deploy/check.py --airlock "$base" --key "$master_key" --promtool "$promtool"; then
  server_log
  exit 1
fi
