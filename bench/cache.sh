#!/usr/bin/env bash
# The response cache's three speed targets (issue 14), measured in one run:
#
# 1. A hit for a non-streamed chat answer against nginx serving the same
#    bytes as a static file: wrk, the same threads and connections,
#    keep-alive, airlock and nginx alternating ROUNDS times. Airlock gets
#    the chat request (POST, `x-airlock-cache: use`, from a Lua script);
#    nginx gets a GET of the file, as nginx answers 405 to a POST for a
#    static file. Target: airlock ≥ 0.8 × nginx. Every hit is a
#    request-log record: once the log has caught up, one more load on
#    Airlock alone counts the records written and dropped (a full queue
#    drops them), which says whether the hit rate outran the log.
# 2. An image hit by URL: a gpt-image-1 1024x1024 picture asked for with
#    `x-airlock-media: url` and `x-airlock-cache: use`, answered a second
#    time from the cache; then its signed URL (`GET /media/{id}`) against
#    nginx serving the same file, as in 1. Target: airlock ≥ 0.8 × nginx.
# 3. What a miss costs: one chat request sent sequentially over one
#    keep-alive connection (bench/cache_client.py, Python's http.client),
#    in alternating blocks: the cache off (no header, nothing configured),
#    always a miss (`use`, a new prompt each time) and `refresh` (one
#    prompt, kept again each time). Target: miss p50 − off p50 ≤ 20 µs.
#
#   bench/cache.sh
#   AIRLOCK_BIN=target/release/airlock ROUNDS=3 WRK_SECONDS=15 bench/cache.sh
#
# Settings: ROUNDS (3), WRK_THREADS (2), WRK_CONNECTIONS (64), WRK_SECONDS
# (15), LATENCY_BLOCKS (10 per mode), LATENCY_BLOCK_SIZE (200),
# LATENCY_WARMUP (50 per mode). AIRLOCK_BIN skips the release build. Needs
# wrk and nginx (installed with apt-get when missing). The simulator
# (`airlock mock`, no latency) is every provider. Everything listens on
# 127.0.0.1 and is stopped on exit; the results tables go to stdout.
set -euo pipefail

LATENCY_BLOCKS="${LATENCY_BLOCKS:-10}"
LATENCY_BLOCK_SIZE="${LATENCY_BLOCK_SIZE:-200}"
LATENCY_WARMUP="${LATENCY_WARMUP:-50}"

BENCH_NAME=cache
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
start_mock

