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

# shellcheck source=scripts/lib/pytest-suite.sh
source "$REPO/scripts/lib/pytest-suite.sh"
run_pytest_suite conformance "$HERE" "$VENV" "$@"
