#!/usr/bin/env python3
"""What Airlock's conversation state costs a turn, and what a cached
conversation holds in memory.

Runs a release `airlock serve` on its embedded defaults (the built-in
simulator upstream, SQLite) and, on one keep-alive connection, alternates:

- stateless: the client sends the whole conversation (50 history items and
  the new message) itself;
- continuation: the client sends only the new message and
  `previous_response_id` of a stored 25-turn (50-item) chain, which Airlock
  finds in memory and puts before the input.

Both send the provider the same 51 items with `store: false` and neither is
stored, so the difference of the medians is Airlock's own work for a hot
continuation (lookup, ownership, policy, assembly) net of the client
sending and Airlock reading the longer body. A third request, the new
message alone with no history at all, shows what the whole history costs
end to end (Airlock and the simulator reading 51 items instead of one). Then it makes N more
50-item conversations and reads the process's resident memory before and
after: memory per cached conversation.

Usage: bench/conversations.py [--airlock target/release/airlock]
                              [--requests 2000] [--conversations 2000]
Prints a Markdown table; bench/CONVERSATIONS.md keeps a run's output.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

HISTORY_TURNS = 25  # two items a turn: 50 items of history


def start(binary, data_dir):
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--workers", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
        text=True,
    )
    for line in process.stderr:
        if "listening on http://" in line:
            address = line.split("listening on http://")[1].split()[0]
            host, port = address.rsplit(":", 1)
            return process, host, int(port)
    raise SystemExit("airlock did not start")


class Client:
    def __init__(self, host, port):
        self.connection = http.client.HTTPConnection(host, port)

    def create(self, body):
        payload = json.dumps(body)
        self.connection.request(
            "POST", "/v1/responses", payload, {"content-type": "application/json"}
        )
        response = self.connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"{response.status}: {answer}")
        return answer


def chain(client, turns, model):
    """A stored chain of `turns` turns; its last response and every item."""
    previous = None
    items = []
    for turn in range(turns):
        said = {"type": "message", "role": "user", "content": f"turn {turn}: tell me more"}
        answer = client.create(
            {"model": model, "input": [said], "previous_response_id": previous}
        )
        previous = answer["id"]
        items.append(said)
        items.extend(answer["output"])
    return previous, items


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--airlock", default="target/release/airlock")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--model", default="gpt-4o-mini")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        process, host, port = start(args.airlock, data_dir)
        try:
            client = Client(host, port)
            last, history = chain(client, HISTORY_TURNS, args.model)
            new = {"type": "message", "role": "user", "content": "and then?"}
            stateless = {"model": args.model, "input": history + [new], "store": False}
            continuation = {
                "model": args.model,
                "input": [new],
                "previous_response_id": last,
                "store": False,
            }
            bare = {"model": args.model, "input": [new], "store": False}
            requests = (("stateless", stateless), ("continuation", continuation), ("no history", bare))
            for _ in range(200):  # warm up every path
                for _, body in requests:
                    client.create(body)
            timings = {name: [] for name, _ in requests}
            for _ in range(args.requests):
                for name, body in requests:
                    started = time.perf_counter()
                    client.create(body)
                    timings[name].append((time.perf_counter() - started) * 1e6)

            before = rss_kib(process.pid)
            for _ in range(args.conversations):
                chain(client, HISTORY_TURNS, args.model)
            after = rss_kib(process.pid)
        finally:
            process.terminate()
            process.wait()

    p50 = {name: statistics.median(values) for name, values in timings.items()}
    p99 = {
        name: statistics.quantiles(values, n=100)[98] for name, values in timings.items()
    }
    print(f"{len(history)} items of hot history, {args.requests} requests each, alternating, one connection\n")
    print("| request | p50 | p99 |")
    print("|---|---|---|")
    labels = {
        "stateless": "stateless: the client sends the 50 items",
        "continuation": "continuation: `previous_response_id`, Airlock adds the 50 items",
        "no history": "the new message alone, no history",
    }
    for name, label in labels.items():
        print(f"| {label} | {p50[name]:.0f} µs | {p99[name]:.0f} µs |")
    print(
        f"\nA hot continuation against the same request made stateless, p50: "
        f"{p50['continuation'] - p50['stateless']:+.0f} µs; against no history at all: "
        f"{p50['continuation'] - p50['no history']:+.0f} µs"
    )
    per = (after - before) * 1024 / args.conversations
    print(
        f"\nMemory: {args.conversations} more cached conversations of {len(history)} items "
        f"took {after - before} KiB resident: {per / 1024:.1f} KiB per conversation"
    )


if __name__ == "__main__":
    main()
