#!/usr/bin/env python3
"""Checks Airlock's operations assets (deploy/) against each other and a live Airlock.

    python3 deploy/check.py                                   # the static checks only
    python3 deploy/check.py --airlock http://127.0.0.1:8080 --key CLIENT_KEY \\
                            --promtool /usr/bin/promtool      # everything

What it checks:

1. The Grafana dashboard (deploy/grafana/airlock.json) parses, has its
   template variables (datasource, provider, model), and every panel has
   targets with a PromQL `expr` on the `${datasource}` data source, using only
   variables the dashboard defines. The alert rules (deploy/prometheus/alerts.yml)
   each have `for`, a severity label and summary/description annotations.
2. With --airlock: sends a few requests through the running Airlock (OpenAI and
   Gemini surfaces, plain, streamed, embeddings, one with a wrong client key)
   and opens one Gemini Live session over WebSocket (setup, a text turn, close;
   then waits until /metrics counts it, as sessions are recorded when they
   end) so that the labelled series exist, then reads GET /metrics and checks
   that every `airlock_*` metric the dashboard and the rules query is exposed (`_bucket`,
   `_sum` and `_count` name the histogram they belong to, which must then be
   exposed as a histogram), and that every label they select or group by
   exists on it. --metrics-file checks against a saved exposition instead.
3. With --promtool: `promtool check rules` on alerts.yml, `promtool check
   config` on prometheus.yml, `promtool test rules` on alerts_test.yml, and
   `promtool check rules` on the dashboard's expressions (as recording rules,
   with the Grafana variables filled in), which proves they parse as PromQL.

Python 3 standard library only (the WebSocket client below is minimal). Exits
0 when every check passed, 1 otherwise, 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DASHBOARD = HERE / "grafana" / "airlock.json"
DEFAULT_RULES = HERE / "prometheus" / "alerts.yml"
DEFAULT_CONFIG = HERE / "prometheus" / "prometheus.yml"
DEFAULT_RULES_TEST = HERE / "prometheus" / "alerts_test.yml"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])airlock_[A-Za-z0-9_]*[A-Za-z0-9]")
# Labels that Prometheus adds at scrape time or that histograms carry.
TARGET_LABELS = {"job", "instance", "le"}
# Grafana's built-in variables, and what to put in their place for promtool.
GRAFANA_BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
VAR_RE = re.compile(r"\$(?:\{(\w+)(?:[:.][^}]*)?\}|(\w+))|\[\[(\w+)(?::\w+)?\]\]")
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


class Report:
    """Collects passes and failures and prints them as they come."""

    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"  ok    {what}")

    def fail(self, what: str, details: list[str] | None = None) -> None:
        self.failures.append(what)
        print(f"  FAIL  {what}")
        for line in details or []:
            print(f"          {line}")

    def check(self, condition: bool, what: str, details: list[str] | None = None) -> bool:
        if condition:
            self.ok(what)
        else:
            self.fail(what, details)
        return condition


# --------------------------------------------------------------------------
# PromQL (just enough of it to find metric and label names)
# --------------------------------------------------------------------------


def strip_strings(expr: str) -> str:
    """The expression with the contents of its string literals blanked."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Every airlock_* name the expression mentions outside string literals."""
    return set(METRIC_RE.findall(strip_strings(expr)))


