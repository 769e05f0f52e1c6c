#!/usr/bin/env python3
"""The dashboard's data at scale (bench/dashboard.sh): seeds an Airlock
SQLite database with a month of request log, then times the admin API
endpoints the dashboard's pages read.

    dashboard_client.py seed DB --rows 1000000 [--sessions 2000] [--audit 5000]
    dashboard_client.py measure --port PORT --key KEY --db DB [--warmup 20] [--requests 200] [--out RESULTS.json]

`seed` writes straight into a database that `airlock serve` created (and
whose projects and keys it made), while the gateway is stopped: request_log
rows spread uniformly over the last 30 days, over the projects' real ids
and keys, then marks the rollups unbuilt so the next start rolls the whole
log up, as an upgrade from a version without rollups does.

`measure` runs each query WARMUP times, then REQUESTS times in sequence
over one keep-alive connection, and prints (and writes) p50/p95/p99/max in
milliseconds; a query so slow that this would take more than --budget-s
seconds is cut there (at least 10 measured). Standard library only.
"""

import argparse
import http.client
import itertools
import json
import math
import random
import sqlite3
import sys
import time
import urllib.parse

DAY_MS = 86_400_000

# model -> (provider, $ per million tokens in, $ per million tokens out, weight)
MODELS = {
    "gpt-4o-mini": ("openai", 0.15, 0.60, 30),
    "gpt-4o": ("openai", 2.50, 10.00, 12),
    "gpt-4.1": ("openai", 2.00, 8.00, 8),
    "o3-mini": ("openai", 1.10, 4.40, 5),
    "gemini-2.0-flash": ("gemini", 0.10, 0.40, 20),
    "gemini-2.5-flash": ("gemini", 0.30, 2.50, 15),
    "gemini-2.5-pro": ("gemini", 1.25, 10.00, 6),
    "gemini-1.5-pro": ("gemini", 1.25, 5.00, 4),
}

REQUEST_COLUMNS = (
    "id, started_at_ms, surface, operation, model, provider, upstream_model, key_id, status, "
    "latency_us, ttft_us, tokens_in, tokens_out, streamed, outcome, project_id, api_key_id, "
    "end_user, cost_usd, tokens_cached, conversation_id, history_turns_dropped, tokens_estimated, "
    "cache, saved_usd, origin"
)

SESSION_COLUMNS = (
    "id, surface, started_at_ms, ended_at_ms, project_id, api_key_id, end_user, model, provider, "
    "upstream_model, key_id, close_code, close_reason, close_detail, frames_in, frames_out, "
    "bytes_in, bytes_out, tokens_in, tokens_out, tool_calls, tool_failures, cost_usd, transcript"
)


def log_normal(rng, median, sigma, low, high):
    return int(min(high, max(low, median * math.exp(rng.gauss(0.0, sigma)))))


def uuid7(ms, rng):
    """A UUIDv7-shaped id (time first, so ids sort by time)."""
    rand = rng.getrandbits(74)
    hex_ = f"{ms:012x}7{rand >> 62 & 0xFFF:03x}{0x8 | (rand >> 60 & 0x3):x}{rand & ((1 << 60) - 1):015x}"
    return f"{hex_[0:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:32]}"


