#!/usr/bin/env bash
# Cluster mode's throughput: one `airlock serve` counting its limits in
# memory, one counting them in Redis, and three counting them in Redis
# behind nginx (round robin), all on one PostgreSQL database, the same
# wrk load of chat completions with a project key that has rpm, tpm,
# concurrency and budget limits (so every request is admitted and settled
# in Redis). Appends its table to stdout; bench/RESULTS.md#cluster-mode
# holds a run.
#
#   bash bench/cluster.sh
#
#   AIRLOCK_BIN                 a release binary (default: cargo build --release)
#   AIRLOCK_BENCH_POSTGRES_URL  a server to make the bench's database on
#                               (default postgres://postgres@127.0.0.1:5432/test)
#   AIRLOCK_BENCH_REDIS_URL     default redis://127.0.0.1:6379
#   ROUNDS, WRK_THREADS, WRK_CONNECTIONS, WRK_SECONDS  as bench/lib.sh
#
# On one machine the three instances share its cores with nginx, wrk, the
# simulator, PostgreSQL and Redis: the table shows the cost of sharing the
# counts, not the capacity of three machines.
set -euo pipefail
BENCH_NAME=cluster
source "$(dirname "$0")/lib.sh"
bench_setup
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

pg_base="${AIRLOCK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
redis_url="${AIRLOCK_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
database="airlock_bench_cluster_$$"
psql "$pg_base" -qc "CREATE DATABASE $database"
database_url="${pg_base%/*}/$database"
cleanup_database() { psql "$pg_base" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true; }
trap 'stop_everything; cleanup_database' EXIT

start_mock
# The media signing key every instance shares (cluster mode needs one).
BENCH_MEDIA_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BENCH_MEDIA_KEY

# `instance NAME REDIS(yes|no)`: one airlock serve on the shared database,
# counting in Redis or in memory; its pid and port in SERVE_PID, SERVE_PORT.
instance() {
    local name="$1" cluster=""
    [ "$2" = yes ] && cluster="$(printf '[cluster]\nredis_url = "%s"\nkey_prefix = "airlock-bench-%s"\n' "$redis_url" "$$")"
    serve_airlock "$name" "$(printf 'database_url = "%s"\n\n%s\n\n[media]\nsigning_key = "env:BENCH_MEDIA_KEY"\n' "$database_url" "$cluster")"
}

# A project key whose every limit is counted (and none reached).
instance setup no
setup_port="$SERVE_PORT"
curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"name": "bench", "limits": {"rpm": 100000000, "tpm": 1000000000, "max_concurrent": 100000, "budget": {"usd": 1000000, "period": "month"}}}' \
    "http://127.0.0.1:$setup_port/admin/v1/projects"
project_key="$(curl -fsS -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"limits": {"rpm": 100000000, "tpm": 1000000000, "max_concurrent": 100000}}' \
    "http://127.0.0.1:$setup_port/admin/v1/projects/bench/keys" | json_field secret)"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

cat > "$WORK/chat.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $project_key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 20}'
EOF

results="$WORK/results"
: > "$results"
# `load LABEL URL`: a warm-up, then ROUNDS wrk loads with latencies.
load() {
    local label="$1" url="$2" out rps p50
    wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d 2s -s "$WORK/chat.lua" "$url" >/dev/null
    for round in $(seq "$ROUNDS"); do
        out="$(wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" --latency -s "$WORK/chat.lua" "$url")"
        grep -E 'Socket errors|Non-2xx' <<<"$out" | sed "s/^/[$BENCH_NAME]   wrk: /" >&2 || true
        rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
        p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
        say "$label, round $round: $rps req/s, p50 $p50"
        echo "$label|$round|$rps|$p50" >> "$results"
    done
}

instance memory no
load "one instance, limits in memory" "http://127.0.0.1:$SERVE_PORT/v1/chat/completions"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

instance redis yes
load "one instance, limits in Redis" "http://127.0.0.1:$SERVE_PORT/v1/chat/completions"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

upstreams=""
for i in 1 2 3; do
    instance "node$i" yes
    upstreams="$upstreams        server 127.0.0.1:$SERVE_PORT;"$'\n'
done
NGINX_PREFIX="$WORK/nginx"
mkdir -p "$NGINX_PREFIX"
NGINX_PORT="$(free_port)"
{
    echo "daemon off;"
    echo "master_process on;"
    echo "worker_processes $CORES;"
    echo "pid $NGINX_PREFIX/nginx.pid;"
    echo "error_log $NGINX_PREFIX/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "    access_log off;"
    for temp in client_body proxy fastcgi uwsgi scgi; do
        [ "$temp" = client_body ] && echo "    client_body_temp_path $NGINX_PREFIX/client_body;" && continue
        echo "    ${temp}_temp_path $NGINX_PREFIX/${temp}_temp;"
    done
    echo "    upstream airlock {"
    printf '%s' "$upstreams"
    echo "        keepalive 256;"
    echo "    }"
    echo "    server {"
    echo "        listen 127.0.0.1:$NGINX_PORT;"
    echo "        location / {"
    echo "            proxy_pass http://airlock;"
    echo "            proxy_http_version 1.1;"
    echo "            proxy_set_header Connection \"\";"
    echo "        }"
    echo "    }"
    echo "}"
} > "$NGINX_PREFIX/nginx.conf"
start_nginx
load "three instances behind nginx, limits in Redis" "http://127.0.0.1:$NGINX_PORT/v1/chat/completions"

echo
echo "### Cluster mode"
echo
run_line
echo
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s --latency, POST /v1/chat/completions (gpt-4o-mini on the simulator, answering at once) with a project key whose rpm, tpm, concurrency and budget are all counted; one PostgreSQL database for all."
echo
echo "| set-up | round | req/s | p50 latency |"
echo "|---|---|---|---|"
awk -F'|' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$results"
