#!/usr/bin/env bash
# Media's two speed targets (issue 13), each measured in one run:
#
# 1. `GET /media/{id}` from the local store against nginx serving the same
#    file: wrk, the same threads and connections, keep-alive, airlock and
#    nginx alternating ROUNDS times; a picture (gpt-image-1, 1024x1024) and
#    a narration (a Gemini TTS model's WAV, over 500 KB), both stored by
#    Airlock with `x-airlock-media: url`. Target: airlock ≥ 0.8 × nginx.
# 2. An image answer as a URL against the same answer inline: one image
#    request sent sequentially over one keep-alive connection
#    (bench/media_client.py, Python's http.client), the modes alternating
#    in blocks; the same prompt every time (one stored object, written once)
#    and a new prompt every time (a new object written per request); with
#    the default `[request_log] durability = "fast"` and once with
#    "durable". Target: URL p50 − inline p50 ≤ 1 ms, in the default mode.
#
#   bench/media.sh
#   AIRLOCK_BIN=target/release/airlock ROUNDS=3 WRK_SECONDS=15 bench/media.sh
#
# Settings: ROUNDS (3), WRK_THREADS (2), WRK_CONNECTIONS (64), WRK_SECONDS
# (15), LATENCY_MODELS ("dall-e-2:256x256 gpt-image-1:1024x1024"),
# LATENCY_BLOCKS (10 per mode), LATENCY_BLOCK_SIZE (50), SPEECH_CHARS (600:
# 50 ms of 24 kHz speech each, 1.4 MB of WAV). AIRLOCK_BIN skips the release
# build. Needs wrk and nginx (installed with apt-get when missing). The
# simulator (`airlock mock`) is every provider. Everything listens on
# 127.0.0.1 and is stopped on exit; the results table goes to stdout.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$ROOT"

ROUNDS="${ROUNDS:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WRK_SECONDS="${WRK_SECONDS:-15}"
LATENCY_MODELS="${LATENCY_MODELS:-dall-e-2:256x256 gpt-image-1:1024x1024}"
LATENCY_BLOCKS="${LATENCY_BLOCKS:-10}"
LATENCY_BLOCK_SIZE="${LATENCY_BLOCK_SIZE:-50}"
SPEECH_CHARS="${SPEECH_CHARS:-600}"
CORES="$(nproc)"
KEY=bench-key

say() { printf '[media] %s\n' "$*" >&2; }

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if ! command -v wrk >/dev/null 2>&1 || [ ! -x "$NGINX" ]; then
    say "installing wrk and nginx (apt)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk nginx >/dev/null
fi

if [ -n "${AIRLOCK_BIN:-}" ]; then
    AIRLOCK="$AIRLOCK_BIN"
else
    say "building Airlock (cargo build --release -p airlock --locked)"
    cargo build --release -p airlock --locked >&2
    AIRLOCK="${CARGO_TARGET_DIR:-$ROOT/target}/release/airlock"
fi
[ -x "$AIRLOCK" ] || { say "no airlock binary at $AIRLOCK"; exit 1; }

WORK="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    say "nothing listens on $1"; exit 1
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

MOCK_PORT="$(free_port)"
RUST_LOG=warn "$AIRLOCK" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 &
pids+=("$!")
wait_port "$MOCK_PORT"

# `airlock serve` with the simulator as OpenAI and Gemini, one worker per
# core, its access log off; its pid and port in SERVE_PID and SERVE_PORT.
serve_airlock() {
    local name="$1" durability="$2" port
    port="$(free_port)"
    cat > "$WORK/$name.toml" <<EOF
[server]
master_key = "env:BENCH_KEY"
workers = $CORES

[request_log]
durability = "$durability"

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
    BENCH_KEY="$KEY" SIM_KEY=sim RUST_LOG=warn \
        "$AIRLOCK" serve --config "$WORK/$name.toml" --listen "127.0.0.1:$port" \
        --data-dir "$WORK/data-$name" --access-log false >"$WORK/serve-$name.log" 2>&1 &
    SERVE_PID=$!
    SERVE_PORT="$port"
    pids+=("$SERVE_PID")
    wait_port "$port"
}