def base_name(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names in its matchers) for each `metric{...}` selector."""
    out = []
    for match in re.finditer(
        r'(?<![A-Za-z0-9_:])(airlock_[A-Za-z0-9_]*)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}', expr
    ):
        body = strip_strings(match.group(2))
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", body))
        out.append((match.group(1), labels))
    return out


def grouping_labels(expr: str) -> set[str]:
    """Label names in by/without/on/ignoring/group_left/group_right clauses."""
    text = strip_strings(expr)
    labels: set[str] = set()
    for clause in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", text):
        labels.update(n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", clause.group(1)))
    return labels - PROMQL_KEYWORDS


def created_labels(expr: str) -> set[str]:
    """Labels an expression makes itself with label_replace / label_join."""
    return set(re.findall(r'label_(?:replace|join)\s*\((?:[^"]|"(?:[^"\\]|\\.)*")*?,\s*"([A-Za-z_][A-Za-z0-9_]*)"', expr))


# --------------------------------------------------------------------------
# The dashboard
# --------------------------------------------------------------------------


def all_panels(panels: list[dict]) -> list[dict]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels") or []))  # panels of a collapsed row
    return out


def check_dashboard(path: Path, report: Report) -> list[tuple[str, str]]:
    """Checks the dashboard; returns (where, expr) for every query in it."""
    print(f"dashboard {path}")
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        report.fail(f"{path.name} parses as JSON", [str(error)])
        return []
    report.ok(f"{path.name} parses as JSON")

    report.check(isinstance(dashboard.get("schemaVersion"), int), "schemaVersion is set")
    report.check(bool(dashboard.get("title")) and bool(dashboard.get("uid")), "title and uid are set")

    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    report.check(
        ds.get("type") == "datasource" and ds.get("query") == "prometheus",
        "template variable `datasource` picks a Prometheus data source",
    )
    queries: list[tuple[str, str]] = []
    for name in ("provider", "model"):
        var = variables.get(name)
        query = (var or {}).get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if report.check(
            bool(var) and var.get("type") == "query" and isinstance(query, str) and query.startswith("label_values("),
            f"template variable `{name}` comes from label_values",
        ):
            queries.append((f"variable {name}", query))
            if (var.get("datasource") or {}).get("uid") != "${datasource}":
                report.fail(f"variable `{name}` uses the ${{datasource}} data source")

    panels = all_panels(dashboard.get("panels", []))
    problems = []
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append(f"panel ids are not unique and set: {ids}")
    graph_panels = [p for p in panels if p.get("type") != "row"]
    for panel in graph_panels:
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if not panel.get("gridPos"):
            problems.append(f"{where}: no gridPos")
        if (panel.get("datasource") or {}).get("uid") != "${datasource}":
            problems.append(f"{where}: data source is not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        for target in targets:
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{where}: target {target.get('refId')} has no expr")
                continue
            if (target.get("datasource") or {}).get("uid") not in (None, "${datasource}"):
                problems.append(f"{where}: target {target.get('refId')} data source is not ${{datasource}}")
            queries.append((f"{where} [{target.get('refId')}]", expr))
    report.check(
        bool(graph_panels) and not problems,
        f"{len(graph_panels)} panels, each with targets that have an expr",
        problems,
    )

    undefined = []
    for where, expr in queries:
        for m in VAR_RE.finditer(expr):
            name = m.group(1) or m.group(2) or m.group(3)
            if name.isdigit():  # ${1} in a label_replace replacement
                continue
            if name not in variables and name not in GRAFANA_BUILTINS:
                undefined.append(f"{where}: ${name}")
    report.check(not undefined, "every variable used in a query is defined", undefined)
    return queries


def grafana_to_promql(expr: str, variables: set[str]) -> str:
    """A dashboard query with its variables filled in, as Grafana would."""

    def fill(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return ".*"
        return m.group(0)

    return VAR_RE.sub(fill, expr)


# --------------------------------------------------------------------------
# The alert rules (a line reader for this file's layout; promtool checks YAML)
# --------------------------------------------------------------------------


def read_rules(path: Path) -> list[dict]:
    """Each rule as {'alert' or 'record', 'expr', 'keys': set of keys seen}."""
    rules: list[dict] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)- (alert|record):\s*(\S.*)$", line)
        if m:
            rules.append({"kind": m.group(2), "name": m.group(3).strip(), "expr": "", "keys": set()})
            i += 1
            continue
        m = re.match(r"^(\s*)([A-Za-z_]+):\s*(.*)$", line)
        if m and rules:
            indent, key, value = len(m.group(1)), m.group(2), m.group(3)
            rules[-1]["keys"].add(key)
            if key == "expr":
                if value.strip() in ("|", "|-", ">", ">-", "|+"):
                    block = []
                    i += 1
                    while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                        block.append(lines[i].strip())
                        i += 1
                    rules[-1]["expr"] = "\n".join(block).strip()
                    continue
                rules[-1]["expr"] = value.strip().strip("'\"")
        i += 1
    return rules


def check_rules(path: Path, report: Report) -> list[tuple[str, str]]:
    print(f"alert rules {path}")
    try:
        rules = read_rules(path)
    except OSError as error:
        report.fail(f"{path.name} can be read", [str(error)])
        return []
    alerts = [r for r in rules if r["kind"] == "alert"]
    problems = []
    for rule in alerts:
        missing = {"expr", "for", "severity", "summary", "description"} - rule["keys"]
        if missing:
            problems.append(f"{rule['name']}: no {', '.join(sorted(missing))}")
        if not rule["expr"]:
            problems.append(f"{rule['name']}: empty expr")
    report.check(
        bool(alerts) and not problems,
        f"{len(alerts)} alerts, each with expr, for, severity, summary and description",
        problems,
    )
    return [(f"alert {r['name']}", r["expr"]) for r in rules if r["expr"]]


# --------------------------------------------------------------------------
# A minimal WebSocket client (for one realtime session)
# --------------------------------------------------------------------------


class WebSocketError(Exception):
    """The server broke the WebSocket protocol (RFC 6455) or refused the upgrade."""


class WebSocketEnded(WebSocketError):
    """The connection ended between two frames, without a close frame."""


class WebSocket:
    """Just enough of an RFC 6455 client for one realtime session.

    `WebSocket.connect(url, headers)` opens ws:// (http://) or wss:// (https://)
    with the HTTP/1.1 Upgrade handshake and checks the server's
    Sec-WebSocket-Accept. `send_text` sends one masked text frame. `receive`
    returns the next message as ("text" | "binary", bytes), or ("close",
    (code, reason)); it reassembles fragmented messages, answers pings and
    accepts 7-, 16- and 64-bit payload lengths. `close(code)` sends a close
    frame and returns the code of the server's answering close frame (1006,
    "abnormal closure", if the server ends the connection without one). No
    extensions, no subprotocols, blocking I/O with a timeout.
    """

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self.sock = sock
        self.buffer = buffered  # bytes read past the handshake's headers

    @classmethod
    def connect(cls, url: str, headers: dict[str, str], timeout: float = 30.0) -> "WebSocket":
        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme in ("https", "wss")
        host, port = parts.hostname or "localhost", parts.port or (443 if secure else 80)
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if secure:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            key = base64.b64encode(os.urandom(16)).decode()
            lines = [
                f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                f"Host: {parts.netloc}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
                *(f"{name}: {value}" for name, value in headers.items()),
            ]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    raise WebSocketError(f"connection closed during the handshake: {answer[:300]!r}")
                answer += chunk
                if len(answer) > 65536:
                    raise WebSocketError("handshake answer headers too long")
            head, rest = answer.split(b"\r\n\r\n", 1)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            answered = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                answered[name.strip().lower()] = value.strip()
            if status_line.split(" ")[1:2] != ["101"]:
                raise WebSocketError(f"upgrade refused: {status_line}; {rest[:300].decode(errors='replace')}")
            accept = base64.b64encode(hashlib.sha1((key + cls.GUID).encode()).digest()).decode()
            if answered.get("sec-websocket-accept") != accept:
                raise WebSocketError(f"Sec-WebSocket-Accept is {answered.get('sec-websocket-accept')!r}, expected {accept!r}")
            if answered.get("upgrade", "").lower() != "websocket":
                raise WebSocketError(f"Upgrade header is {answered.get('upgrade')!r}")
            return cls(sock, rest)
        except BaseException:
            sock.close()
            raise

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(4096, n - len(self.buffer)))
            if not chunk:
                raise WebSocketError("connection closed in the middle of a frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        """One final frame, masked as a client's frames must be."""
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        """(fin, opcode, payload) of the next frame."""
        if not self.buffer:
            self.buffer = self.sock.recv(4096)
            if not self.buffer:
                raise WebSocketEnded("the server ended the connection without a close frame")
        first, second = self._read(2)
        if second & 0x80:
            raise WebSocketError("the server masked a frame")
        n = second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        return bool(first & 0x80), first & 0x0F, self._read(n)

    def send_text(self, text: str) -> None:
        self._send_frame(self.TEXT, text.encode())

    def receive(self) -> tuple[str, object]:
        """The next message: ("text" | "binary", payload) or ("close", (code, reason))."""
        kind, parts = None, []
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == self.PING:
                self._send_frame(self.PONG, payload)
            elif opcode == self.PONG:
                pass
            elif opcode == self.CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return "close", (code, payload[2:].decode(errors="replace"))
            elif opcode in (self.TEXT, self.BINARY) and kind is None:
                kind, parts = ("text" if opcode == self.TEXT else "binary"), [payload]
                if fin:
                    return kind, payload
            elif opcode == self.CONTINUATION and kind is not None:
                parts.append(payload)
                if fin:
                    return kind, b"".join(parts)
            else:
                raise WebSocketError(f"unexpected frame (opcode {opcode:#x})")

    def close(self, code: int = 1000) -> int:
        """Sends a close frame; returns the code of the server's answering one
        (messages still in flight before it are read and dropped), or 1006 if
        the connection ends without one."""
        self._send_frame(self.CLOSE, struct.pack("!H", code))
        try:
            while True:
                kind, payload = self.receive()
                if kind == "close":
                    return payload[0]
        except WebSocketEnded:
            return 1006
        finally:
            self.sock.close()


