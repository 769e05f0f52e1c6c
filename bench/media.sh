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

BENCH_NAME=media
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LATENCY_MODELS="${LATENCY_MODELS:-dall-e-2:256x256 gpt-image-1:1024x1024}"
LATENCY_BLOCKS="${LATENCY_BLOCKS:-10}"
LATENCY_BLOCK_SIZE="${LATENCY_BLOCK_SIZE:-50}"
SPEECH_CHARS="${SPEECH_CHARS:-600}"

bench_setup
start_mock

# The request log's section of `airlock serve`'s configuration.
request_log() { printf '[request_log]\ndurability = "%s"' "$1"; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1. GET /media/{id} against nginx ---------------------------------------
say "1. storing a picture and a narration"
serve_airlock serve "$(request_log fast)"
serve_pid="$SERVE_PID" port="$SERVE_PORT"
python3 "$BENCH/media_client.py" store-image --port "$port" --key "$KEY" \
    --model gpt-image-1 --size 1024x1024 > "$WORK/image.json"
python3 "$BENCH/media_client.py" store-speech --port "$port" --key "$KEY" \
    --model gemini-2.5-flash-preview-tts --chars "$SPEECH_CHARS" > "$WORK/speech.json"

nginx_prepare "image/png png;" "audio/wav wav;"
declare -A URL_OF SIZE_OF
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    stored="$(nginx_copy_media "$WORK/data-serve" "$id")"
    URL_OF[$kind]="$(json_field url < "$WORK/$kind.json")"
    SIZE_OF[$kind]="$(stat -c %s "$stored")"
    say "$kind: ${stored#"$WORK/"}, ${SIZE_OF[$kind]} bytes"
done
start_nginx

# Both serve the same bytes, with the same type.
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    same_bytes "$NGINX_ROOT/media/$id" "${URL_OF[$kind]}" "http://127.0.0.1:$NGINX_PORT/media/$id"
done

THROUGHPUT="$WORK/throughput"
: > "$THROUGHPUT"
for kind in image speech; do
    id="$(json_field id < "$WORK/$kind.json")"
    against_nginx "$kind" "$serve_pid" "${URL_OF[$kind]}" "http://127.0.0.1:$NGINX_PORT/media/$id"
done
kill -TERM "$NGINX_PID" "$serve_pid"
wait "$NGINX_PID" "$serve_pid" 2>/dev/null || true

# --- 2. URL against inline answers ------------------------------------------
LATENCY="$WORK/latency"
: > "$LATENCY"
for durability in fast durable; do
    for spec in $LATENCY_MODELS; do
        model="${spec%%:*}" size="${spec#*:}"
        for prompts in same distinct; do
            # A fresh data directory for each, so no earlier run's objects.
            name="latency-$durability-$model-$prompts"
            serve_airlock "$name" "$(request_log "$durability")"
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
run_line
echo
echo "### GET /media/{id} against nginx"
echo
against_nginx_head
for kind in image speech; do
    case "$kind" in image) label="gpt-image-1 1024x1024 PNG" ;; speech) label="Gemini TTS WAV, $SPEECH_CHARS characters" ;; esac
    against_nginx_rows "$kind" "$label" "${SIZE_OF[$kind]}"
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