# utime + stime of a process tree (clock ticks).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# One wrk load of GET URL: "req/s MB/s errors server_cpu_us_per_req".
TICK="$(getconf CLK_TCK)"
measure() {
    local url="$1" server_pid="$2" out before after
    before="$(cpu_ticks "$server_pid")"
    out="$(wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" "$url")"
    after="$(cpu_ticks "$server_pid")"
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^/[media]   wrk: /' >&2 || true
    awk -v t0="$before" -v t1="$after" -v hz="$TICK" '
        /^Requests\/sec:/ {rps = $2}
        /^Transfer\/sec:/ {
            v = $2 + 0; unit = $2; sub(/^[0-9.]+/, "", unit)
            mb = (unit == "GB") ? v * 1024 : (unit == "MB") ? v : (unit == "KB") ? v / 1024 : v / 1048576
        }
        /requests in/ {total = $1}
        /Non-2xx or 3xx responses:/ {errors += $5}
        /Socket errors:/ {gsub(",", ""); errors += $4 + $6 + $8 + $10}
        END {printf "%s %.1f %d %.0f\n", rps, mb, errors, (t1 - t0) / hz * 1e6 / total}' <<<"$out"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1. GET /media/{id} against nginx ---------------------------------------
say "1. storing a picture and a narration"
serve_airlock serve fast
serve_pid="$SERVE_PID" port="$SERVE_PORT"
python3 "$BENCH/media_client.py" store-image --port "$port" --key "$KEY" \
    --model gpt-image-1 --size 1024x1024 > "$WORK/image.json"
python3 "$BENCH/media_client.py" store-speech --port "$port" --key "$KEY" \
    --model gemini-2.5-flash-preview-tts --chars "$SPEECH_CHARS" > "$WORK/speech.json"

NGINX_PREFIX="$WORK/nginx"
mkdir -p "$NGINX_PREFIX/root/media"
# nginx's workers run as an unprivileged user when started as root.
chmod 755 "$WORK" "$NGINX_PREFIX" "$NGINX_PREFIX/root" "$NGINX_PREFIX/root/media"
NGINX_PORT="$(free_port)"
cat > "$NGINX_PREFIX/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $CORES;
pid $NGINX_PREFIX/nginx.pid;
error_log $NGINX_PREFIX/error.log warn;
events {
    worker_connections 4096;
    multi_accept on;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $NGINX_PREFIX/client_body;
    proxy_temp_path $NGINX_PREFIX/proxy_temp;
    fastcgi_temp_path $NGINX_PREFIX/fastcgi_temp;
    uwsgi_temp_path $NGINX_PREFIX/uwsgi_temp;
    scgi_temp_path $NGINX_PREFIX/scgi_temp;
    types {
        image/png png;
        audio/wav wav;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $NGINX_PREFIX/root;
        add_header Cache-Control "public, max-age=3600, immutable";
    }
}
EOF

declare -A URL_OF SIZE_OF
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    stored="$(find "$WORK/data-serve" -type f -name "$id" -path '*/media/*' | head -n1)"
    [ -n "$stored" ] || { say "the stored file of $id is not under $WORK/data-serve"; exit 1; }
    cp "$stored" "$NGINX_PREFIX/root/media/$id"
    chmod 644 "$NGINX_PREFIX/root/media/$id"
    URL_OF[$kind]="$(json_field url < "$WORK/$kind.json")"
    SIZE_OF[$kind]="$(stat -c %s "$stored")"
    say "$kind: ${stored#"$WORK/"}, ${SIZE_OF[$kind]} bytes"
done

"$NGINX" -c "$NGINX_PREFIX/nginx.conf" -p "$NGINX_PREFIX" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$NGINX_PORT"

# Both serve the same bytes, with the same type.
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    want="$(sha256sum < "$NGINX_PREFIX/root/media/$id" | cut -d' ' -f1)"
    for url in "${URL_OF[$kind]}" "http://127.0.0.1:$NGINX_PORT/media/$id"; do
        got="$(curl -fsS "$url" | sha256sum | cut -d' ' -f1)"
        [ "$got" = "$want" ] || { say "$url does not serve the stored bytes"; exit 1; }
    done
    for url in "${URL_OF[$kind]}" "http://127.0.0.1:$NGINX_PORT/media/$id"; do
        curl -fsS -o /dev/null -D - "$url" | tr -d '\r' | awk -v u="$url" 'tolower($1) == "content-type:" {print "[media]   " $2 " from " u}' >&2
    done
done

THROUGHPUT="$WORK/throughput"
: > "$THROUGHPUT"
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    nginx_url="http://127.0.0.1:$NGINX_PORT/media/$id"
    wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d 2s "${URL_OF[$kind]}" >/dev/null
    wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d 2s "$nginx_url" >/dev/null
    for round in $(seq "$ROUNDS"); do
        for server in airlock nginx; do
            if [ "$server" = airlock ]; then
                read -r rps mbs errors cpu <<<"$(measure "${URL_OF[$kind]}" "$serve_pid")"
            else
                read -r rps mbs errors cpu <<<"$(measure "$nginx_url" "$nginx_pid")"
            fi
            say "$kind, round $round, $server: $rps req/s, $mbs MB/s, errors $errors, $cpu µs CPU/req"
            echo "$kind $round $server $rps $mbs $errors $cpu" >> "$THROUGHPUT"
        done
    done
