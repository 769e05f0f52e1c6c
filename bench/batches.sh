#!/usr/bin/env bash
# The Batch APIs' throughput (issue 15): a batch of REQUESTS chat
# completions through OpenAI's Batch API (an uploaded JSONL file, polled
# until it completes, its output file read back and counted), and the same
# number of Gemini requests inline in one batchGenerateContent, against
# the provider simulator with no added latency. Each batch runs on
# Airlock's job runner with its default bounds (8 items at once across
# jobs, 4 per job), each request through Airlock's own API routes with
# the request log on. Reported: the wall time from create to the poll that
# saw it end, and requests per second.
#
#   bench/batches.sh
#   AIRLOCK_BIN=target/release/airlock REQUESTS=10000 bench/batches.sh
#
# Settings: REQUESTS (10000), POLL (0.5 s). AIRLOCK_BIN skips the release
# build. Everything listens on 127.0.0.1 and is stopped on exit; the
# results table goes to stdout.
set -euo pipefail

REQUESTS="${REQUESTS:-10000}"
POLL="${POLL:-0.5}"

BENCH_NAME=batches
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
start_mock
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
serve_airlock batches

say "an OpenAI batch of $REQUESTS chat completions"
python3 "$BENCH/batches_client.py" openai --port "$SERVE_PORT" --key "$KEY" \
    --requests "$REQUESTS" --poll "$POLL" > "$WORK/openai.json"
say "a Gemini batch of $REQUESTS inline requests"
python3 "$BENCH/batches_client.py" gemini --port "$SERVE_PORT" --key "$KEY" \
    --requests "$REQUESTS" --poll "$POLL" > "$WORK/gemini.json"

echo
echo "$CORES CPUs, load average $LOAD_BEFORE at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; $("$AIRLOCK" --version); SQLite, local object store"
echo
python3 - "$WORK/openai.json" "$WORK/gemini.json" <<'PY'
import json, sys
openai = json.load(open(sys.argv[1]))
gemini = json.load(open(sys.argv[2]))
print("| batch | requests | create → ended, s | requests/s |")
print("|---|---|---|---|")
for label, run in [("OpenAI `/v1/batches`, chat completions from a JSONL file", openai),
                   ("Gemini `batchGenerateContent`, inline requests", gemini)]:
    print(f"| {label} | {run['requests']} | {run['seconds']:.1f} | {run['requests'] / run['seconds']:.0f} |")
print()
print(f"The OpenAI input file ({openai['input_bytes']} bytes) uploaded in {openai['upload_seconds']:.3f} s; "
      f"its output file holds {openai['output_bytes']} bytes, one line per request.")
PY