# `cache_results PORT`: Airlock's cache answers so far, from /metrics, as
# "hits misses bypasses".
cache_results() {
    curl -fsS "http://127.0.0.1:$1/metrics" | awk '
        /^airlock_cache_requests_total\{/ {
            match($0, /result="[a-z]+"/)
            count[substr($0, RSTART + 8, RLENGTH - 9)] += $NF
        }
        END {printf "%d %d %d\n", count["hit"], count["miss"], count["bypass"]}'
}

# `log_results PORT`: the request log's records so far, from /metrics, as
# "written dropped".
log_results() {
    curl -fsS "http://127.0.0.1:$1/metrics" | awk '
        /^airlock_request_log_written_total / {written = $NF}
        /^airlock_request_log_dropped_total\{/ {dropped += $NF}
        END {printf "%d %d\n", written, dropped}'
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1 and 2. hits against nginx --------------------------------------------
serve_airlock hits
serve_pid="$SERVE_PID" port="$SERVE_PORT"
chat_url="http://127.0.0.1:$port/v1/chat/completions"
say "1. a chat answer, kept and then a hit"
python3 "$BENCH/cache_client.py" chat-hit --port "$port" --key "$KEY" \
    --out "$WORK/chat-hit.json" --request "$WORK/chat-request.json"
say "2. a picture by URL, kept and then a hit"
python3 "$BENCH/cache_client.py" image-hit --port "$port" --key "$KEY" > "$WORK/image.json"

nginx_prepare "image/png png;" "application/json json;"
cp "$WORK/chat-hit.json" "$NGINX_ROOT/chat.json"
chmod 644 "$NGINX_ROOT/chat.json"
image_id="$(json_field id < "$WORK/image.json")"
image_url="$(json_field url < "$WORK/image.json")"
stored="$(nginx_copy_media "$WORK/data-hits" "$image_id")"
CHAT_BYTES="$(stat -c %s "$WORK/chat-hit.json")"
IMAGE_BYTES="$(stat -c %s "$stored")"
say "chat answer: $CHAT_BYTES bytes; picture: ${stored#"$WORK/"}, $IMAGE_BYTES bytes"
start_nginx
# nginx gets a GET: it answers 405 to a POST for a static file.
nginx_chat_url="http://127.0.0.1:$NGINX_PORT/chat.json"

# wrk's request to Airlock: the chat request, built once by wrk (no
# per-request Lua), so wrk costs the same for both servers.
cat > "$WORK/chat-hit.lua" <<EOF
wrk.method = "POST"
wrk.body = [[$(cat "$WORK/chat-request.json")]]
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-airlock-cache"] = "use"
EOF

# Airlock's hit is the file's bytes; both serve the picture's stored bytes.
hit_sum="$(curl -fsS -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
    -H "x-airlock-cache: use" --data-binary "@$WORK/chat-request.json" "$chat_url" | sha256sum)"
[ "$hit_sum" = "$(sha256sum < "$NGINX_ROOT/chat.json")" ] || { say "the chat hit is not the file's bytes"; exit 1; }
same_bytes "$NGINX_ROOT/chat.json" "$nginx_chat_url"
same_bytes "$NGINX_ROOT/media/$image_id" "$image_url" "http://127.0.0.1:$NGINX_PORT/media/$image_id"

THROUGHPUT="$WORK/throughput"
: > "$THROUGHPUT"
read -r hits_before misses_before bypasses_before <<<"$(cache_results "$port")"
against_nginx chat "$serve_pid" "$chat_url" "$nginx_chat_url" -s "$WORK/chat-hit.lua"
read -r hits_after misses_after bypasses_after <<<"$(cache_results "$port")"
# Each hit is a request-log record. Once the log has caught up, one more
# load on Airlock alone: what the log wrote in it, and what it dropped
# (its queue full), say whether the hit rate outran it.
for _ in $(seq 120); do
    depth="$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^airlock_request_log_queue_depth / {print $NF}')"
    [ "$depth" = 0 ] && break
    sleep 0.5
done
read -r written_before dropped_before <<<"$(log_results "$port")"
LOG_RPS="$(wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" -s "$WORK/chat-hit.lua" "$chat_url" |
    awk '/^Requests\/sec:/ {printf "%.0f", $2}')"
read -r written_after dropped_after <<<"$(log_results "$port")"
LOG_WRITTEN=$((written_after - written_before))
LOG_DROPPED=$((dropped_after - dropped_before))
say "chat, request log: $LOG_RPS hits/s, $LOG_WRITTEN records written in ${WRK_SECONDS} s, $LOG_DROPPED dropped"
CHAT_HITS=$((hits_after - hits_before))
not_hits=$((misses_after - misses_before + bypasses_after - bypasses_before))
say "chat: $CHAT_HITS hits, $not_hits misses or bypasses under load"
[ "$not_hits" = 0 ] || { say "a chat request under load was not a hit"; exit 1; }
against_nginx image "$serve_pid" "$image_url" "http://127.0.0.1:$NGINX_PORT/media/$image_id"
# Airlock's peak resident memory over both loads (its request log's and
# cache's statements kept prepared included).
PEAK_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$serve_pid/status")"
kill -TERM "$NGINX_PID" "$serve_pid"
wait "$NGINX_PID" "$serve_pid" 2>/dev/null || true

# --- 3. what a miss costs ----------------------------------------------------
serve_airlock latency
serve_pid="$SERVE_PID" port="$SERVE_PORT"
say "3. cache off, miss and refresh, $LATENCY_BLOCKS blocks of $LATENCY_BLOCK_SIZE each"
python3 "$BENCH/cache_client.py" latency --port "$port" --key "$KEY" --blocks "$LATENCY_BLOCKS" \
    --block-size "$LATENCY_BLOCK_SIZE" --warmup "$LATENCY_WARMUP" > "$WORK/latency.json"
kill -TERM "$serve_pid"
wait "$serve_pid" 2>/dev/null || true

# --- the results -------------------------------------------------------------
echo
run_line
echo
echo "### Cache hits against nginx"
echo
against_nginx_head
against_nginx_rows chat "chat completion hit (gpt-4o-mini, JSON)" "$CHAT_BYTES"
against_nginx_rows image "gpt-image-1 1024x1024 PNG, hit by URL" "$IMAGE_BYTES"
echo
echo "Airlock's peak resident memory (VmHWM) after both loads: $((PEAK_KB / 1024)) MiB."
echo
NGINX_CHAT_MEDIAN="$(awk '$1 == "chat" && $3 == "nginx" {print $4}' "$THROUGHPUT" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')"
echo "Every hit is a request-log record. A further ${WRK_SECONDS} s chat-hit load on Airlock alone, once its log had caught up: $LOG_RPS hits/s; the log wrote $LOG_WRITTEN records ($(awk -v w="$LOG_WRITTEN" -v s="$WRK_SECONDS" -v n="$NGINX_CHAT_MEDIAN" 'BEGIN {printf "%.0f a second, %.2f × nginx'"'"'s median req/s", w / s, w / s / n}')) and dropped $LOG_DROPPED (its queue full). Records dropped mean the hit rate outran the log: the rate at which every hit is recorded is what the log writes."
echo
echo "The chat rows: airlock answers \`POST /v1/chat/completions\` with \`x-airlock-cache: use\` ($CHAT_HITS hits under load, no miss); nginx a \`GET\` of the same bytes as a file. The picture rows: \`GET /media/{id}\` of the hit's signed URL against nginx serving the stored file."
echo
echo "### What a miss costs"
echo
echo "Sequential \`POST /v1/chat/completions\` over one keep-alive connection (Python http.client), $LATENCY_BLOCKS blocks of $LATENCY_BLOCK_SIZE per mode, alternating, after $LATENCY_WARMUP warm-up requests per mode; the simulator answers at once; client-side latency to the answer's last byte."
echo
python3 "$BENCH/cache_client.py" latency-table "$WORK/latency.json"
