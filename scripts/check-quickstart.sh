#!/usr/bin/env bash
# Runs the README's quick start exactly as a new user would: the first command
# block of its "Quick start" section (run Airlock on its embedded defaults),
# then its first curl example, then SIGTERM. The commands are read from the
# README itself, so the check follows the README when it changes.
#
#   ./scripts/check-quickstart.sh
#
# Passes when the server comes up (GET /healthz answers), the curl example
# gets a chat completion, and SIGTERM stops the server cleanly (exit 0).
# The command may build first (cargo run), so the wait for /healthz is long;
# it ends at once if the command exits.
set -euo pipefail
cd "$(dirname "$0")/.."

readme=README.md
python="${PYTHON:-python3}"
listen="127.0.0.1:8080"   # the README's documented default
build_wait_secs="${QUICKSTART_WAIT_SECS:-2400}"

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "check-quickstart: $*" >&2; exit 1; }

# The README's shell blocks, as a JSON list of {section, text}.
blocks="$("$python" - "$readme" <<'PY'
import json, re, sys
section, blocks, inside, lines = "", [], False, []
for line in open(sys.argv[1], encoding="utf-8"):
    if not inside and line.startswith("#"):
        section = line.strip("# \n")
    if line.startswith("```"):
        if inside:
            blocks.append({"section": section, "text": "".join(lines)})
            inside, lines = False, []
        elif line.strip() in ("```sh", "```bash", "```shell"):
            inside = True
        continue
    if inside:
        lines.append(line)
print(json.dumps(blocks))
PY
)"
pick() {
  "$python" -c 'import json, sys; blocks = json.loads(sys.argv[1]); hits = [b["text"] for b in blocks if eval(sys.argv[2])]; print(hits[0] if hits else "", end="")' "$blocks" "$1"
}
serve_cmd="$(pick 'b["section"] == "Quick start" and "serve" in b["text"]')"
curl_cmd="$(pick 'b["section"] == "Quick start" and b["text"].lstrip().startswith("curl")')"
[[ -n "$serve_cmd" ]] || fail "no command block that runs 'serve' in the README's Quick start section"
[[ -n "$curl_cmd" ]] || fail "no curl example in the README's Quick start section"

if (exec 3<>"/dev/tcp/${listen%:*}/${listen#*:}") 2>/dev/null; then
  fail "something already listens on $listen, where the quick start serves"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-quickstart.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "README quick start: $serve_cmd"
# The command runs as written; `exec` makes it the process SIGTERM reaches
# (cargo run replaces itself with the binary).
bash -c "exec $serve_cmd" >"$work/serve.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + build_wait_secs))
until curl -fsS "http://$listen/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    tail -n 40 "$work/serve.log" >&2
    fail "the quick-start command exited before /healthz answered"
  fi
  (( SECONDS < deadline )) || { tail -n 40 "$work/serve.log" >&2; fail "/healthz did not answer within ${build_wait_secs}s"; }
  sleep 1
done
grep -q "SERVING THE BUILT-IN SIMULATOR" "$work/serve.log" ||
  fail "with no provider key the banner must say that the simulator serves"
echo "serving on $listen"

step "README curl example"
answer="$(bash -c "$curl_cmd")" || fail "the curl example failed"
echo "$answer"
"$python" - "$answer" <<'PY' || fail "the curl example's answer is not a chat completion with content"
import json, sys
answer = json.loads(sys.argv[1])
content = answer["choices"][0]["message"]["content"]
assert answer["object"] == "chat.completion" and isinstance(content, str) and content.strip()
PY

step "SIGTERM"
kill -TERM "$server_pid"
for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "the server did not stop within 30 s of SIGTERM"
fi
status=0
wait "$server_pid" || status=$?
server_pid=""
[[ "$status" -eq 0 ]] || { tail -n 20 "$work/serve.log" >&2; fail "the server exited with status $status after SIGTERM"; }
grep -q "flushing the request, session and media logs" "$work/serve.log" ||
  fail "the server did not flush its logs on SIGTERM"
echo "stopped cleanly"
