#!/usr/bin/env bash
# Airlock's realtime relay benchmark: Gemini Live sessions through Airlock
# against the simulator's echo mode, on 127.0.0.1 only. Writes
# bench/REALTIME.md (raw JSON under bench/.out/realtime/).
#
#   bench/realtime.sh            # the full run (~8 minutes after the build)
#   bench/realtime.sh --quick    # seconds per phase, to try the harness
#                                # (writes bench/.out/realtime/REALTIME.md only)
#
# Settings (environment):
#   ACTIVE_SIZES   active session counts, each run direct and through Airlock
#                  [200 1000 1500 2000]
#   ACTIVE_SECS    measured seconds per active run [30]
#   IDLE_SESSIONS  idle sessions held through Airlock, or "auto": the most the
#                  open-files limit allows (2 descriptors per session in
#                  Airlock), at most 10000 [auto]
#   IDLE_SECS      seconds the idle sessions are held [30]
#   RAMP           sessions opened per second [500]
#   PIN            1: Airlock pinned to CPU 0 with one worker, the simulator
#                  and the load tool to the other CPUs (taskset), so
#                  Airlock's share of the machine is fixed [1 when there
#                  are 2 CPUs or more]
#   PROFILE        1: one more run at the largest active size with `perf
#                  record` on Airlock (skipped without perf) [1]
#   AIRLOCK_BIN, LOAD_BIN   use these binaries instead of building
#
# Each process is started here and stopped on exit (by its own pid).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$ROOT"

QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
if [ $# -gt 0 ]; then echo "usage: bench/realtime.sh [--quick]" >&2; exit 2; fi

if [ "$QUICK" = 1 ]; then
    ACTIVE_SIZES="${ACTIVE_SIZES:-50 200}"
    ACTIVE_SECS="${ACTIVE_SECS:-5}"
    IDLE_SESSIONS="${IDLE_SESSIONS:-500}"
    IDLE_SECS="${IDLE_SECS:-5}"
    PROFILE="${PROFILE:-0}"
else
    ACTIVE_SIZES="${ACTIVE_SIZES:-200 1000 1500 2000}"
    ACTIVE_SECS="${ACTIVE_SECS:-30}"
    IDLE_SESSIONS="${IDLE_SESSIONS:-auto}"
    IDLE_SECS="${IDLE_SECS:-30}"
    PROFILE="${PROFILE:-1}"
fi
RAMP="${RAMP:-500}"
WARMUP=3
KEY=bench-key

OUT="$BENCH/.out/realtime"
rm -rf "$OUT"
mkdir -p "$OUT"
if [ "$QUICK" = 1 ]; then REPORT="$OUT/REALTIME.md"; else REPORT="$BENCH/REALTIME.md"; fi
STARTED=$(date +%s)

say() { printf '[realtime %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- build ------------------------------------------------------------------------
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${AIRLOCK_BIN:-}" ] || [ -z "${LOAD_BIN:-}" ]; then
    say "building (cargo build --release -p airlock -p realtime-load)"
    cargo build --release -p airlock -p realtime-load >&2
fi
AIRLOCK="${AIRLOCK_BIN:-$TARGET/release/airlock}"
LOAD="${LOAD_BIN:-$TARGET/release/realtime-load}"
[ -x "$AIRLOCK" ] && [ -x "$LOAD" ] || { say "missing $AIRLOCK or $LOAD"; exit 1; }

# --- limits -------------------------------------------------------------------------
HARD_NOFILE=$(ulimit -Hn)
ulimit -n "$HARD_NOFILE"
say "open files: $(ulimit -n) (hard limit $HARD_NOFILE)"

# --- processes ----------------------------------------------------------------------
SIM_PID=""; AIRLOCK_PID=""; LOAD_PID=""; PERF_PID=""; DATA=""
stop() {  # stop PID: TERM, then KILL after 5 s
    local pid="$1"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$PERF_PID"; stop "$LOAD_PID"; stop "$AIRLOCK_PID"; stop "$SIM_PID"
    [ -n "$DATA" ] && rm -rf "$DATA"
    true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SIM_PORT=$(free_port)
AIRLOCK_PORT=$(free_port)
CPUS=$(nproc)
if [ "${PIN:-1}" = 1 ] && [ "$CPUS" -ge 2 ]; then
    PIN_AIRLOCK="taskset -c 0"; PIN_OTHERS="taskset -c 1-$((CPUS - 1))"; WORKERS=1
else
    PIN_AIRLOCK=""; PIN_OTHERS=""; WORKERS=$CPUS
fi
SIM_CMD="${PIN_OTHERS:+$PIN_OTHERS }airlock mock --listen 127.0.0.1:$SIM_PORT --live-echo"
AIRLOCK_CMD="AIRLOCK_MASTER_KEY=$KEY GEMINI_API_KEY=sim AIRLOCK_GEMINI_BASE_URL=http://127.0.0.1:$SIM_PORT RUST_LOG=warn ${PIN_AIRLOCK:+$PIN_AIRLOCK }airlock serve --listen 127.0.0.1:$AIRLOCK_PORT --workers $WORKERS --data-dir DATA_DIR"

wait_http() {  # wait_http URL: until it answers at all, at most 10 s
    for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    say "no answer from $1"; return 1
}
start_sim() {
    RUST_LOG=warn $PIN_OTHERS "$AIRLOCK" mock --listen "127.0.0.1:$SIM_PORT" --live-echo \
        >>"$OUT/simulator.log" 2>&1 &
    SIM_PID=$!
    wait_http "http://127.0.0.1:$SIM_PORT/v1beta/models"
}
start_airlock() {
    DATA=$(mktemp -d /tmp/airlock-realtime-bench.XXXXXX)
    AIRLOCK_MASTER_KEY=$KEY GEMINI_API_KEY=sim \
        AIRLOCK_GEMINI_BASE_URL="http://127.0.0.1:$SIM_PORT" RUST_LOG=warn \
        $PIN_AIRLOCK "$AIRLOCK" serve --listen "127.0.0.1:$AIRLOCK_PORT" --workers "$WORKERS" --data-dir "$DATA" \
        >>"$OUT/airlock.log" 2>&1 &
    AIRLOCK_PID=$!
    wait_http "http://127.0.0.1:$AIRLOCK_PORT/healthz"
}
restart_all() {
    stop "$AIRLOCK_PID"; AIRLOCK_PID=""; rm -rf "$DATA"; DATA=""
    stop "$SIM_PID"; SIM_PID=""
    start_sim
    start_airlock
}

# --- a quiet machine ----------------------------------------------------------------
# Busy cores over one second, from /proc/stat.
busy_cores() {
    local a b
    a=$(head -1 /proc/stat); sleep 1; b=$(head -1 /proc/stat)
    python3 - "$a" "$b" <<'EOF'
import os, sys
a = [int(x) for x in sys.argv[1].split()[1:9]]
b = [int(x) for x in sys.argv[2].split()[1:9]]
total = sum(b) - sum(a)
idle = (b[3] + b[4]) - (a[3] + a[4])
print(f"{(total - idle) / max(total, 1) * os.cpu_count():.2f}")
EOF
}
QUIET_BUDGET=120   # seconds of waiting in the whole run, at most
quiet_waited=0
wait_quiet() {  # up to 30 s (and the budget) for < 0.25 busy cores
    local start=$SECONDS busy
    while :; do
        busy=$(busy_cores)
        python3 -c "import sys; sys.exit(0 if $busy < 0.25 else 1)" && break
        if [ $((SECONDS - start)) -ge 30 ] || [ $((quiet_waited + SECONDS - start)) -ge $QUIET_BUDGET ]; then
            say "machine still busy ($busy cores) — measuring anyway"
            break
        fi
    done
    quiet_waited=$((quiet_waited + SECONDS - start))
}

# --- one load run -------------------------------------------------------------------
# run_load NAME ARGS...: the tool's JSON in $OUT/NAME.json. A run disturbed by
# other work (over 0.25 cores besides the tool, the simulator and Airlock) is
# run once more after waiting for a quiet machine; the cleaner run is kept.
RERUNS_LEFT=4
run_load() {
    local name="$1"; shift
    local attempt=1
    while :; do
        if [ -n "${FRESH:-}" ]; then
            # Memory is measured from a clean start: new processes for each attempt.
            restart_all
            sleep 2
        fi
        wait_quiet
        say "$name: realtime-load $*"
        timeout 600 $PIN_OTHERS "$LOAD" "$@" --watch "airlock=$AIRLOCK_PID" --watch "simulator=$SIM_PID" \
            >"$OUT/$name.try$attempt.json" 2>"$OUT/$name.try$attempt.log" &
        LOAD_PID=$!
        wait "$LOAD_PID"
        LOAD_PID=""
        local other
        other=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['machine']['other_cores'])" "$OUT/$name.try$attempt.json")
        if [ "$attempt" = 1 ] && [ "$RERUNS_LEFT" -gt 0 ] && python3 -c "import sys; sys.exit(0 if $other > 0.25 else 1)"; then
            say "$name: $other cores of other work during the run; running it again"
            RERUNS_LEFT=$((RERUNS_LEFT - 1))
            attempt=2
            continue
        fi
        break
    done
    python3 - "$OUT" "$name" "$attempt" <<'EOF'
import json, sys
out, name, attempts = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.load(open(f"{out}/{name}.try{i}.json")) for i in range(1, attempts + 1)]
kept = min(runs, key=lambda r: r["machine"]["other_cores"])
kept["attempts"] = attempts
kept["other_cores_of_attempts"] = [r["machine"]["other_cores"] for r in runs]
json.dump(kept, open(f"{out}/{name}.json", "w"), indent=2)
EOF
}

# --- the run ------------------------------------------------------------------------
say "simulator on 127.0.0.1:$SIM_PORT, Airlock on 127.0.0.1:$AIRLOCK_PORT"
start_sim
start_airlock

say "smoke test: 5 active sessions each way"
for target in "direct ws://127.0.0.1:$SIM_PORT sim" "airlock ws://127.0.0.1:$AIRLOCK_PORT $KEY"; do
    set -- $target
    $PIN_OTHERS "$LOAD" --url "$2" --key "$3" --sessions 5 --active --duration 2 --warmup 1 \
        >"$OUT/smoke-$1.json" 2>"$OUT/smoke-$1.log"
    python3 - "$OUT/smoke-$1.json" <<'EOF' || { say "smoke test failed ($1): see $OUT/smoke-$1.json"; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
f = r["frames"]
ok = r["opened"] == 5 and f["received"] == f["sent"] > 0 and f["mismatched"] == 0
sys.exit(0 if ok else 1)
EOF
done

for n in $ACTIVE_SIZES; do
    common=(--sessions "$n" --active --duration "$ACTIVE_SECS" --warmup "$WARMUP" --ramp-per-sec "$RAMP")
    run_load "active-direct-$n" --url "ws://127.0.0.1:$SIM_PORT" --key sim "${common[@]}"
    run_load "active-airlock-$n" --url "ws://127.0.0.1:$AIRLOCK_PORT" --key "$KEY" "${common[@]}"
done

if [ "$PROFILE" = 1 ] && command -v perf >/dev/null 2>&1; then
    n=$(echo "$ACTIVE_SIZES" | tr ' ' '\n' | sort -n | tail -1)
    say "profile: $n active sessions through Airlock, perf record on Airlock for 10 s"
    wait_quiet
    $PIN_OTHERS "$LOAD" --url "ws://127.0.0.1:$AIRLOCK_PORT" --key "$KEY" --sessions "$n" --active \
        --duration 20 --warmup "$WARMUP" --ramp-per-sec "$RAMP" \
        --watch "airlock=$AIRLOCK_PID" --watch "simulator=$SIM_PID" \
        >"$OUT/profile-run.json" 2>"$OUT/profile-run.log" &
    LOAD_PID=$!
    # After the ramp and the warm-up, inside the measured window.
    sleep "$(python3 -c "print($n / $RAMP + $WARMUP + 4)")"
    perf record -F 499 -p "$AIRLOCK_PID" -o "$OUT/perf.data" -- sleep 10 >"$OUT/perf-record.log" 2>&1 || true
    wait "$LOAD_PID" || true
    LOAD_PID=""
    if [ -s "$OUT/perf.data" ]; then
        perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null \
            | grep '%' >"$OUT/perf-dso.txt" || true
        perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
            | grep '%' | head -40 >"$OUT/perf-symbols.txt" || true
        perf --version >"$OUT/perf-version.txt" 2>&1 || true
    fi
fi

say "idle: fresh simulator and Airlock"
restart_all
sleep 2
airlock_fds=$(ls "/proc/$AIRLOCK_PID/fd" | wc -l)
if [ "$IDLE_SESSIONS" = auto ]; then
    # Airlock holds two descriptors per session (client and provider
    # sockets); keep 16 spare for its database and the session log.
    fit=$(( (HARD_NOFILE - airlock_fds - 16) / 2 / 100 * 100 ))
    IDLE_SESSIONS=$(( fit < 10000 ? fit : 10000 ))
fi
say "idle: $IDLE_SESSIONS sessions (Airlock has $airlock_fds descriptors open at rest, hard limit $HARD_NOFILE)"
FRESH=1 run_load "idle-airlock-$IDLE_SESSIONS" --url "ws://127.0.0.1:$AIRLOCK_PORT" --key "$KEY" \
    --sessions "$IDLE_SESSIONS" --duration "$IDLE_SECS" --warmup "$WARMUP" --ramp-per-sec "$RAMP" \
    --drain 15

stop "$AIRLOCK_PID"; AIRLOCK_PID=""
stop "$SIM_PID"; SIM_PID=""

# --- the report ---------------------------------------------------------------------
ELAPSED=$(( $(date +%s) - STARTED ))
python3 - "$OUT/meta.json" <<EOF
import json, os, platform, subprocess, sys, time
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd="$ROOT").stdout.strip()
    except OSError:
        return ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
dirty = run("git", "status", "--porcelain", "--", "crates")
meta = {
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "elapsed_secs": $ELAPSED,
    "quick": bool($QUICK),
    "cpus": os.cpu_count(), "cpu_model": cpu, "mem_gib": round(mem_kib / 1048576, 1),
    "kernel": platform.release(),
    "loadavg_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "nofile_hard": $HARD_NOFILE,
    "somaxconn": open("/proc/sys/net/core/somaxconn").read().strip(),
    "port_range": " to ".join(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()),
    "airlock_version": run("$AIRLOCK", "--version"),
    "git": run("git", "rev-parse", "--short", "HEAD") + (" + uncommitted changes in crates/" if dirty else ""),
    "rustc": run("rustc", "--version"),
    "simulator_cmd": "$SIM_CMD",
    "airlock_cmd": "$AIRLOCK_CMD",
    "load_pin": "$PIN_OTHERS",
    "pinned": bool("$PIN_AIRLOCK"),
    "active_sizes": "$ACTIVE_SIZES".split(),
    "active_secs": $ACTIVE_SECS, "idle_secs": $IDLE_SECS, "ramp": $RAMP, "warmup": $WARMUP,
    "idle_sessions": $IDLE_SESSIONS, "airlock_fds_at_rest": $airlock_fds,
    "quiet_waited_secs": $quiet_waited,
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF
python3 "$BENCH/realtime_report.py" "$OUT" "$REPORT"
say "wrote $REPORT (${ELAPSED} s)"