def seed(args):
    rng = random.Random(args.seed)
    con = sqlite3.connect(args.db)
    projects = [row[0] for row in con.execute("SELECT id FROM projects ORDER BY name")]
    keys = {}
    for key_id, project_id in con.execute("SELECT id, project_id FROM api_keys ORDER BY id"):
        keys.setdefault(project_id, []).append(key_id)
    if not projects or not keys:
        sys.exit("seed: the database has no projects or keys")
    projects = [p for p in projects if p in keys]
    # A few big tenants and a long tail (Zipf-like).
    project_weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(projects))]
    model_names = list(MODELS)
    model_weights = [MODELS[m][3] for m in model_names]
    # Each end user belongs to one project (bigger projects have more), and
    # some are much busier than others.
    project_users = {p: [] for p in projects}
    for n, project in enumerate(rng.choices(projects, project_weights, k=args.users)):
        project_users[project].append(f"user-{n:05d}")
    user_weights = {p: list(itertools.accumulate(1.0 / (rank + 1) ** 0.7 for rank in range(len(u))))
                    for p, u in project_users.items()}
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - 30 * DAY_MS

    started = time.perf_counter()
    times = sorted(rng.randrange(since_ms, now_ms) for _ in range(args.rows))
    # Pre-drawn choices (much faster than a choices() call per row).
    row_projects = rng.choices(projects, project_weights, k=args.rows)
    row_models = rng.choices(model_names, model_weights, k=args.rows)

    def records():
        for n in range(args.rows):
            project = row_projects[n]
            api_key = rng.choice(keys[project])
            model = row_models[n]
            provider, price_in, price_out, _ = MODELS[model]
            # Most clients speak their provider's own API; a fifth of the
            # Gemini traffic comes through the OpenAI surface.
            surface = "openai" if provider == "openai" or rng.random() < 0.2 else "gemini"
            operation = "chat.completions" if surface == "openai" else "generateContent"
            streamed = rng.random() < 0.5
            end_user = None
            if project_users[project] and rng.random() < 0.6:
                end_user = rng.choices(project_users[project], cum_weights=user_weights[project])[0]
            error = rng.random() < 0.05
            if error:
                status = rng.choice((429, 429, 500, 400))
                latency = log_normal(rng, 120_000, 0.8, 50_000, 10_000_000)
                ttft = None
                tokens_in = tokens_out = cost = None
                outcome = "error"
            else:
                status = 200
                latency = log_normal(rng, 900_000, 0.9, 50_000, 10_000_000)
                ttft = int(latency * rng.uniform(0.08, 0.5)) if streamed else None
                tokens_in = log_normal(rng, 600, 1.0, 5, 120_000)
                tokens_out = log_normal(rng, 250, 0.9, 1, 8_000)
                cost = (tokens_in * price_in + tokens_out * price_out) / 1e6
                outcome = "ok"
            cached = tokens_in // 2 if tokens_in and rng.random() < 0.1 else None
            yield (
                f"req_{n:07d}", times[n], surface, operation, model, provider, model,
                f"{provider}#{n % 3}", status, latency, ttft, tokens_in, tokens_out,
                streamed, outcome, project, api_key, end_user, cost, cached, None, None,
                False, None, None, None,
            )

    placeholders = ", ".join("?" * len(REQUEST_COLUMNS.split(",")))
    insert = f"INSERT INTO request_log ({REQUEST_COLUMNS}) VALUES ({placeholders})"
    batch = []
    for record in records():
        batch.append(record)
        if len(batch) == args.batch:
            with con:
                con.executemany(insert, batch)
            batch.clear()
    if batch:
        with con:
            con.executemany(insert, batch)
    log_s = time.perf_counter() - started

    # Realtime sessions: newest first by id (UUIDv7).
    sessions = []
    for _ in range(args.sessions):
        project = rng.choices(projects, project_weights)[0]
        start = rng.randrange(since_ms, now_ms)
        duration = log_normal(rng, 90_000, 1.0, 2_000, 3_600_000)
        model = rng.choice(("gemini-2.0-flash-live-001", "gemini-live-2.5-flash-preview"))
        frames = duration // 100
        sessions.append((
            uuid7(start, rng), "gemini", start, start + duration, project,
            rng.choice(keys[project]),
            rng.choice(project_users[project]) if project_users[project] and rng.random() < 0.6 else None,
            model, "gemini", model, "gemini#0", 1000, "client closed", None,
            frames, frames, frames * 3_300, frames * 3_300, frames * 25, frames * 20,
            rng.randrange(0, 5), 0, frames * 0.00002, "[]",
        ))
    with con:
        con.executemany(
            f"INSERT INTO realtime_sessions ({SESSION_COLUMNS}) VALUES "
            f"({', '.join('?' * len(SESSION_COLUMNS.split(',')))})",
            sessions,
        )

    # Audit entries, oldest first (the sequence numbers follow time).
    entries = []
    for at in sorted(rng.randrange(since_ms, now_ms) for _ in range(args.audit)):
        project = rng.choice(projects)
        action = rng.choice(("key.create", "key.revoke", "project.update", "key.update"))
        before = json.dumps({"limits": {"rpm": rng.randrange(60, 6000)}})
        after = json.dumps({"limits": {"rpm": rng.randrange(60, 6000)}})
        entries.append((at, "master", action, f"project:{project}", "127.0.0.1", before, after))
    with con:
        con.executemany(
            "INSERT INTO audit_log (at_ms, actor, action, target, remote_addr, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            entries,
        )

    # What an upgrade from a version without rollups finds: a log, no rollups.
    with con:
        con.execute("UPDATE request_rollups_state SET built = FALSE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    total_s = time.perf_counter() - started
    print(json.dumps({"rows": args.rows, "log_s": round(log_s, 1), "total_s": round(total_s, 1)}))


def percentile(sorted_values, q):
    """Nearest-rank percentile of a sorted list."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


class Client:
    def __init__(self, port, key):
        self.port = port
        self.headers = {"Authorization": f"Bearer {key}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path):
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return body


def cases(client, db):
    """The dashboard's queries: (label, path)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    # A mid-sized project (the 4th most requested), one of its keys, a
    # frequent end user, and ids from the log.
    project_id, project = con.execute(
        "SELECT p.id, p.name FROM projects p ORDER BY p.name LIMIT 1 OFFSET 3").fetchone()
    (key_id,) = con.execute(
        "SELECT id FROM api_keys WHERE project_id = ? ORDER BY id LIMIT 1", (project_id,)).fetchone()
    rows = con.execute("SELECT COUNT(*) FROM request_log").fetchone()[0]
    # An end user of that project, picked as a request is (so a busy one).
    (user,) = con.execute(
        "SELECT end_user FROM request_log WHERE project_id = ? AND end_user IS NOT NULL "
        "AND started_at_ms < (SELECT MAX(started_at_ms) FROM request_log) - 5 * 86400000 "
        "ORDER BY started_at_ms DESC LIMIT 1", (project_id,)).fetchone()
    con.close()
    now_ms = int(time.time() * 1000)
    q = urllib.parse.quote
    first = json.loads(client.get("/admin/v1/requests?limit=50"))
    before = first["next_before"]
    record = f"req_{rows // 2:07d}"

    out = []
    for window in ("1h", "24h", "30d"):
        out.append((f"overview {window}", f"/admin/v1/stats/overview?window={window}"))
        out.append((f"overview {window}, one project",
                    f"/admin/v1/stats/overview?window={window}&project={q(project)}"))
    for window in ("24h", "7d", "30d"):
        for by in ("project", "key", "model", "user"):
            if window == "24h" and by != "user":
                continue
            out.append((f"spend {window} by {by}", f"/admin/v1/stats/spend?window={window}&by={by}"))
    out.append(("spend 30d by user, one project",
                f"/admin/v1/stats/spend?window=30d&by=user&project={q(project)}"))
    out += [
        ("requests, newest 50", "/admin/v1/requests?limit=50"),
        ("requests, one project", f"/admin/v1/requests?project={q(project)}&limit=50"),
        ("requests, one model", "/admin/v1/requests?model=gemini-2.5-pro&limit=50"),
        ("requests, status=error", "/admin/v1/requests?status=error&limit=50"),
        ("requests, status=500", "/admin/v1/requests?status=500&limit=50"),
        ("requests, one end user", f"/admin/v1/requests?user={user}&limit=50"),
        ("requests, one key", f"/admin/v1/requests?key={q(key_id)}&limit=50"),
        ("requests, a day 10 days ago",
         f"/admin/v1/requests?since_ms={now_ms - 10 * DAY_MS}&until_ms={now_ms - 9 * DAY_MS}&limit=50"),
        ("requests, project + status=error",
         f"/admin/v1/requests?project={q(project)}&status=error&limit=50"),
        ("requests, model + end user",
         f"/admin/v1/requests?model=gpt-4o&user={user}&limit=50"),
        ("requests, rare filter combination (model + project + status=400)",
         f"/admin/v1/requests?model=gemini-1.5-pro&project={q(project)}&status=400&limit=50"),
        ("requests, page 2 (before)", f"/admin/v1/requests?before={q(before)}&limit=50"),
        ("requests, project page 2 (before)",
         f"/admin/v1/requests?project={q(project)}&before={q(before)}&limit=50"),
        ("one request record", f"/admin/v1/requests/{record}"),
        ("audit log, 100", "/admin/v1/audit?limit=100"),
        ("realtime sessions, 50", "/admin/v1/realtime/sessions?limit=50"),
        ("providers", "/admin/v1/providers"),
        ("projects", "/admin/v1/projects"),
        ("one project's keys", f"/admin/v1/projects/{q(project)}/keys"),
    ]
    return out


def measure(args):
    client = Client(args.port, args.key)
    results = []
    for label, path in cases(client, args.db):
        # A query far over the target would take many minutes at 220
        # requests: its warm-up and its measured run are cut at a time
        # budget each (at least 10 measured), and the table says how many ran.
        deadline = time.perf_counter() + args.budget_s / 3
        for _ in range(args.warmup):
            client.get(path)
            if time.perf_counter() > deadline:
                break
        times = []
        size = 0
        deadline = time.perf_counter() + args.budget_s
        for _ in range(args.requests):
            start = time.perf_counter()
            size = len(client.get(path))
            times.append((time.perf_counter() - start) * 1000)
            if len(times) >= 10 and time.perf_counter() > deadline:
                break
        times.sort()
        result = {
            "label": label, "path": path, "bytes": size, "n": len(times),
            "p50": percentile(times, 0.50), "p95": percentile(times, 0.95),
            "p99": percentile(times, 0.99), "max": times[-1],
        }
        results.append(result)
        mark = "  SLOW" if result["p95"] > args.target_ms else ""
        print(f"[dashboard]   {label}: p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
              f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms{mark}", file=sys.stderr, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(table(results, args.target_ms))


def table(results, target_ms):
    lines = [
        f"| query | path | bytes | n | p50 ms | p95 ms | p99 ms | max ms | p95 ≤ {target_ms:g} ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ok = "yes" if r["p95"] <= target_ms else "**NO**"
        lines.append(
            f"| {r['label']} | `{r['path']}` | {r['bytes']} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.1f} | {ok} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed", help="fill a stopped gateway's SQLite database")
    s.add_argument("db")
    s.add_argument("--rows", type=int, default=1_000_000)
    s.add_argument("--sessions", type=int, default=2_000)
    s.add_argument("--audit", type=int, default=5_000)
    s.add_argument("--users", type=int, default=5_000)
    s.add_argument("--batch", type=int, default=10_000)
    s.add_argument("--seed", type=int, default=17)
    m = sub.add_parser("measure", help="time the admin API's dashboard queries")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--key", required=True)
    m.add_argument("--db", required=True, help="the seeded database (read only, for ids)")
    m.add_argument("--warmup", type=int, default=20)
    m.add_argument("--requests", type=int, default=200)
    m.add_argument("--target-ms", type=float, default=100.0)
    m.add_argument("--budget-s", type=float, default=30.0,
                   help="the most seconds one query's measured run takes (its warm-up: a third)")
    m.add_argument("--out")
    args = parser.parse_args()
    seed(args) if args.command == "seed" else measure(args)


if __name__ == "__main__":
    main()
