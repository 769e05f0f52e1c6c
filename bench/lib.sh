# shellcheck shell=bash
# What bench/media.sh and bench/cache.sh share: the tools, the processes
# (the simulator, `airlock serve`, nginx serving files), and wrk loads of
# airlock against nginx with their table. Sourced, not run.
#
# The sourcing script sets BENCH_NAME (the prefix of its progress lines).
# Sourcing sets BENCH (this folder), ROOT (the repository) and the shared
# settings below. bench_setup sets AIRLOCK, NGINX, WORK (a temporary
# directory) and TICK; start_mock sets MOCK_PORT; serve_airlock sets
# SERVE_PID and SERVE_PORT; start_nginx sets NGINX_PID. Every process
# started is stopped on exit.

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"

# The settings of the wrk loads, from the environment.
ROUNDS="${ROUNDS:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WRK_SECONDS="${WRK_SECONDS:-15}"
CORES="$(nproc)"
# Airlock's master key.
KEY=bench-key

# A progress line on stderr.
say() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }

# Moves to ROOT, installs wrk and nginx when missing, finds or builds
# Airlock, makes the work directory and stops every process in `pids` on
# exit.
bench_setup() {
    local sudo=""
    cd "$ROOT" || exit 1
    [ "$(id -u)" = 0 ] || sudo="sudo"
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    if ! command -v wrk >/dev/null 2>&1 || [ ! -x "$NGINX" ]; then
        say "installing wrk and nginx (apt)"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk nginx >/dev/null
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
    trap stop_everything EXIT
    trap 'exit 130' INT TERM HUP
    TICK="$(getconf CLK_TCK)"
}

# The EXIT trap: every process started, then the work directory.
stop_everything() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (up to 10 s) until something listens on a local port.
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    say "nothing listens on $1"; exit 1
}

# One top-level field of the JSON object on stdin.
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The simulator as every provider, answering at once (no latency).
start_mock() {
    MOCK_PORT="$(free_port)"
    RUST_LOG=warn "$AIRLOCK" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 &
    pids+=("$!")
    wait_port "$MOCK_PORT"
}

# `airlock serve NAME [EXTRA_TOML]`: the simulator as OpenAI and Gemini,
# one worker per core, its access log off, its data in $WORK/data-NAME;
# EXTRA_TOML goes between [server] and the providers. Its pid and port in
# SERVE_PID and SERVE_PORT.
serve_airlock() {
    local name="$1" extra="${2:-}" port
    port="$(free_port)"
    {
        printf '[server]\nmaster_key = "env:BENCH_KEY"\nworkers = %s\n\n' "$CORES"
        [ -z "$extra" ] || printf '%s\n\n' "$extra"
        cat <<EOF
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
    } > "$WORK/$name.toml"
    BENCH_KEY="$KEY" SIM_KEY=sim RUST_LOG=warn \
        "$AIRLOCK" serve --config "$WORK/$name.toml" --listen "127.0.0.1:$port" \
        --data-dir "$WORK/data-$name" --access-log false >"$WORK/serve-$name.log" 2>&1 &
    SERVE_PID=$!
    # shellcheck disable=SC2034 # read by the sourcing script
    SERVE_PORT="$port"
    pids+=("$SERVE_PID")
    wait_port "$port"
}

# `nginx_prepare TYPE...`: an nginx serving the files of $NGINX_ROOT (made
# here, with a `media` folder), one worker per core, access log off,
# sendfile; each TYPE a line of its `types` block ("image/png png;").
# start_nginx starts it once the files are in place.
nginx_prepare() {
    NGINX_PREFIX="$WORK/nginx"
    NGINX_ROOT="$NGINX_PREFIX/root"
    mkdir -p "$NGINX_ROOT/media"
    # nginx's workers run as an unprivileged user when started as root.
    chmod 755 "$WORK" "$NGINX_PREFIX" "$NGINX_ROOT" "$NGINX_ROOT/media"
    NGINX_PORT="$(free_port)"
    local types
    types="$(printf '        %s\n' "$@")"
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
$types
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $NGINX_ROOT;
        add_header Cache-Control "public, max-age=3600, immutable";
    }
}
EOF
}

start_nginx() {
    "$NGINX" -c "$NGINX_PREFIX/nginx.conf" -p "$NGINX_PREFIX" &
    NGINX_PID=$!
    pids+=("$NGINX_PID")
    wait_port "$NGINX_PORT"
}

