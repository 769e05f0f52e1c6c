# A live `airlock serve` for the scripts that check one (check-deploy.sh,
# schemathesis.sh). Sourced, after the caller has set $python (an
# interpreter), $airlock_bin and step():
#
#   source scripts/lib/live-airlock.sh NAME   # sets $work, $port and $base
#   start_airlock "(what it is)" VAR=VALUE... -- [serve flags...]
#   server_log                                # its last 60 lines, to stderr
#
# The server listens on a free 127.0.0.1 port with a data directory in
# $work, and none of the caller's AIRLOCK_*, GEMINI_*, GOOGLE_* or OPENAI_*
# variables: only the VAR=VALUE pairs given. start_airlock returns once
# /healthz answers, and exits (with the server's log) if it never does. On
# exit the server is stopped (SIGTERM, then SIGKILL after 10 s) and $work
# removed.

live_name="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-$live_name.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

server_log() {
  echo "---- airlock serve output (last 60 lines) ----" >&2
  tail -n 60 "$work/airlock.log" >&2 || true
  echo "----" >&2
}

start_airlock() {
  local description="$1"
  shift
  local settings=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    settings+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  step "starting $airlock_bin serve on 127.0.0.1:$port $description"
  (
    while IFS= read -r name; do
      case "$name" in
        AIRLOCK_* | GEMINI_* | GOOGLE_* | OPENAI_*) unset "$name" ;;
      esac
    done < <(compgen -e)
    export "${settings[@]}"
    exec "$airlock_bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" "$@"
  ) >"$work/airlock.log" 2>&1 &
  server_pid=$!
  if ! "$python" - "$base/healthz" "$server_pid" "$live_name" <<'EOF'
import os, sys, time, urllib.request
url, pid, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"{name}: airlock exited before it was healthy")
    try:
        with opener.open(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(f"{name}: {url} not healthy after 60 s")
EOF
  then
    server_log
    exit 1
  fi
}