done
kill -TERM "$nginx_pid" "$serve_pid"
wait "$nginx_pid" "$serve_pid" 2>/dev/null || true

# --- 2. URL against inline answers ------------------------------------------
LATENCY="$WORK/latency"
: > "$LATENCY"
for durability in fast durable; do
    for spec in $LATENCY_MODELS; do
        model="${spec%%:*}" size="${spec#*:}"
        for prompts in same distinct; do
            # A fresh data directory for each, so no earlier run's objects.
            name="latency-$durability-$model-$prompts"
            serve_airlock "$name" "$durability"
            serve_pid="$SERVE_PID" port="$SERVE_PORT"
            say "2. $durability, $model $size, $prompts prompts"
            python3 "$BENCH/media_client.py" latency --port "$port" --key "$KEY" \
                --model "$model" --size "$size" --prompts "$prompts" \
                --blocks "$LATENCY_BLOCKS" --block-size "$LATENCY_BLOCK_SIZE" > "$WORK/$name.json"
            objects="$(find "$WORK/data-$name" -type f -path '*/media/media/*' | wc -l)"
            echo "$durability $model $size $prompts $objects $WORK/$name.json" >> "$LATENCY"
            kill -TERM "$serve_pid"
            wait "$serve_pid" 2>/dev/null || true
        done
    done
done

# --- the results -------------------------------------------------------------
echo
echo "$CORES CPUs, load average $LOAD_BEFORE at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; $("$AIRLOCK" --version); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2); $("$NGINX" -v 2>&1 | cut -d' ' -f3)"
echo
echo "### GET /media/{id} against nginx"
echo
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s, keep-alive, airlock then nginx in each round; CPU is the server's whole process tree over the run."
echo
echo "| object | bytes | round | airlock req/s | nginx req/s | airlock ÷ nginx | airlock MB/s | nginx MB/s | airlock CPU µs/req | nginx CPU µs/req | errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for kind in image speech; do
    case "$kind" in image) label="gpt-image-1 1024x1024 PNG" ;; speech) label="Gemini TTS WAV, $SPEECH_CHARS characters" ;; esac
    awk -v k="$kind" -v label="$label" -v size="${SIZE_OF[$kind]}" '
        $1 == k && $3 == "airlock" {a[$2] = $4; am[$2] = $5; ae[$2] = $6; ac[$2] = $7}
        $1 == k && $3 == "nginx" {n[$2] = $4; nm[$2] = $5; ne[$2] = $6; nc[$2] = $7}
        END {
            for (r = 1; r in a; r++) {
                ratio[r] = a[r] / n[r]
                printf "| %s | %d | %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.0f | %d |\n", label, size, r, a[r], n[r], ratio[r], am[r], nm[r], ac[r], nc[r], ae[r] + ne[r]
            }
            count = r - 1
            for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (ratio[j] < ratio[i]) {t = ratio[i]; ratio[i] = ratio[j]; ratio[j] = t}
            median = (count % 2) ? ratio[(count + 1) / 2] : (ratio[count / 2] + ratio[count / 2 + 1]) / 2
            printf "| %s | | median | | | **%.2f** (%s 0.8) | | | | | |\n", label, median, (median >= 0.8) ? "≥" : "<"
        }' "$THROUGHPUT"
done
echo
echo "### An image answer as a URL against inline"
echo
echo "Sequential requests over one keep-alive connection (Python http.client), $LATENCY_BLOCKS blocks of $LATENCY_BLOCK_SIZE per mode, alternating, after 20 warm-up requests per mode; client-side latency to the answer's last byte."
echo
python3 - "$LATENCY" <<'PY'
import json, sys

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]

print("| durability | model, size | prompts | first image bytes | mean answer bytes inline / url | objects stored | inline p50 µs | url p50 µs | inline p90 µs | url p90 µs | url − inline p50 µs |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    durability, model, size, prompts, objects, path = line.split()
    run = json.load(open(path))
    t = run["times_us"]
    i50, u50, i90, u90 = pct(t["inline"], 50), pct(t["url"], 50), pct(t["inline"], 90), pct(t["url"], 90)
    sizes = run["mean_answer_bytes"]
    print(f"| {durability} | {model} {size} | {prompts} | {run['first_image_bytes']:,} | {sizes['inline']:,} / {sizes['url']:,} "
          f"| {int(objects):,} | {i50:,} | {u50:,} | {i90:,} | {u90:,} | **{u50 - i50:+,}** |")
PY
