#!/usr/bin/env bash
# Run the dashboard's browser suite: Playwright driving Debian's chromium
# against a real `airlock serve`, with real traffic from the openai SDK.
#
#   AIRLOCK_BIN      binary under test (default: <repo>/target/debug/airlock)
#   BROWSER_VENV     virtualenv to create/reuse (default: browser/.venv)
#   CHROMIUM         browser executable (default: /usr/bin/chromium; Debian's
#                    `chromium` package is installed when it is missing and
#                    this runs as root). `playwright install` is never run.
#   SCREENSHOT_DIR   where page screenshots go (default: browser/screenshots)
#   PYTHON           interpreter used to create the venv (default: python3)
#
# Extra arguments go to pytest, run from browser/ (e.g. `run.sh -k audit`).
# Exits non-zero on any failure, including when no test was collected.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${BROWSER_VENV:-$HERE/.venv}"
PYTHON="${PYTHON:-python3}"
export AIRLOCK_BIN="${AIRLOCK_BIN:-$REPO/target/debug/airlock}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [[ ! -x "$AIRLOCK_BIN" ]]; then
    echo "browser: airlock binary not found at $AIRLOCK_BIN (run 'cargo build -p airlock' or set AIRLOCK_BIN)" >&2
    exit 1
fi

if [[ ! -x "$CHROMIUM" ]]; then
    if [[ "$CHROMIUM" != /usr/bin/chromium ]]; then
        echo "browser: CHROMIUM=$CHROMIUM is not an executable" >&2
        exit 1
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "browser: /usr/bin/chromium is missing and this is not root: install Debian's chromium (apt-get install chromium) or set CHROMIUM" >&2
        exit 1
    fi
    echo "browser: installing Debian's chromium (apt-get install chromium)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }
    [[ -x "$CHROMIUM" ]] || { echo "browser: chromium is still missing after apt-get install" >&2; exit 1; }
fi

# shellcheck source=scripts/lib/pytest-suite.sh
source "$REPO/scripts/lib/pytest-suite.sh"
run_pytest_suite browser "$HERE" "$VENV" "$@"
