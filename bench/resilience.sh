#!/usr/bin/env bash
# What retries, fallbacks, the circuit breaker and load balancing cost a
# request that succeeds the first time: instructions per request counted by
# valgrind's callgrind (a repeatable figure), for each configuration in the
# same run, against the same simulator.
#
#   bench/resilience.sh [REQUESTS]        # default 2000
#   AIRLOCK_BIN=/path/to/airlock bench/resilience.sh
#
# Configurations (the request: a non-streamed chat completion for
# `gpt-4o-mini` over one keep-alive connection, bench/profile/load.py):
#   off       no retries, no circuit breaker, no fallbacks
#   on        the defaults (2 retries, a retry budget, a breaker) and a
#             fallback model on the route
#   balanced  as `on`, with the route over two deployments (latency balance)
# Needs valgrind (`apt-get install valgrind`). The callgrind files stay in
# bench/profile/out/ (callgrind.MODE.1) for `callgrind_annotate`.
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000}"
bin="${AIRLOCK_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --release -p airlock --locked >&2
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/airlock"
fi
command -v valgrind >/dev/null || { echo "resilience.sh needs valgrind (apt-get install valgrind)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sim_port=$(free_port)
work=$(mktemp -d); pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
RUST_LOG=warn "$bin" mock --listen "127.0.0.1:$sim_port" >"$work/mock.log" 2>&1 & pids+=($!)

providers() {
  cat <<EOF
[server]
master_key = "env:BENCH_KEY"
workers = 1

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:$sim_port/v1"
keys = ["env:SIM_KEY"]

[[providers]]
name = "openai-2"
kind = "openai"
base_url = "http://127.0.0.1:$sim_port/v1"
keys = ["env:SIM_KEY"]
default_routes = false

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://127.0.0.1:$sim_port"
keys = ["env:SIM_KEY"]
EOF
}

config() {
  providers
  case "$1" in
    off) printf '\n[retries]\nmax_retries = 0\n\n[circuit_breaker]\nfailures_to_open = 0\n' ;;
    on) printf '\n[[routes]]\nmodel = "gpt-4o-mini"\nprovider = "openai"\nfallbacks = ["gemini-2.5-flash"]\n' ;;
    balanced) printf '\n[[routes]]\nmodel = "gpt-4o-mini"\ndeployments = [{ provider = "openai" }, { provider = "openai-2" }]\nfallbacks = ["gemini-2.5-flash"]\n' ;;
  esac
}

count() {
  local mode="$1" port out
  port=$(free_port)
  out="$PWD/bench/profile/out/callgrind.$mode"
  mkdir -p "$PWD/bench/profile/out"; rm -f "$out".*
  config "$mode" >"$work/$mode.toml"
  BENCH_KEY=bench-key SIM_KEY=sim RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" serve --config "$work/$mode.toml" --listen "127.0.0.1:$port" --data-dir "$work/data-$mode" \
    >"$work/serve-$mode.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 120); do curl -fs "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  python3 bench/profile/load.py 200 "$port" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  local answered
  answered=$(python3 bench/profile/load.py "$requests" "$port")
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local total dispatch
  total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen++ {gsub(",", "", $1); print $1}')
  dispatch=$(callgrind_annotate --inclusive=yes "$out.1" 2>/dev/null |
    awk '/airlock_gateway::dispatch::dispatch::\{\{closure\}\}/ && !seen++ {gsub(",", "", $1); print $1}')
  printf '%-9s %s  %7d in all  %6d in dispatch\n' "$mode" "$answered" "$((total / requests))" "$((dispatch / requests))"
}

# "in all": the whole process (its request log's SQLite writes included,
# which vary by a percent or two from run to run); "in dispatch": inclusive
# of airlock_gateway::dispatch::dispatch (routing, admission, retries,
# fallbacks, the breaker, balancing, the provider call and its answer).
echo "instructions per request (callgrind, $requests requests, after 200 warm-up)"
for mode in off on balanced; do count "$mode"; done
