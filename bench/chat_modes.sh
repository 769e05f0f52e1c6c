#!/usr/bin/env bash
# What a setting costs: non-streamed chat completions through `airlock
# serve` against the simulator (`airlock mock`), two modes in the same run,
# with wrk (Debian's package). The modes:
#   fast, durable              [request_log] durability (the default MODES)
#   receipts-off, receipts-on  [receipts] enabled
#   project, constitution      a project's key, without and with a
#                              constitution (rules that all answers keep)
#   mirror-off, mirror-on      [receipts] mirror (the log copied to the
#                              media store every 10 s)
#
#   bench/chat_modes.sh                  # fast against durable, 3 rounds, 10 s per load
#   MODES="receipts-off receipts-on" bench/chat_modes.sh
#   MODES="project constitution" bench/chat_modes.sh
#   ROUNDS=5 SECONDS_PER_LOAD=20 bench/chat_modes.sh
#
# Each round starts Airlock once per mode (alternating, so a disturbance on
# the shared machine falls on both) with a fresh SQLite data directory,
# warms it up for 2 s, then measures one connection (latency) and 64
# connections (throughput). The table gives each mode's median over the
# rounds, and the second mode against the first. AIRLOCK_BIN=/path/to/airlock skips the release build.
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail

BENCH_NAME=chat-modes
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECONDS_PER_LOAD="${SECONDS_PER_LOAD:-10}"
LOADS="${LOADS:-1 64}"
read -r MODE_A MODE_B <<<"${MODES:-fast durable}"
bench_setup

# The benchmark request of bench/bench.py.
cat > "$WORK/chat.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
EOF

# `airlock serve`'s arguments in a mode.
printf '[receipts]\nenabled = false\n' > "$WORK/receipts-off.toml"
printf '[receipts]\nmirror = true\n' > "$WORK/mirror-on.toml"
mode_args() {
    case "$1" in
        fast | durable) echo "--request-log-durability $1" ;;
        receipts-on) echo "" ;;
        receipts-off) echo "--config $WORK/receipts-off.toml" ;;
        project | constitution | mirror-off) echo "" ;;
        mirror-on) echo "--config $WORK/mirror-on.toml" ;;
        *) say "unknown mode $1 (fast, durable, receipts-off, receipts-on, project, constitution, mirror-off, mirror-on)"; exit 2 ;;
    esac
}
mode_args "$MODE_A" >/dev/null
mode_args "$MODE_B" >/dev/null

# The constitution mode's: terms, a pattern, a length and models that
# block, and a phrase that only flags (every answer lacks it); the
# simulator's answers keep the blocking rules, so none is refused.
cat > "$WORK/constitution.json" <<'EOF'
{"text": "Gentle stories for children.", "rules": [
  {"id": "gentle", "blocked_terms": ["blood", "kill", "gun", "knife", "dead", "murder", "war", "bomb", "hate", "scary", "monster", "ghost", "poison", "fight", "weapon", "cruel", "attack", "danger", "evil", "curse"], "action": "block"},
  {"id": "phone", "blocked_pattern": "\\b\\d{3}[- ]\\d{3}[- ]\\d{4}\\b", "action": "block"},
  {"id": "ending", "required_phrase": "the end"},
  {"id": "length", "max_chars": 4000, "action": "block"},
  {"id": "models", "allowed_models": ["gpt-4o-mini*", "gemini-2.5-*"], "action": "block"}]}
EOF

# The request script of a mode: the master key's, or (project and
# constitution) a new project's key, made through the admin API.
script_for() {
    local mode="$1" port="$2" settings='{"name": "bench"}' secret
    case "$mode" in
        project) ;;
        constitution) settings="{\"name\": \"bench\", \"constitution\": $(cat "$WORK/constitution.json")}" ;;
        *) echo "$WORK/chat.lua"; return ;;
    esac
    local admin=(-sf -H "Authorization: Bearer $KEY" -H "content-type: application/json")
    curl "${admin[@]}" "http://127.0.0.1:$port/admin/v1/projects" -d "$settings" >/dev/null
    secret="$(curl "${admin[@]}" "http://127.0.0.1:$port/admin/v1/projects/bench/keys" -d '{}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"
    sed "s/Bearer $KEY/Bearer $secret/" "$WORK/chat.lua" > "$WORK/chat-$mode.lua"
    echo "$WORK/chat-$mode.lua"
}

