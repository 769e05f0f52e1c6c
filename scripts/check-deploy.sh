#!/usr/bin/env bash
# Checks the operations assets in deploy/ (Grafana dashboard, Prometheus alert
# rules and their unit tests, example Prometheus config) against a real
# Airlock: every metric they query must be exposed at GET /metrics.
#
#   ./scripts/check-deploy.sh
#
#   AIRLOCK_BIN  binary under test (default: <target dir>/debug/airlock)
#
# First checks the packaging (Dockerfile, deploy/compose, deploy/kubernetes)
# with scripts/check-manifests.sh, which needs no binary. Then installs
# promtool (Debian's `prometheus` package) when it is missing, starts
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

step "packaging: Dockerfile, compose and Kubernetes manifests" && bash scripts/check-manifests.sh

if [[ ! -x "$airlock_bin" ]]; then
  echo "check-deploy: airlock binary not found at $airlock_bin (run 'cargo build -p airlock' or set AIRLOCK_BIN)" >&2
  exit 1
fi

step "the packaged configurations pass airlock config check"
for config in deploy/compose/airlock.toml deploy/kubernetes/base/airlock.toml; do
  # The values the containers get from compose.yaml or the Secret; any will do.
  env -i PATH="$PATH" \
    AIRLOCK_REDIS_URL=redis://redis:6379 AIRLOCK_DATABASE_URL=postgres://airlock@postgres/airlock \
    AIRLOCK_LISTEN=0.0.0.0:8080 AIRLOCK_ADMIN_LISTEN=0.0.0.0:9090 AIRLOCK_MASTER_KEY=check \
    MEDIA_SIGNING_KEY=a-media-signing-key-of-32-characters S3_ACCESS_KEY_ID=id S3_SECRET_ACCESS_KEY=secret \
    RECEIPTS_SIGNING_KEY=PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz \
    "$airlock_bin" config check --config "$config"
done

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

source "$(dirname "${BASH_SOURCE[0]}")/lib/live-airlock.sh" check-deploy
# Zero-config: no provider key (so the built-in simulator serves) and no other
# AIRLOCK_* setting from the caller's environment; only the client key.
start_airlock "(built-in simulator)" AIRLOCK_MASTER_KEY="$master_key" AIRLOCK_LOG_FORMAT=json --

step "deploy/check.py against $base (promtool: $promtool)"
if ! "$python" deploy/check.py --airlock "$base" --key "$master_key" --promtool "$promtool"; then
  server_log
  exit 1
fi
