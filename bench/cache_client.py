#!/usr/bin/env python3
"""The client side of bench/cache.sh (stdlib only).

  chat-hit       sends one chat completion twice with `x-airlock-cache: use`:
                 the first must answer `miss`, the second `hit`; writes the
                 hit's body to --out and the request's body to --request
  image-hit      the same with an image generation and `x-airlock-media: url`:
                 the hit must carry the URL the miss stored; prints {"url", "id"}
  latency        one chat completion sent sequentially over one keep-alive
                 connection (http.client, TCP_NODELAY) in three modes, in
                 alternating blocks: `off` (no cache header), `miss`
                 (`x-airlock-cache: use`, a new prompt every time) and
                 `refresh` (`x-airlock-cache: refresh`, one prompt); prints
                 one JSON object: every latency in microseconds per mode
  latency-table  the markdown table of a `latency` run's JSON file

Latency is client-side: from just before the request is written to the
last byte of the answer read. Every answer is checked after it is timed:
status 200 and the `x-airlock-cache` header its mode must give (none when
off).
"""

import argparse
import http.client
import json
import math
import socket
import sys
import time
from urllib.parse import urlsplit

CHAT_PATH = "/v1/chat/completions"
IMAGE_PATH = "/v1/images/generations"
CACHE_HEADER = "x-airlock-cache"
CHAT_MODEL = "gpt-4o-mini"


def chat_body(prompt):
    # Temperature 0: the cache keeps no answer sampled at random.
    messages = [{"role": "user", "content": prompt}]
    return json.dumps({"model": CHAT_MODEL, "temperature": 0, "messages": messages}).encode()


class Gateway:
    """One keep-alive connection to Airlock, with the key and TCP_NODELAY."""

    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path, body, headers):
        """Sends one request; returns (status, cache header or None, body)."""
        self.conn.request("POST", path, body=body, headers={**self.auth, **headers})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.getheader(CACHE_HEADER), data


def twice(gateway, path, body, headers):
    """The same request twice: a miss, then a hit; returns both bodies."""
    answers = []
    for want in ("miss", "hit"):
        status, cache, data = gateway.post(path, body, headers)
        if status != 200 or cache != want:
            sys.exit(f"POST {path}: wanted 200 and {CACHE_HEADER}: {want}, got {status}, {cache}: {data[:300]!r}")
        answers.append(data)
    return answers


def chat_hit(args):
    body = chat_body("Name three colours of the sea at dusk.")
    _, hit = twice(Gateway(args.port, args.key), CHAT_PATH, body, {CACHE_HEADER: "use"})
    with open(args.out, "wb") as out:
        out.write(hit)
    with open(args.request, "wb") as out:
        out.write(body)


def image_hit(args):
    body = json.dumps({"model": args.model, "prompt": "A lighthouse at dusk, for the cache benchmark.", "size": args.size})
    headers = {CACHE_HEADER: "use", "x-airlock-media": "url"}
    miss, hit = twice(Gateway(args.port, args.key), IMAGE_PATH, body.encode(), headers)
    stored, url = (json.loads(answer)["data"][0]["url"] for answer in (miss, hit))
    if urlsplit(stored).path != urlsplit(url).path:
        sys.exit(f"the hit's URL {url} is not the stored {stored}")
    print(json.dumps({"url": url, "id": urlsplit(url).path.rsplit("/", 1)[-1]}))


MODES = ("off", "miss", "refresh")


def latency(args):
    gateway = Gateway(args.port, args.key)
    headers = {"off": {}, "miss": {CACHE_HEADER: "use"}, "refresh": {CACHE_HEADER: "refresh"}}
    # What each mode's answers must say: nothing when the cache is off.
    expected = {"off": None, "miss": "miss", "refresh": "miss"}
    sent = 0

    def prompt(mode):
        # The same length in every mode; only `refresh` repeats its prompt.
        nonlocal sent
        sent += 1
        number = 0 if mode == "refresh" else sent
        return f"Name three colours of the sea at dusk, request {args.nonce}-{number:09d}."

    def timed(mode):
        body = chat_body(prompt(mode))
        start = time.perf_counter_ns()
        status, cache, data = gateway.post(CHAT_PATH, body, headers[mode])
        elapsed = time.perf_counter_ns() - start
        if status != 200 or cache != expected[mode]:
            sys.exit(f"{mode}: wanted 200 and {CACHE_HEADER} {expected[mode]}, got {status}, {cache}: {data[:300]!r}")
        return elapsed // 1000, len(data)

    for _ in range(args.warmup):
        for mode in MODES:
            timed(mode)
    times = {mode: [] for mode in MODES}
    answer_bytes = {mode: 0 for mode in MODES}
    for block in range(args.blocks):
        # Each mode leads a block in turn.
        for mode in MODES[block % 3 :] + MODES[: block % 3]:
            for _ in range(args.block_size):
                micros, size = timed(mode)
                times[mode].append(micros)
                answer_bytes[mode] += size
    mean_bytes = {mode: answer_bytes[mode] // len(times[mode]) for mode in MODES}
    print(json.dumps({"mean_answer_bytes": mean_bytes, "times_us": times}))


def nearest_rank(values, percent):
    """The nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def latency_table(args):
    with open(args.file) as file:
        run = json.load(file)
    what = {
        "off": "nothing (no header, nothing configured)",
        "miss": "`use`, a new prompt each time: keyed, looked up, missed, led, kept",
        "refresh": "`refresh`, one prompt: keyed and kept, no lookup",
    }
    off = nearest_rank(run["times_us"]["off"], 50)
    print("| mode | what the cache does | requests | mean answer bytes | p50 µs | p90 µs | p50 − off p50 µs |")
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        times = run["times_us"][mode]
        p50, p90 = nearest_rank(times, 50), nearest_rank(times, 90)
        added = "" if mode == "off" else f"**{p50 - off:+,}**"
        if mode == "miss":
            added += f" ({'≤' if p50 - off <= args.target else '>'} {args.target})"
        print(f"| {mode} | {what[mode]} | {len(times):,} | {run['mean_answer_bytes'][mode]:,} | {p50:,} | {p90:,} | {added} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gateway = argparse.ArgumentParser(add_help=False)
    gateway.add_argument("--port", type=int, required=True, help="Airlock's port on 127.0.0.1")
    gateway.add_argument("--key", required=True, help="Airlock's master key")

    chat = commands.add_parser("chat-hit", parents=[gateway])
    chat.add_argument("--out", required=True, help="where the hit's body goes")
    chat.add_argument("--request", required=True, help="where the request's body goes")
    chat.set_defaults(run=chat_hit)

    image = commands.add_parser("image-hit", parents=[gateway])
    image.add_argument("--model", default="gpt-image-1")
    image.add_argument("--size", default="1024x1024")
    image.set_defaults(run=image_hit)

    timing = commands.add_parser("latency", parents=[gateway])
    timing.add_argument("--blocks", type=int, default=10, help="blocks per mode")
    timing.add_argument("--block-size", type=int, default=200)
    timing.add_argument("--warmup", type=int, default=50, help="requests per mode before timing")
    timing.add_argument("--nonce", default=str(time.time_ns()), help="makes the prompts new to the cache")
    timing.set_defaults(run=latency)

    table = commands.add_parser("latency-table")
    table.add_argument("file", help="a `latency` run's output")
    table.add_argument("--target", type=int, default=20, help="the most a miss may add at p50, in µs")
    table.set_defaults(run=latency_table)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
