#!/usr/bin/env bash
# Fuzzes the admin API against its own OpenAPI description: starts a debug
# `airlock serve` on a free 127.0.0.1 port with an admin token and its own
# SQLite data directory, and runs schemathesis (pinned, in its own
# virtualenv) against /admin/v1/openapi.json, bounded in examples and time.
# Exits non-zero on any failed check (a 5xx, an answer its schema does not
# describe, a bad request accepted, ...).
#
#   ./scripts/schemathesis.sh [EXAMPLES]
#
# EXAMPLES: test cases per operation and phase (default 50).
#
#   AIRLOCK_BIN          binary under test (default: <target dir>/debug/airlock)
#   SCHEMATHESIS_VENV    virtualenv to create/reuse
#                        (default: ~/.cache/airlock-ci/schemathesis-venv)
#   PYTHON               interpreter that creates the venv (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-50}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
airlock_bin="${AIRLOCK_BIN:-$target_dir/debug/airlock}"
python="${PYTHON:-python3}"
venv="${SCHEMATHESIS_VENV:-${AIRLOCK_CI_CACHE:-$HOME/.cache/airlock-ci}/schemathesis-venv}"
admin_token="schemathesis-admin-token"

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x "$airlock_bin" ]]; then
  echo "schemathesis: airlock binary not found at $airlock_bin (run 'cargo build -p airlock' or set AIRLOCK_BIN)" >&2
  exit 1
fi

# schemathesis and everything it pulls in, pinned; reinstalled only when the
# pins change.
pins="schemathesis==4.32.5
anyio==4.16.0
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
graphql-core==3.3.2
harfile==0.6.0
hypothesis==6.170.27
hypothesis-graphql==0.13.5
idna==3.21
iniconfig==2.3.1
jsonschema_rs==0.60.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
packaging==26.4
pluggy==1.7.0
Pygments==2.21.0
pyrate-limiter==4.6.0
pytest==9.2.0
PyYAML==6.0.4
requests==2.34.2
rich==15.0.0
sortedcontainers==2.4.0
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9"
stamp="$venv/.airlock-pins"
if [[ ! -x "$venv/bin/schemathesis" || ! -f "$stamp" || "$(cat "$stamp")" != "$pins" ]]; then
  step "installing schemathesis into $venv"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r <(printf '%s\n' "$pins")
  printf '%s' "$pins" >"$stamp"
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib/live-airlock.sh" schemathesis
start_airlock "with an admin token" AIRLOCK_ADMIN_TOKEN="$admin_token" AIRLOCK_LOG_FORMAT=json AIRLOCK_ACCESS_LOG=false -- --workers 1

step "schemathesis against $base/admin/v1/openapi.json ($examples examples per operation)"
set +e
NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 "$venv/bin/schemathesis" \
  --config-file scripts/schemathesis.toml \
  run "$base/admin/v1/openapi.json" \
  --header "Authorization: Bearer $admin_token" \
  --checks all \
  --max-examples "$examples" \
  --seed 1 \
  --workers 1 \
  --request-timeout 10 \
  --suppress-health-check too_slow \
  --report junit --report-dir "$work/report"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  server_log
  exit "$rc"
fi
if grep -q '"level":"ERROR"' "$work/airlock.log"; then
  echo "schemathesis: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/airlock.log" | head -20 >&2
  exit 1
fi
