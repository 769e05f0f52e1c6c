#!/usr/bin/env bash
# The admin dashboard's data at scale: each page's admin API query answers
# in at most 100 ms at p95 with a request log of one million records on
# SQLite. Seeds a fresh database (20 projects of 3 keys each made through
# the admin API, a few with monthly budgets; then ROWS request log rows
# over the last 30 days, 2,000 realtime sessions and 5,000 audit entries
# written straight into SQLite while the gateway is stopped), marks the
# rollups unbuilt so the next start rolls the whole log up (what an
# upgrade from a version without rollups does) and times that start to
# /readyz, then times each dashboard query: WARMUP requests, then REQUESTS
# in sequence over one keep-alive connection, p50/p95/p99/max. Prints the
# table and writes bench/DASHBOARD.md.
#
#   bench/dashboard.sh
#   AIRLOCK_BIN=/root/.cache/airlock-bench/target/release/airlock bench/dashboard.sh
#
#   AIRLOCK_BIN   a release binary (default: cargo build --release -p airlock
#                 --locked into CARGO_TARGET_DIR, by default
#                 /root/.cache/airlock-bench/target)
#   ROWS          request log rows (1000000)
#   WARMUP        requests before each measured run (20)
#   REQUESTS      measured requests per query (200)
#   KEEP_DATA     1: keep the seeded data directory (under /tmp) for
#                 EXPLAIN QUERY PLAN, and print where it is
#   OUT           the report (bench/DASHBOARD.md)
#
# Everything listens on 127.0.0.1 and is stopped on exit. The database
# lives in a temporary directory under /tmp, never in the repository.
set -euo pipefail

ROWS="${ROWS:-1000000}"
WARMUP="${WARMUP:-20}"
REQUESTS="${REQUESTS:-200}"
KEEP_DATA="${KEEP_DATA:-0}"
COMMAND="$0${*:+ $*}"
[ -z "${AIRLOCK_BIN:-}" ] || COMMAND="AIRLOCK_BIN=$AIRLOCK_BIN $COMMAND"
[ "$ROWS" = 1000000 ] || COMMAND="ROWS=$ROWS $COMMAND"

BENCH_NAME=dashboard
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT="${OUT:-$BENCH/DASHBOARD.md}"

# lib.sh's bench_setup, without the wrk and nginx this bench does not use.
cd "$ROOT"
if [ -n "${AIRLOCK_BIN:-}" ]; then
    AIRLOCK="$AIRLOCK_BIN"
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/airlock-bench/target}"
    say "building Airlock (cargo build --release -p airlock --locked, into $CARGO_TARGET_DIR)"
    cargo build --release -p airlock --locked >&2
    AIRLOCK="$CARGO_TARGET_DIR/release/airlock"
fi
[ -x "$AIRLOCK" ] || { say "no airlock binary at $AIRLOCK"; exit 1; }
WORK="$(mktemp -d /tmp/airlock-dashboard.XXXXXX)"
pids=()
finish() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$KEEP_DATA" = 1 ]; then
        say "kept the seeded database: $WORK/data/airlock.db"
    else
        rm -rf "$WORK"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

start_mock
DATA="$WORK/data"
DB="$DATA/airlock.db"
CONFIG="$WORK/airlock.toml"
cat > "$CONFIG" <<EOF
[server]
master_key = "env:BENCH_KEY"
workers = $CORES

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
keys = ["env:SIM_KEY"]

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://127.0.0.1:$MOCK_PORT"
keys = ["env:SIM_KEY"]
EOF

# Starts `airlock serve` on $DATA and waits (up to 20 minutes: the first
# start after the seeding rolls the whole log up) until /readyz answers
# 200; SERVE_PID, SERVE_PORT, and READY_S the seconds it took.
serve() {
    local start code
    SERVE_PORT="$(free_port)"
    start="$(date +%s.%N)"
    BENCH_KEY="$KEY" SIM_KEY=sim RUST_LOG=warn \
        "$AIRLOCK" serve --config "$CONFIG" --listen "127.0.0.1:$SERVE_PORT" \
        --data-dir "$DATA" --access-log false >>"$WORK/serve.log" 2>&1 &
    SERVE_PID=$!
    pids+=("$SERVE_PID")
    for _ in $(seq 24000); do
        code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT/readyz" || true)"
        [ "$code" = 200 ] && break
        kill -0 "$SERVE_PID" 2>/dev/null || { say "airlock serve exited:"; tail -n 20 "$WORK/serve.log" >&2; exit 1; }
        sleep 0.05
    done
    [ "$code" = 200 ] || { say "/readyz never answered 200"; exit 1; }
    READY_S="$(echo "$(date +%s.%N) - $start" | bc)"
}
stop_serve() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; }
admin_post() {
    curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
        -d "$2" "http://127.0.0.1:$SERVE_PORT$1"
}

