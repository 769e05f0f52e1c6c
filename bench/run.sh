#!/usr/bin/env bash
# Airlock's benchmark: one command. Installs what it needs (idempotently, all
# under bench/ except nginx from apt), builds Airlock's release binary, runs
# every scenario against 127.0.0.1 only and writes bench/RESULTS.md.
#
#   bench/run.sh            # the full run (~10 minutes after the installs)
#   bench/run.sh --quick    # seconds per scenario: to try the harness
#
# Extra arguments go to bench/bench.py (see `python3 bench/bench.py --help`).
# AIRLOCK_BIN=/path/to/airlock skips the build and uses that binary.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$ROOT"

OHA_VERSION=1.16.0
LITELLM_VERSION=1.100.5        # 1.82.7, 1.82.8 and 1.107.0 were compromised and pulled
PYTHON="${PYTHON:-python3}"

say() { printf '[bench] %s\n' "$*" >&2; }

# --- nginx (Debian) ----------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    say "installing nginx (apt)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # The package's own service is never started here (and may be refused);
    # bench.py runs nginx with its own config and prefix.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# --- oha (crates.io) -----------------------------------------------------------
OHA="$BENCH/.tools/bin/oha"
if [ ! -x "$OHA" ] || [ "$("$OHA" --version 2>/dev/null)" != "oha $OHA_VERSION" ]; then
    say "installing oha $OHA_VERSION (cargo install, a few minutes)"
    cargo install --locked "oha@$OHA_VERSION" --root "$BENCH/.tools" >&2
fi

# --- LiteLLM (PyPI), in its own venv --------------------------------------------
VENV="$BENCH/.venv-litellm"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    say "installing litellm[proxy]==$LITELLM_VERSION into $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" >&2
fi

# --- Portkey (npm) ----------------------------------------------------------------
# bench/portkey-package.json pins the gateway, and @hono/node-server to 1.14.1:
# with 1.14.2 and later every streamed chat completion fails with
# "TypeError: immutable" (Portkey-AI/gateway issue #1389).
PORTKEY="$BENCH/.portkey"
if ! cmp -s "$BENCH/portkey-package.json" "$PORTKEY/package.json" \
    || [ ! -f "$PORTKEY/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
    say "installing @portkey-ai/gateway into $PORTKEY"
    mkdir -p "$PORTKEY"
    cp "$BENCH/portkey-package.json" "$PORTKEY/package.json"
    npm install --prefix "$PORTKEY" --no-audit --no-fund --loglevel=error >&2
fi

# --- Airlock, release build -----------------------------------------------------
if [ -n "${AIRLOCK_BIN:-}" ]; then
    AIRLOCK="$AIRLOCK_BIN"
else
    say "building Airlock (cargo build --release -p airlock)"
    cargo build --release -p airlock >&2
    AIRLOCK="${CARGO_TARGET_DIR:-$ROOT/target}/release/airlock"
fi
[ -x "$AIRLOCK" ] || { say "no airlock binary at $AIRLOCK"; exit 1; }

# --- run ----------------------------------------------------------------------------
# bench.py stops everything it started on exit; the trap covers this script
# being killed while it runs.
child=""
cleanup() { [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null; true; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
"$PYTHON" "$BENCH/bench.py" --airlock "$AIRLOCK" --oha "$OHA" --nginx "$NGINX" "$@" &
child=$!
set +e
wait "$child"
status=$?
child=""
exit "$status"
