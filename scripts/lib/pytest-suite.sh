# A pinned Python test suite in a folder of its own (conformance/, browser/):
# `run_pytest_suite NAME DIR VENV [PYTEST ARGS...]` makes the virtualenv
# VENV when missing (with $PYTHON, default python3), installs DIR's
# requirements.txt under its constraints.txt only when the pins changed
# since the last successful install, runs pytest from DIR, and exits with
# its status; no test collected is a failure. Sourced by the suites' run.sh.

run_pytest_suite() {
    local name="$1" dir="$2" venv="$3"
    shift 3
    if [[ ! -x "$venv/bin/python" ]]; then
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    local stamp="$venv/.$name-requirements" wanted
    wanted="$(cat "$dir/requirements.txt" "$dir/constraints.txt")"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -r "$dir/requirements.txt" -c "$dir/constraints.txt"
        printf '%s' "$wanted" > "$stamp"
    fi
    cd "$dir"
    set +e
    "$venv/bin/python" -m pytest -q "$@"
    local rc=$?
    set -e
    if [[ $rc -eq 5 ]]; then
        echo "$name: no tests were collected; treating as failure" >&2
        exit 1
    fi
    exit $rc
}