# `nginx_copy_media DATA_DIR ID`: the media object ID that Airlock stored
# under DATA_DIR, copied to nginx's /media/ID; prints the stored file's path.
nginx_copy_media() {
    local stored
    stored="$(find "$1" -type f -name "$2" -path '*/media/*' | head -n1)"
    [ -n "$stored" ] || { say "the stored file of $2 is not under $1"; exit 1; }
    cp "$stored" "$NGINX_ROOT/media/$2"
    chmod 644 "$NGINX_ROOT/media/$2"
    echo "$stored"
}

# `same_bytes FILE URL...`: every URL answers a GET with FILE's bytes (the
# run stops if not); then each answer's content type, on stderr.
same_bytes() {
    local file="$1" want got url
    shift
    want="$(sha256sum < "$file" | cut -d' ' -f1)"
    for url in "$@"; do
        got="$(curl -fsS "$url" | sha256sum | cut -d' ' -f1)"
        [ "$got" = "$want" ] || { say "$url does not serve the stored bytes"; exit 1; }
    done
    for url in "$@"; do
        curl -fsS -o /dev/null -D - "$url" | tr -d '\r' | awk -v u="$url" -v p="$BENCH_NAME" 'tolower($1) == "content-type:" {print "[" p "]   " $2 " from " u}' >&2
    done
}

# utime + stime of a process tree (clock ticks).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# `measure URL SERVER_PID [WRK_ARG...]`: one wrk load of URL (a GET unless
# the arguments, such as a Lua script, say otherwise); prints
# "req/s MB/s errors server_cpu_us_per_req", errors being non-2xx answers
# and socket errors.
measure() {
    local url="$1" server_pid="$2" out before after
    shift 2
    before="$(cpu_ticks "$server_pid")"
    out="$(wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" "$@" "$url")"
    after="$(cpu_ticks "$server_pid")"
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed "s/^/[$BENCH_NAME]   wrk: /" >&2 || true
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

# `against_nginx OBJECT AIRLOCK_PID AIRLOCK_URL NGINX_URL [WRK_ARG...]`:
# a 2 s warm-up of each, then ROUNDS rounds of airlock then nginx, each a
# `measure` (the wrk arguments for airlock only); appends
# "OBJECT round server req/s MB/s errors cpu_us" lines to $THROUGHPUT.
against_nginx() {
    local object="$1" airlock_pid="$2" airlock_url="$3" nginx_url="$4" round server rps mbs errors cpu
    shift 4
    wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d 2s "$@" "$airlock_url" >/dev/null
    wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d 2s "$nginx_url" >/dev/null
    for round in $(seq "$ROUNDS"); do
        for server in airlock nginx; do
            if [ "$server" = airlock ]; then
                read -r rps mbs errors cpu <<<"$(measure "$airlock_url" "$airlock_pid" "$@")"
            else
                read -r rps mbs errors cpu <<<"$(measure "$nginx_url" "$NGINX_PID")"
            fi
            say "$object, round $round, $server: $rps req/s, $mbs MB/s, errors $errors, $cpu µs CPU/req"
            echo "$object $round $server $rps $mbs $errors $cpu" >> "$THROUGHPUT"
        done
    done
}

# The line before the results: cores, load average at the start
# ($LOAD_BEFORE) and now, the versions of Airlock, wrk and nginx.
run_line() {
    echo "$CORES CPUs, load average $LOAD_BEFORE at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; $("$AIRLOCK" --version); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2); $("$NGINX" -v 2>&1 | cut -d' ' -f3)"
}

# The head of the airlock-against-nginx table.
against_nginx_head() {
    echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s, keep-alive, airlock then nginx in each round; CPU is the server's whole process tree over the run."
    echo
    echo "| object | bytes | round | airlock req/s | nginx req/s | airlock ÷ nginx | airlock MB/s | nginx MB/s | airlock CPU µs/req | nginx CPU µs/req | errors |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
}

# `against_nginx_rows OBJECT LABEL BYTES`: an object's rounds from
# $THROUGHPUT, then the median ratio against the 0.8 target.
against_nginx_rows() {
    awk -v k="$1" -v label="$2" -v size="$3" '
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
}
