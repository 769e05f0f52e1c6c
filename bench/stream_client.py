#!/usr/bin/env python3
"""Streaming timing client: time to first token and inter-chunk gaps.

Sends a few sequential `stream: true` chat completions over a raw HTTP/1.1
socket (no client library, so nothing between the socket and the clock) and
timestamps every SSE event at the `recv()` that completed it. Standard
library only.

Used by bench.py; can also be run alone:

    python3 stream_client.py --url http://127.0.0.1:8080/v1/chat/completions \
        --header 'authorization: Bearer bench-key' --streams 10
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import urllib.parse


def _request_bytes(url: str, headers: dict[str, str], body: bytes) -> tuple[str, int, bytes]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to send load to {host}: loopback only")
    port = parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", "content-type: application/json",
             f"content-length: {len(body)}", "accept: text/event-stream", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Dechunker:
    """Incremental HTTP/1.1 chunked transfer decoding."""

    def __init__(self) -> None:
        self.buf = b""
        self.remaining = 0  # bytes left in the current chunk
        self.need_crlf = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while not self.done:
            if self.remaining:
                take = self.buf[: self.remaining]
                out += take
                self.buf = self.buf[len(take):]
                self.remaining -= len(take)
                if self.remaining:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.need_crlf = False
            idx = self.buf.find(b"\r\n")
            if idx < 0:
                break
            size = int(self.buf[:idx].split(b";")[0], 16)
            self.buf = self.buf[idx + 2:]
            if size == 0:
                self.done = True
                break
            self.remaining = size
        return bytes(out)


def one_stream(url: str, headers: dict[str, str], payload: dict, timeout: float = 30.0) -> dict:
    """One streamed completion. Times are seconds from the moment the request was sent."""
    body = json.dumps(payload).encode()
    host, port, raw = _request_bytes(url, headers, body)
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        t0 = time.perf_counter()
        sock.sendall(raw)
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("connection closed before the response headers")
            head += data
        t_headers = time.perf_counter() - t0
        head, rest = head.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
        dechunker = _Dechunker() if chunked else None
        text = b""
        events: list[tuple[float, str]] = []  # (time, data payload)
        recvs = 0

        def consume(data: bytes, now: float) -> None:
            nonlocal text
            text += dechunker.feed(data) if dechunker else data
            text = text.replace(b"\r\n", b"\n")
            while b"\n\n" in text:
                raw_event, text = text.split(b"\n\n", 1)
                datas = [ln[5:].strip() for ln in raw_event.split(b"\n") if ln.startswith(b"data:")]
                if datas:
                    events.append((now, b"\n".join(datas).decode()))

        consume(rest, time.perf_counter() - t0)
        while not (dechunker and dechunker.done):
            data = sock.recv(65536)
            now = time.perf_counter() - t0
            if not data:
                break
            recvs += 1
            consume(data, now)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {text[:300]!r}")
    finally:
        sock.close()

    content_times: list[float] = []
    pieces: list[str] = []
    saw_done = False
    for t, data in events:
        if data == "[DONE]":
            saw_done = True
            continue
        try:
            obj = json.loads(data)
        except json.JSONDecodeError:
            continue
        for choice in obj.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                content_times.append(t)
                pieces.append(piece)
                break
    if not content_times:
        raise RuntimeError(f"stream carried no content ({len(events)} events)")
    return {
        "headers_s": t_headers,
        "ttft_s": content_times[0],
        "gaps_s": [b - a for a, b in zip(content_times, content_times[1:])],
        "content_events": len(content_times),
        "events": len(events),
        "text": "".join(pieces),
        "done": saw_done,
        "total_s": events[-1][0] if events else None,
    }


def run(url: str, headers: dict[str, str], model: str, streams: int, warmup: int = 2) -> dict:
    """`streams` sequential streams (after `warmup`), prompts varied so chunk counts vary."""
    results = []
    for i in range(warmup + streams):
        payload = {
            "model": model,
            "stream": True,
            "messages": [{"role": "user", "content": f"Benchmark stream number {i % streams}."}],
        }
        r = one_stream(url, headers, payload)
        if i >= warmup:
            results.append(r)
    ttfts = [r["ttft_s"] for r in results]
    gaps = [g for r in results for g in r["gaps_s"]]
    return {
        "streams": len(results),
        "ttft_p50_ms": statistics.median(ttfts) * 1e3,
        "ttft_max_ms": max(ttfts) * 1e3,
        "gap_p50_ms": statistics.median(gaps) * 1e3 if gaps else None,
        "gap_min_ms": min(gaps) * 1e3 if gaps else None,
        "gap_max_ms": max(gaps) * 1e3 if gaps else None,
        "gaps": len(gaps),
        # A gap far below the simulator's per-chunk delay means two chunks
        # arrived together: something held the first one back.
        "bunched": sum(1 for g in gaps if g < 0.005),
        "content_events": sum(r["content_events"] for r in results),
        "texts": [r["text"] for r in results],
        "all_done": all(r["done"] for r in results),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--header", action="append", default=[], help="'name: value'")
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--streams", type=int, default=10)
    a = p.parse_args()
    headers = dict((h.split(":", 1)[0].strip(), h.split(":", 1)[1].strip()) for h in a.header)
    out = run(a.url, headers, a.model, a.streams)
    out.pop("texts")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
