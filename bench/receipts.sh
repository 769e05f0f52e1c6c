#!/usr/bin/env bash
# How fast a receipt is served with its proof from a large receipts log:
# `GET /v1/receipts/{id}` for receipts picked at random from a log of
# RECORDS entries (default ten million), with wrk (Debian's package).
#
#   bench/receipts.sh                        # seeds 10,000,000 records first
#   RECORDS=1000000 bench/receipts.sh
#   SEEDED=/path/to/data-dir bench/receipts.sh   # a directory seeded before
#
# The log is seeded by bench/receipts-seed through the store's own write
# path (the request log writer's transaction: records, rollups, receipts,
# tiles), 1024 records a transaction. Then `airlock serve` opens it, signs
# a checkpoint of the whole tree, and wrk asks for random receipts: one
# connection (latency) and 16 (throughput), WRK_SECONDS each. Every answer
# carries its inclusion proof against that checkpoint. The proof-serving
# target: p99 ≤ 1 ms. The database is read once first so the OS holds it
# in its cache, as on a server that has been serving it (COLD=1 skips
# that). AIRLOCK_BIN and SEED_BIN skip the release builds.
set -euo pipefail

BENCH_NAME=receipts
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RECORDS="${RECORDS:-10000000}"
WRK_SECONDS="${WRK_SECONDS:-15}"
bench_setup

if [ -n "${SEED_BIN:-}" ]; then
    SEED="$SEED_BIN"
else
    say "building the seeder (cargo build --release -p receipts-seed --locked)"
    cargo build --release -p receipts-seed --locked >&2
    SEED="${CARGO_TARGET_DIR:-$ROOT/target}/release/receipts-seed"
fi

if [ -n "${SEEDED:-}" ]; then
    DATA="$SEEDED"
else
    DATA="$WORK/data"
    say "seeding $RECORDS records and receipts into $DATA"
    seed_started=$(date +%s)
    "$SEED" --data-dir "$DATA" --records "$RECORDS" >&2
    say "seeded in $(( $(date +%s) - seed_started )) s; the data directory holds $(du -sh "$DATA" | cut -f1)"
fi
if [ -z "${COLD:-}" ]; then
    # As on a server that has been serving it: the database in the OS's cache.
    say "reading the database once ($(du -sh "$DATA/airlock.db" | cut -f1)) so the OS holds it (COLD=1 skips)"
    cat "$DATA/airlock.db" > /dev/null
fi
SIZE="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT size FROM receipt_log").fetchone()[0])' "$DATA/airlock.db")"

PORT="$(free_port)"
opened=$(date +%s%N)
AIRLOCK_MASTER_KEY="$KEY" RUST_LOG=warn "$AIRLOCK" serve --listen "127.0.0.1:$PORT" \
    --data-dir "$DATA" --access-log false >"$WORK/serve.log" 2>&1 &
pids+=("$!")
wait_port "$PORT"
# The first checkpoint covers the whole seeded tree.
for _ in $(seq 600); do
    signed="$(curl -sf "http://127.0.0.1:$PORT/log/checkpoint" | sed -n 2p || true)"
    [ "$signed" = "$SIZE" ] && break
    sleep 0.1
done
[ "$signed" = "$SIZE" ] || { say "no checkpoint of $SIZE entries (last: ${signed:-none})"; exit 1; }
say "serving a log of $SIZE; first checkpoint signed $(( ($(date +%s%N) - opened) / 1000000 )) ms after start"

cat > "$WORK/receipts.lua" <<EOF
math.randomseed(42)
request = function()
    local i = math.random(0, $SIZE - 1)
    return wrk.format("GET", string.format("/v1/receipts/rcpt_%032x", i),
        {["Authorization"] = "Bearer $KEY"})
end
done = function(summary, latency, requests)
    io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests,
        latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
        summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF

# A sample answer: 200 with a proof of the tree's depth.
sample="$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/receipts/rcpt_$(printf '%032x' $((SIZE / 3)))")"
proof_hashes="$(python3 -c 'import json, sys; r = json.load(sys.stdin); print(len(r["inclusion_proof"]))' <<<"$sample")"

echo
echo "$CORES CPUs, $("$AIRLOCK" --version), a log of $SIZE receipts (SQLite), wrk ${WRK_SECONDS} s per load, random receipts; each answer's inclusion proof has $proof_hashes hashes"
echo
echo "| connections | req/s | p50 µs | p99 µs | p99.9 µs | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|---|"
for connections in 1 16; do
    wrk -t1 -c "$connections" -d 2s -s "$WORK/receipts.lua" "http://127.0.0.1:$PORT" >/dev/null
    read -r requests p50 p99 p999 status errors <<<"$(wrk -t1 -c "$connections" -d "${WRK_SECONDS}s" \
        -s "$WORK/receipts.lua" "http://127.0.0.1:$PORT" | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}')"
    printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$connections" \
        "$(awk -v r="$requests" -v s="$WRK_SECONDS" 'BEGIN {print r / s}')" "$p50" "$p99" "$p999" "$status" "$errors"
done