# --------------------------------------------------------------------------
# A running Airlock
# --------------------------------------------------------------------------


def http(method: str, url: str, headers: dict[str, str], body: dict | None = None, timeout: float = 30.0):
    """(status, body bytes) for one request; HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def warm_up(base: str, key: str, report: Report) -> None:
    """Requests that make the labelled series appear."""
    print(f"requests through {base}")
    bearer = {"authorization": f"Bearer {key}"}
    google = {"x-goog-api-key": key}
    hello = [{"role": "user", "content": "Hello"}]
    gemini_hello = {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
    calls = [
        ("chat completion gpt-4o-mini", "POST", "/v1/chat/completions", bearer,
         {"model": "gpt-4o-mini", "messages": hello}, 200, None),
        ("chat completion gemini-2.5-flash (translated)", "POST", "/v1/chat/completions", bearer,
         {"model": "gemini-2.5-flash", "messages": hello}, 200, None),
        ("streamed chat completion gpt-4o-mini", "POST", "/v1/chat/completions", bearer,
         {"model": "gpt-4o-mini", "messages": hello, "stream": True,
          "stream_options": {"include_usage": True}}, 200, b"data: [DONE]"),
        ("streamed chat completion gemini-2.5-flash", "POST", "/v1/chat/completions", bearer,
         {"model": "gemini-2.5-flash", "messages": hello, "stream": True}, 200, b"data: [DONE]"),
        ("embeddings text-embedding-3-small", "POST", "/v1/embeddings", bearer,
         {"model": "text-embedding-3-small", "input": "Hello"}, 200, None),
        ("Gemini generateContent gemini-2.5-flash", "POST",
         "/v1beta/models/gemini-2.5-flash:generateContent", google, gemini_hello, 200, None),
        ("Gemini streamGenerateContent gemini-2.5-flash", "POST",
         "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", google, gemini_hello, 200, b"data: "),
        ("model list", "GET", "/v1/models", bearer, None, 200, None),
        ("chat completion with a wrong client key", "POST", "/v1/chat/completions",
         {"authorization": f"Bearer {key}-wrong"}, {"model": "gpt-4o-mini", "messages": hello}, 401, None),
    ]
    for what, method, path, headers, body, want, marker in calls:
        try:
            status, data = http(method, base + path, headers, body)
        except (OSError, urllib.error.URLError) as error:
            report.fail(f"{what}: {method} {path}", [f"no answer: {error}"])
            continue
        good = status == want and (marker is None or marker in data)
        report.check(
            good,
            f"{what}: {method} {path} -> {status}",
            [f"expected {want}" + (f" and {marker!r} in the body" if marker else ""), data[:300].decode(errors="replace")],
        )
    budgeted_request(base, key, report)
    realtime_session(base, key, report)


def budgeted_request(base: str, key: str, report: Report) -> None:
    """A project with a budget and one request through its key, so the
    budget series appears (the master key opens the admin API here)."""
    admin = {"authorization": f"Bearer {key}"}
    name = f"check-{uuid.uuid4().hex[:8]}"
    budget = {"name": name, "limits": {"budget": {"usd": 100, "period": "month"}}}
    status, data = http("POST", base + "/admin/v1/projects", admin, budget)
    if not report.check(status == 201, f"admin API: create project {name} -> {status}", [data[:300].decode(errors="replace")]):
        return
    status, data = http("POST", f"{base}/admin/v1/projects/{name}/keys", admin, {})
    if not report.check(status == 201, f"admin API: create a key -> {status}", [data[:300].decode(errors="replace")]):
        return
    project_key = json.loads(data)["secret"]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
    status, data = http("POST", base + "/v1/chat/completions", {"authorization": f"Bearer {project_key}"}, body)
    report.check(status == 200, f"chat completion with a budgeted project key -> {status}", [data[:300].decode(errors="replace")])
    # The same request twice through the response cache: a miss, then a hit.
    cached = dict(body, temperature=0)
    headers = {"authorization": f"Bearer {project_key}", "x-airlock-cache": "use"}
    for expected in ("miss", "hit"):
        status, data = http("POST", base + "/v1/chat/completions", headers, cached)
        report.check(status == 200, f"chat completion through the cache ({expected}) -> {status}", [data[:300].decode(errors="replace")])


GEMINI_LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def sessions_ended(base: str, reason: str) -> float:
    """airlock_realtime_sessions_total summed over the series with this reason (0 when none)."""
    try:
        status, body = http("GET", base + "/metrics", {})
    except OSError:  # urllib.error.URLError too
        return 0.0
    if status != 200:
        return 0.0
    total = 0.0
    pattern = re.compile(r'^airlock_realtime_sessions_total\{[^}]*reason="' + re.escape(reason) + r'"[^}]*\}\s+(\S+)')
    for line in body.decode(errors="replace").splitlines():
        m = pattern.match(line)
        if m:
            total += float(m.group(1))
    return total


def realtime_session(base: str, key: str, report: Report) -> None:
    """One Gemini Live session through Airlock's WebSocket relay: setup, one
    text turn, close with 1000. The gateway records a session's metrics once it
    has ended, asynchronously, so this waits for the counter to move."""
    before = sessions_ended(base, "client_closed")
    url = base + GEMINI_LIVE_PATH
    what = f"Gemini Live session: WebSocket {GEMINI_LIVE_PATH}"
    setup = {"setup": {"model": "models/gemini-live-2.5-flash-preview",
                       "generationConfig": {"responseModalities": ["TEXT"]}}}
    turn = {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hello"}]}], "turnComplete": True}}

    def next_message(ws: WebSocket) -> dict:
        kind, payload = ws.receive()
        if kind == "close":
            raise WebSocketError(f"the server closed the session: {payload[0]} {payload[1]}")
        message = json.loads(payload)  # the simulator, like Google, sends JSON in binary frames
        if not isinstance(message, dict):
            raise WebSocketError(f"not a JSON object: {payload[:200]!r}")
        return message

    try:
        with WebSocket.connect(url, {"x-goog-api-key": key}) as ws:
            report.ok(f"{what} -> 101, Sec-WebSocket-Accept matches")
            ws.send_text(json.dumps(setup))
            message = next_message(ws)
            if not report.check("setupComplete" in message, "Gemini Live: setup -> setupComplete",
                                [json.dumps(message)[:300]]):
                return
            ws.send_text(json.dumps(turn))
            texts, messages = [], 0
            while True:
                message = next_message(ws)
                messages += 1
                content = message.get("serverContent") or {}
                for part in (content.get("modelTurn") or {}).get("parts") or []:
                    texts.append(part.get("text") or "")
                if content.get("turnComplete") or messages > 1000:
                    break
            report.check(
                bool(content.get("turnComplete")) and bool("".join(texts).strip()),
                f"Gemini Live: one text turn -> {messages} message(s), {len(''.join(texts))} characters, turnComplete",
                [json.dumps(message)[:300]],
            )
            code = ws.close(1000)
            # RFC 6455 (5.5.1): a close is answered with a close frame (1006: none came).
            report.check(code == 1000, f"Gemini Live: close 1000 -> the server answered close {code}")
    except (OSError, ValueError, WebSocketError) as error:
        report.fail(what, [f"{type(error).__name__}: {error}"])
        return

    deadline = time.monotonic() + 10
    while (after := sessions_ended(base, "client_closed")) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    report.check(after > before, 'the session is counted in airlock_realtime_sessions_total{reason="client_closed"}',
                 [f"still {after:g} after 10 s (was {before:g})"])


class Exposition:
    """The parts of a Prometheus text exposition that the checks need."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: dict[str, list[set[str]]] = {}  # sample name -> label name sets
        self.errors: list[str] = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            parsed = self._sample(line)
            if parsed is None:
                self.errors.append(f"line {number}: {line[:120]}")
                continue
            name, labels = parsed
            self.samples.setdefault(name, []).append(labels)

    @staticmethod
    def _sample(line: str):
        m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$", line)
        if not m:
            return None
        labels: set[str] = set()
        body = m.group(2)
        if body:
            inner = body[1:-1]
            pos = 0
            pair = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
            while pos < len(inner):
                pm = pair.match(inner, pos)
                if not pm:
                    return None
                labels.add(pm.group(1))
                pos = pm.end()
        try:
            float(m.group(3))
        except ValueError:
            return None
        return m.group(1), labels

    def family(self, base: str) -> str | None:
        return self.types.get(base)

    def labels_of(self, base: str) -> set[str]:
        names: set[str] = set()
        kind = self.types.get(base)
        sample_names = [base]
        if kind == "histogram":
            sample_names = [base + s for s in HISTOGRAM_SUFFIXES]
        elif kind == "summary":
            sample_names = [base, base + "_sum", base + "_count"]
        for sample_name in sample_names:
            for labels in self.samples.get(sample_name, []):
                names |= labels
        return names