start_mock

# wrk's latency (e.g. 812.00us, 1.52ms, 1.01s) in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; unit = v; sub(/^[0-9.]+/, "", unit)
        if (unit == "us") m = 1; else if (unit == "ms") m = 1000; else if (unit == "s") m = 1000000; else m = 60000000
        printf "%.0f", n * m
    }'
}

# One load: "req/s p50_us p99_us errors".
measure_chat() {
    local port="$1" connections="$2" script="$3" out
    out="$(wrk -t1 -c "$connections" -d "${SECONDS_PER_LOAD}s" --latency -s "$script" \
        "http://127.0.0.1:$port/v1/chat/completions")"
    local rps p50 p99 errors
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    p99="$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    errors="$(awk '/Non-2xx or 3xx responses:/ {e += $5}
        /Socket errors:/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
        END {print e + 0}' <<<"$out")"
    echo "$rps $p50 $p99 $errors"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
    for mode in "$MODE_A" "$MODE_B"; do
        port="$(free_port)"
        data="$WORK/data-$mode-$round"
        GEMINI_API_KEY=sim OPENAI_API_KEY=sim \
            AIRLOCK_GEMINI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
            AIRLOCK_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" \
            AIRLOCK_MASTER_KEY="$KEY" RUST_LOG=warn \
            "$AIRLOCK" serve --listen "127.0.0.1:$port" --data-dir "$data" \
            $(mode_args "$mode") --access-log false >/dev/null 2>&1 &
        serve=$!
        pids+=("$serve")
        wait_port "$port"
        script="$(script_for "$mode" "$port")"
        wrk -t1 -c 16 -d 2s -s "$script" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null
        for c in $LOADS; do
            read -r rps p50 p99 errors <<<"$(measure_chat "$port" "$c" "$script")"
            say "round $round, $mode, c=$c: $rps req/s, p50 $p50 µs, p99 $p99 µs, errors $errors"
            echo "$mode $c $rps $p50 $p99 $errors" >> "$RESULTS"
        done
        if [ "$mode" = durable ]; then
            # Records written over syncs of the WAL: how many requests one sync served.
            python3 - "$port" >> "$WORK/groups" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
value = lambda name: sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + " "))
print(value("airlock_request_log_written_total") / max(value("airlock_request_log_wal_syncs_total"), 1))
PY
        fi
        kill -TERM "$serve"
        wait "$serve" || true
    done
done

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
column_of() { awk -v m="$1" -v c="$2" -v k="$3" '$1 == m && $2 == c {print $k}' "$RESULTS"; }

echo
echo "$(nproc) CPUs, load average $LOAD_BEFORE at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; $("$AIRLOCK" --version); wrk -t1, ${SECONDS_PER_LOAD} s per load, median of $ROUNDS rounds"
echo
echo "| connections | mode | req/s | p50 µs | p99 µs | errors |"
echo "|---|---|---|---|---|---|"
for c in $LOADS; do
    for mode in "$MODE_A" "$MODE_B"; do
        rps="$(column_of "$mode" "$c" 3 | median)"
        p50="$(column_of "$mode" "$c" 4 | median)"
        p99="$(column_of "$mode" "$c" 5 | median)"
        errors="$(column_of "$mode" "$c" 6 | awk '{e += $1} END {print e + 0}')"
        printf '| %s | %s | %.0f | %.0f | %.0f | %s |\n' "$c" "$mode" "$rps" "$p50" "$p99" "$errors"
    done
    a_rps="$(column_of "$MODE_A" "$c" 3 | median)"; b_rps="$(column_of "$MODE_B" "$c" 3 | median)"
    a_p99="$(column_of "$MODE_A" "$c" 5 | median)"; b_p99="$(column_of "$MODE_B" "$c" 5 | median)"
    awk -v c="$c" -v a="$a_rps" -v b="$b_rps" -v ap="$a_p99" -v bp="$b_p99" -v names="$MODE_B − $MODE_A" \
        'BEGIN {printf "| %s | %s | %+.1f %% | | %+.0f | |\n", c, names, (b - a) / a * 100, bp - ap}'
done
if [ -s "$WORK/groups" ]; then
    echo
    echo "Records per WAL sync in the durable runs (all loads of a run together): $(awk '{printf "%s%.1f", sep, $1; sep = ", "}' "$WORK/groups")"
fi
