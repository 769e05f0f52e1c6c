#!/usr/bin/env bash
# Run the Airlock conformance suites (official OpenAI and google-genai SDKs
# against a real `airlock` binary).
#
#   AIRLOCK_BIN       binary under test (default: <repo>/target/debug/airlock)
#   CONFORMANCE_VENV  virtualenv to create/reuse (default: conformance/.venv)
#   PYTHON            interpreter used to create the venv (default: python3)
#
# Extra arguments go to pytest, run from conformance/ (e.g. `run.sh -k stream`,
# `run.sh test_wire.py`).
# Exits non-zero on any failure, including when no test was collected.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${CONFORMANCE_VENV:-$HERE/.venv}"
PYTHON="${PYTHON:-python3}"
export AIRLOCK_BIN="${AIRLOCK_BIN:-$REPO/target/debug/airlock}"

if [[ ! -x "$AIRLOCK_BIN" ]]; then
    echo "conformance: airlock binary not found at $AIRLOCK_BIN (run 'cargo build -p airlock' or set AIRLOCK_BIN)" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the pins changed since the last successful install.
stamp="$VENV/.conformance-requirements"
wanted="$(cat "$HERE/requirements.txt" "$HERE/constraints.txt")"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$HERE/requirements.txt" -c "$HERE/constraints.txt"
    printf '%s' "$wanted" > "$stamp"
fi

cd "$HERE"
set +e
"$VENV/bin/python" -m pytest -q "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "conformance: no tests were collected; treating as failure" >&2
    exit 1
fi
exit $rc