def check_exposition(expo: Exposition, queries: list[tuple[str, str]], report: Report) -> list[str]:
    """Referenced metrics and labels against an exposition; returns the missing metrics."""
    referenced: dict[str, list[str]] = {}  # base name -> where
    histogram_use: dict[str, list[str]] = {}
    for where, expr in queries:
        for name in metric_names(expr):
            base = base_name(name)
            referenced.setdefault(base, []).append(where)
            if name.endswith("_bucket"):
                histogram_use.setdefault(base, []).append(where)

    if expo.errors:
        report.fail("the exposition parses", expo.errors[:10])
    exposed = sorted(n for n in expo.types if n.startswith("airlock_"))
    print(f"  ..    /metrics exposes {len(exposed)} airlock_* metrics: {', '.join(exposed) or '(none)'}")

    missing = sorted(b for b in referenced if b not in expo.types)
    details = []
    for base in missing:
        sources = sorted(set(referenced[base]))
        details.append(f"{base}  (used by {len(sources)}: {'; '.join(sources[:4])}{' ...' if len(sources) > 4 else ''})")
    report.check(
        not missing,
        f"all {len(referenced)} referenced airlock_* metrics are exposed (# TYPE)"
        if not missing else f"{len(missing)} of {len(referenced)} referenced airlock_* metrics are missing from /metrics",
        details,
    )

    wrong_type = [
        f"{base} is a {expo.types[base]}, but {sorted(set(histogram_use[base]))[0]} reads its _bucket series"
        for base in sorted(histogram_use)
        if base in expo.types and expo.types[base] != "histogram"
    ]
    report.check(not wrong_type, "metrics read through _bucket are exposed as histograms", wrong_type)

    label_problems = []
    for where, expr in queries:
        names = {base_name(n) for n in metric_names(expr)}
        present = [n for n in names if n in expo.types]
        if not present:
            continue
        for metric, labels in selectors(expr):
            base = base_name(metric)
            if base not in expo.types:
                continue
            have = expo.labels_of(base) | TARGET_LABELS
            for label in sorted(labels - have):
                label_problems.append(f"{where}: {metric} has no label `{label}` (it has: {', '.join(sorted(expo.labels_of(base))) or 'none'})")
        union = set().union(*(expo.labels_of(n) for n in present)) | TARGET_LABELS | created_labels(expr)
        for label in sorted(grouping_labels(expr) - union):
            label_problems.append(f"{where}: groups by `{label}`, which none of {', '.join(sorted(present))} has")
        m = re.match(r"\s*label_values\(\s*([A-Za-z0-9_:]+)[^,]*,\s*(\w+)\s*\)", expr)
        if m and base_name(m.group(1)) in expo.types and m.group(2) not in expo.labels_of(base_name(m.group(1))):
            label_problems.append(f"{where}: {m.group(1)} has no label `{m.group(2)}`")
    label_problems = list(dict.fromkeys(label_problems))
    report.check(not label_problems, "every label the queries select or group by exists on its metric", label_problems)

    unused = [n for n in exposed if n not in referenced]
    if unused:
        print(f"  ..    exposed but not used by the dashboard or the rules: {', '.join(unused)}")
    return missing


