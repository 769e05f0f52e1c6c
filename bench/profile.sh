#!/usr/bin/env bash
# Instructions per request through Airlock, counted by valgrind's callgrind:
# a repeatable figure (the same binary and load give the same count,
# whatever else runs on the machine) to track cuts of the hot path by.
#
#   bench/profile.sh [REQUESTS]          # default 1000
#   AIRLOCK_BIN=/path/to/airlock bench/profile.sh
#   PROFILE_CACHE=use bench/profile.sh  # every request a response-cache hit
#   PROFILE_CACHE=miss bench/profile.sh # every request a miss (off: the same, uncached)
#
# Starts the simulator and `airlock serve` (under callgrind) on 127.0.0.1,
# sends 200 warm-up requests (not counted), then REQUESTS non-streamed chat
# completions over one keep-alive connection with the master key, and prints
# the instructions per request with the functions that cost the most (self
# cost; the kernel's share is not counted). Needs valgrind
# (`apt-get install valgrind`). The callgrind file stays in bench/profile/out/
# for `python3 bench/profile/callers.py FILE FUNCTION REQUESTS`.
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-1000}"
bin="${AIRLOCK_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --release -p airlock --locked >&2
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/airlock"
fi
command -v valgrind >/dev/null || { echo "profile.sh needs valgrind (apt-get install valgrind)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sim_port=$(free_port); port=$(free_port)
out="$PWD/bench/profile/out"; mkdir -p "$out"; rm -f "$out"/callgrind.out*
work=$(mktemp -d); pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
RUST_LOG=warn "$bin" mock --listen "127.0.0.1:$sim_port" >"$work/mock.log" 2>&1 & pids+=($!)
AIRLOCK_MASTER_KEY=bench-key GEMINI_API_KEY=sim OPENAI_API_KEY=sim \
  AIRLOCK_GEMINI_BASE_URL="http://127.0.0.1:$sim_port" AIRLOCK_OPENAI_BASE_URL="http://127.0.0.1:$sim_port/v1" \
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 & pids+=($!)
airlock_pid=$!
for _ in $(seq 1 120); do curl -fs "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
python3 bench/profile/load.py 200 "$port" >/dev/null
callgrind_control -z "$airlock_pid" >/dev/null
python3 bench/profile/load.py "$requests" "$port"
callgrind_control -d "$airlock_pid" >/dev/null
sleep 1
python3 bench/profile/self_cost.py "$out/callgrind.out.1" "$requests" 30