say "creating the database, 20 projects and 60 keys (admin API)"
serve
SEED_START="$(date +%s.%N)"
for n in $(seq -w 1 20); do
    case "$n" in
        01|04|09|15) body="{\"name\": \"project-$n\", \"limits\": {\"budget\": {\"usd\": 100, \"period\": \"month\"}}}" ;;
        *) body="{\"name\": \"project-$n\"}" ;;
    esac
    admin_post /admin/v1/projects "$body"
    for key in production staging ci; do
        admin_post "/admin/v1/projects/project-$n/keys" "{\"name\": \"$key\"}"
    done
done
stop_serve

say "seeding $ROWS request log rows, 2,000 realtime sessions, 5,000 audit entries (sqlite3)"
python3 "$BENCH/dashboard_client.py" seed "$DB" --rows "$ROWS" > "$WORK/seed.json"
SEED_S="$(echo "$(date +%s.%N) - $SEED_START" | bc)"
say "seeded in $(printf '%.1f' "$SEED_S") s: $(cat "$WORK/seed.json")"

say "starting on the seeded database (the rollups are built once, from the whole log)"
serve
BUILD_S="$READY_S"
say "ready after $(printf '%.1f' "$BUILD_S") s"
ROLLUP_ROWS="$(python3 - "$DB" <<'SQL'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT span_s, COUNT(*) FROM request_rollups GROUP BY span_s")
print(" ".join(f"{span}|{count}" for span, count in rows))
SQL
)"
DB_BYTES="$(du -cb "$DB"* | tail -n1 | cut -f1)"
say "database $((DB_BYTES / 1048576)) MiB; rollup rows by span: $ROLLUP_ROWS"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "measuring: $WARMUP warm-up then $REQUESTS requests per query, one keep-alive connection"
python3 "$BENCH/dashboard_client.py" measure --port "$SERVE_PORT" --key "$KEY" --db "$DB" \
    --warmup "$WARMUP" --requests "$REQUESTS" --out "$WORK/results.json" > "$WORK/table.md"
SLOW="$(python3 -c 'import json, sys; print(sum(r["p95"] > 100 for r in json.load(open(sys.argv[1]))))' "$WORK/results.json")"
stop_serve

{
    echo "# Dashboard queries at one million requests"
    echo
    echo "Target (the dashboard issue): each page's data answers in at most 100 ms at p95 with a request log of one million records on SQLite."
    echo
    echo "- Command: \`$COMMAND\`"
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo ' (with uncommitted changes under crates/)')"
    echo "- Machine: $CORES CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load average $LOAD_BEFORE before measuring and $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine shows in the tails); $("$AIRLOCK" --version)"
    echo "- Data: $ROWS request log rows uniformly over the last 30 days (8 models on 2 providers, 20 projects of 3 keys, 5% errors, 60% with one of 5,000 end users), 2,000 realtime sessions, 5,000 audit entries; database $((DB_BYTES / 1048576)) MiB (with its WAL); rollup rows by span (s, rows): $ROLLUP_ROWS"
    printf -- '- Seeding (projects and keys by the admin API, then the rows with Python sqlite3 in transactions of 10,000): %.1f s\n' "$SEED_S"
    printf -- '- First start on the seeded database, to /readyz 200 (migrations, then the one-time rollup build over the whole log): %.1f s\n' "$BUILD_S"
    echo "- Each query: $WARMUP warm-up requests, then $REQUESTS in sequence over one keep-alive connection (Python http.client; time.perf_counter around the request and its whole body); nearest-rank percentiles. A query too slow for that is cut after 30 s of measured requests (at least 10): column n."
    echo
    cat "$WORK/table.md"
    echo
    if [ "$SLOW" = 0 ]; then
        echo "Every query met the target."
    else
        echo "$SLOW queries missed the target (p95 over 100 ms)."
    fi
} > "$OUT"
echo
cat "$OUT"
say "wrote $OUT"