def fetch_metrics(base: str, queries: list[tuple[str, str]], wait: float) -> Exposition:
    """GET /metrics until every referenced metric is there or `wait` seconds passed."""
    wanted = {base_name(n) for _, expr in queries for n in metric_names(expr)}
    deadline = time.monotonic() + wait
    while True:
        status, body = http("GET", base + "/metrics", {})
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}: {body[:300].decode(errors='replace')}")
        expo = Exposition(body.decode("utf-8", errors="replace"))
        if wanted <= set(expo.types) or time.monotonic() >= deadline:
            return expo
        time.sleep(0.5)


# --------------------------------------------------------------------------
# promtool
# --------------------------------------------------------------------------


def run_promtool(promtool: str, args: list[str], cwd: Path, report: Report, what: str) -> None:
    try:
        result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        report.fail(what, [str(error)])
        return
    output = (result.stdout + result.stderr).strip().splitlines()
    report.check(result.returncode == 0, what, output[-40:] if result.returncode else None)


def check_with_promtool(promtool: str, args, dashboard_queries: list[tuple[str, str]], variables: set[str], report: Report) -> None:
    print(f"promtool {promtool}")
    rules, config, tests = Path(args.rules), Path(args.config), Path(args.rules_test)
    run_promtool(promtool, ["check", "rules", rules.name], rules.parent, report, f"promtool check rules {rules.name}")
    run_promtool(promtool, ["check", "config", config.name], config.parent, report, f"promtool check config {config.name}")
    run_promtool(promtool, ["test", "rules", tests.name], tests.parent, report, f"promtool test rules {tests.name}")

    if not dashboard_queries:
        return
    lines = ["groups:", "  - name: airlock_dashboard_queries", "    rules:"]
    index = []
    for n, (where, expr) in enumerate(dashboard_queries):
        if expr.lstrip().startswith("label_values("):
            continue  # Grafana's own function, not PromQL
        promql = grafana_to_promql(expr, variables)
        lines.append(f"      - record: dashboard_query_{n}")
        lines.append(f"        expr: {json.dumps(promql)}")
        index.append(f"dashboard_query_{n} = {where}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard_queries.yml"
        path.write_text("\n".join(lines) + "\n")
        before = len(report.failures)
        run_promtool(promtool, ["check", "rules", path.name], path.parent, report,
                     f"promtool parses the dashboard's {len(index)} queries as PromQL")
        if len(report.failures) > before:
            for line in index:
                print(f"          {line}")


# --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airlock", metavar="URL", help="base URL of a running Airlock, e.g. http://127.0.0.1:8080")
    parser.add_argument("--key", default=os.environ.get("AIRLOCK_CHECK_KEY"),
                        help="its client key (AIRLOCK_MASTER_KEY); default $AIRLOCK_CHECK_KEY")
    parser.add_argument("--metrics-file", metavar="FILE", help="check against a saved /metrics exposition instead of --airlock")
    parser.add_argument("--promtool", metavar="PATH", help="run promtool checks and rule unit tests with this binary")
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for missing metrics to appear (default 15)")
    parser.add_argument("--dashboard", default=str(DEFAULT_DASHBOARD))
    parser.add_argument("--rules", default=str(DEFAULT_RULES))
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--rules-test", default=str(DEFAULT_RULES_TEST))
    args = parser.parse_args()
    if args.airlock and not args.key:
        parser.error("--airlock needs --key (the client key requests are sent with)")
    if args.airlock and args.metrics_file:
        parser.error("use --airlock or --metrics-file, not both")

    report = Report()
    dashboard_queries = check_dashboard(Path(args.dashboard), report)
    rule_queries = check_rules(Path(args.rules), report)
    queries = dashboard_queries + rule_queries
    names = sorted({base_name(n) for _, e in queries for n in metric_names(e)})
    print(f"  ..    {len(names)} airlock_* metrics referenced: {', '.join(names)}")

    missing: list[str] = []
    if args.airlock:
        base = args.airlock.rstrip("/")
        warm_up(base, args.key, report)
        print(f"metrics {base}/metrics")
        try:
            expo = fetch_metrics(base, queries, args.wait)
        except (OSError, RuntimeError, urllib.error.URLError) as error:
            report.fail("GET /metrics", [str(error)])
        else:
            missing = check_exposition(expo, queries, report)
    elif args.metrics_file:
        print(f"metrics {args.metrics_file}")
        missing = check_exposition(Exposition(Path(args.metrics_file).read_text()), queries, report)
    else:
        print("metrics: skipped (no --airlock or --metrics-file)")

    if args.promtool:
        dashboard = json.loads(Path(args.dashboard).read_text()) if dashboard_queries else {}
        variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
        check_with_promtool(args.promtool, args, dashboard_queries, variables, report)
    else:
        print("promtool: skipped (no --promtool)")

    print()
    if missing:
        print("Missing metrics: " + " ".join(missing))
    if report.failures:
        print("Failed: " + "; ".join(report.failures))
    print(f"deploy: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
