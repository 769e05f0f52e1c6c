#!/usr/bin/env bash
# One end user's GDPR export and erasure at scale (issue 16): a project
# whose request log and logged content hold ROWS rows of one end user among
# ten times as many of others' (seeded straight into SQLite while the
# gateway is stopped, as months of traffic would have left them), then
# the export job (POST, polled until completed, the zip downloaded) and
# the erasure (DELETE) through the admin API, timed. Reported: seconds,
# rows, the archive's size, and that the others' rows were all left.
#
#   bench/user_data.sh
#   AIRLOCK_BIN=target/release/airlock ROWS=100000 bench/user_data.sh
#
# Settings: ROWS (100000). AIRLOCK_BIN skips the release build. Everything
# listens on 127.0.0.1 and is stopped on exit; the results go to stdout.
set -euo pipefail

ROWS="${ROWS:-100000}"

BENCH_NAME=user-data
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
start_mock
serve_airlock users
curl -sf -X POST "http://127.0.0.1:$SERVE_PORT/admin/v1/projects" -H "authorization: Bearer $KEY" \
    -H 'content-type: application/json' -d '{"name": "voice", "log_content": true}' > "$WORK/project.json"
PROJECT_ID="$(json_field id < "$WORK/project.json")"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

say "seeding $ROWS rows of user-42 and $((ROWS * 10)) of others, in the request log and logged content"
python3 - "$WORK/data-users/airlock.db" "$PROJECT_ID" "$ROWS" <<'PY'
import sqlite3, sys
db, project, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
def records():
    for n in range(rows * 11):
        user = "user-42" if n % 11 == 0 else f"other-{n % 997}"
        yield (f"req_{n:09d}", n, "openai", "chat.completions", "gpt-4o-mini", 200, 1000, 0, "ok", project, user)
con.executemany("INSERT INTO request_log (id, started_at_ms, surface, operation, model, status, latency_us, streamed, outcome, project_id, end_user) VALUES (?,?,?,?,?,?,?,?,?,?,?)", records())
def contents():
    for n in range(rows * 11):
        user = "user-42" if n % 11 == 0 else f"other-{n % 997}"
        yield (f"req_{n:09d}", project, user, n, '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Tell me a story about a lighthouse."}]}', '{"choices":[{"message":{"content":"Once upon a time, a keeper kept the light."}}]}', 0)
con.executemany("INSERT INTO request_content (id, project_id, end_user, created_at_ms, request, response, truncated) VALUES (?,?,?,?,?,?,?)", contents())
con.commit()
PY

serve_airlock users
admin() { curl -sf -H "authorization: Bearer $KEY" "$@"; }
now() { date +%s.%N; }

say "exporting user-42"
START="$(now)"
admin -X POST "http://127.0.0.1:$SERVE_PORT/admin/v1/projects/voice/users/user-42/export" > "$WORK/export.json"
EXPORT_ID="$(json_field id < "$WORK/export.json")"
while :; do
    admin "http://127.0.0.1:$SERVE_PORT/admin/v1/exports/$EXPORT_ID" > "$WORK/export.json"
    STATUS="$(json_field status < "$WORK/export.json")"
    [ "$STATUS" = completed ] && break
    [ "$STATUS" = failed ] && { cat "$WORK/export.json" >&2; exit 1; }
    sleep 0.2
done
URL="$(json_field download_url < "$WORK/export.json")"
curl -sf -o "$WORK/export.zip" "$URL"
EXPORTED="$(now)"
EXPORT_ROWS="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["rows"]; print(r["request_log"], r["content"])' "$WORK/export.json")"

say "erasing user-42"
START_ERASE="$(now)"
admin -X DELETE "http://127.0.0.1:$SERVE_PORT/admin/v1/projects/voice/users/user-42" > "$WORK/erased.json"
ERASED="$(now)"
ERASED_ROWS="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["rows"]; print(r["request_log"], r["content"])' "$WORK/erased.json")"
LEFT="$(sqlite3 "$WORK/data-users/airlock.db" "SELECT count(*) FROM request_log WHERE end_user = 'user-42'"), $(sqlite3 "$WORK/data-users/airlock.db" "SELECT count(*) FROM request_log")"

echo
echo "$CORES CPUs; $("$AIRLOCK" --version); SQLite, local object store; $ROWS rows of the user in each of request_log and request_content, $((ROWS * 11)) in each table"
echo
echo "| step | seconds | rows (request_log, content) | |"
echo "|---|---|---|---|"
printf '| export (job, zip downloaded) | %.2f | %s | %s bytes |\n' "$(echo "$EXPORTED - $START" | bc)" "$EXPORT_ROWS" "$(stat -c %s "$WORK/export.zip")"
printf '| erasure | %.2f | %s | left: user %s of all rows |\n' "$(echo "$ERASED - $START_ERASE" | bc)" "$ERASED_ROWS" "$LEFT"
