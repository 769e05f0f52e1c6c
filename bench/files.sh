#!/usr/bin/env bash
# The Files APIs' speed (issue 15), on the local object store:
#
# 1. Upload throughput: a text document uploaded RUNS times by each path,
#    sequentially on one keep-alive connection (bench/files_client.py):
#    OpenAI's `POST /v1/files` (one multipart request of SINGLE_MB, under
#    the 20 MiB body limit) and Gemini's resumable protocol as
#    google-genai sends it (RESUMABLE_MB in CHUNK_MB chunks). Each upload
#    is checked (200, the size stored) and deleted after it is timed. The
#    time covers everything the gateway does: the parts stored, joined,
#    sniffed, hashed, the text extracted and stored beside the file.
#    Target: ≥ 200 MB/s.
# 2. Extraction time per PDF page: a PDF of PAGES pages of text, uploaded
#    once; the time per page is Airlock's own measure
#    (airlock_file_extraction_page_seconds on /metrics).
#
#   bench/files.sh
#   AIRLOCK_BIN=target/release/airlock RUNS=5 bench/files.sh
#
# Settings: RUNS (5), SINGLE_MB (16), RESUMABLE_MB (64), CHUNK_MB (8),
# PAGES (200). AIRLOCK_BIN skips the release build. Everything listens on
# 127.0.0.1 and is stopped on exit; the results table goes to stdout.
set -euo pipefail

RUNS="${RUNS:-5}"
SINGLE_MB="${SINGLE_MB:-16}"
RESUMABLE_MB="${RESUMABLE_MB:-64}"
CHUNK_MB="${CHUNK_MB:-8}"
PAGES="${PAGES:-200}"

BENCH_NAME=files
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
start_mock
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
serve_airlock files "[files]
max_mb = $((RESUMABLE_MB * 2))"

say "uploads: $RUNS × ${SINGLE_MB} MiB by POST /v1/files, $RUNS × ${RESUMABLE_MB} MiB resumable in ${CHUNK_MB} MiB chunks"
python3 "$BENCH/files_client.py" upload --port "$SERVE_PORT" --key "$KEY" --runs "$RUNS" \
    --single-mb "$SINGLE_MB" --resumable-mb "$RESUMABLE_MB" --chunk-mb "$CHUNK_MB" > "$WORK/upload.json"
say "a PDF of $PAGES pages"
python3 "$BENCH/files_client.py" pdf --port "$SERVE_PORT" --key "$KEY" --pages "$PAGES" > "$WORK/pdf.json"

echo
echo "$CORES CPUs, load average $LOAD_BEFORE at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; $("$AIRLOCK" --version); local object store"
echo
python3 - "$WORK/upload.json" "$WORK/pdf.json" <<'PY'
import json, statistics, sys
upload = json.load(open(sys.argv[1]))
pdf = json.load(open(sys.argv[2]))
print("| path | bytes per upload | uploads | median s | median MB/s | slowest MB/s |")
print("|---|---|---|---|---|---|")
for path, label in [("openai", "`POST /v1/files` (multipart)"), ("resumable", "Gemini resumable upload")]:
    size = upload[f"{path}_bytes"]
    times = upload[path]
    print(f"| {label} | {size} | {len(times)} | {statistics.median(times):.3f} | {size / statistics.median(times) / 1e6:.0f} | {size / max(times) / 1e6:.0f} |")
print()
print(f"A PDF of {pdf['pages']} pages ({pdf['bytes']} bytes): uploaded in {pdf['upload_seconds']:.3f} s; text extracted at {pdf['per_page_ms']:.3f} ms per page.")
PY
