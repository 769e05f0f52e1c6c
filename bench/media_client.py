#!/usr/bin/env python3
"""The client side of bench/media.sh (stdlib only).

  store-image   one OpenAI image generation with `x-airlock-media: url`;
                prints {"url", "id"} of the stored picture
  store-speech  one Gemini TTS `generateContent` with `x-airlock-media: url`;
                prints {"url", "id"} of the stored WAV
  latency       an image request sent sequentially over one keep-alive
                connection (http.client, TCP_NODELAY), inline against
                `x-airlock-media: url`, the modes alternating in blocks;
                prints one JSON object: every latency in microseconds per mode

Latency is client-side: from just before the request is written to the
last byte of the answer read (the body is read, not parsed). Every answer
is checked after it is timed: status 200, `b64_json` in an inline answer,
`url` in a URL answer; and once per run the bytes at a URL must be the
bytes the same request answers inline.
"""

import argparse
import base64
import hashlib
import http.client
import json
import sys
import time
import urllib.request
from urllib.parse import urlsplit

NARRATION = (
    "Once upon a time, in a harbour town where the fog came in every evening, "
    "a lighthouse keeper named Mira counted the ships that came home. "
)


def post_json(port, path, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != 200:
        sys.exit(f"POST {path}: {response.status} {data[:300]!r}")
    return json.loads(data)


def printed(url):
    print(json.dumps({"url": url, "id": urlsplit(url).path.rsplit("/", 1)[-1]}))


def store_image(args):
    answer = post_json(
        args.port,
        "/v1/images/generations",
        {"Authorization": f"Bearer {args.key}", "x-airlock-media": "url"},
        {"model": args.model, "prompt": "A lighthouse at dusk, for the media benchmark.", "size": args.size},
    )
    printed(answer["data"][0]["url"])


def store_speech(args):
    text = (NARRATION * (args.chars // len(NARRATION) + 1))[: args.chars]
    answer = post_json(
        args.port,
        f"/v1beta/models/{args.model}:generateContent",
        {"x-goog-api-key": args.key, "x-airlock-media": "url"},
        {
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
            },
        },
    )
    parts = answer["candidates"][0]["content"]["parts"]
    uris = [p["fileData"]["fileUri"] for p in parts if "fileData" in p]
    if not uris:
        sys.exit(f"no fileData part in {json.dumps(answer)[:300]}")
    printed(uris[0])


def image_body(args, prompt):
    body = {"model": args.model, "prompt": prompt, "size": args.size}
    if args.model.startswith("dall-e"):
        body["response_format"] = "b64_json"
    return json.dumps(body).encode()


def latency(args):
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    base = {"Content-Type": "application/json", "Authorization": f"Bearer {args.key}"}
    headers = {"inline": base, "url": {**base, "x-airlock-media": "url"}}
    expect = {"inline": b'"b64_json"', "url": b'"url"'}
    counter = 0

    def prompt():
        nonlocal counter
        counter += 1
        if args.prompts == "same":
            return "A lighthouse at dusk, for the media benchmark."
        return f"A lighthouse at dusk, scene {args.nonce}-{counter}."

    def one(mode, text):
        body = image_body(args, text)
        start = time.perf_counter_ns()
        conn.request("POST", "/v1/images/generations", body=body, headers=headers[mode])
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter_ns() - start
        if response.status != 200 or expect[mode] not in data:
            sys.exit(f"{mode}: {response.status} {data[:300]!r}")
        return elapsed // 1000, data

    # The same request inline and as a URL: the URL's bytes are the inline bytes.
    text = prompt()
    _, inline = one("inline", text)
    _, as_url = one("url", text)
    inline_bytes = base64.b64decode(json.loads(inline)["data"][0]["b64_json"])
    with urllib.request.urlopen(json.loads(as_url)["data"][0]["url"], timeout=60) as fetched:
        url_bytes = fetched.read()
    if hashlib.sha256(inline_bytes).digest() != hashlib.sha256(url_bytes).digest():
        sys.exit("the bytes at the URL are not the bytes answered inline")

    for _ in range(args.warmup):
        for mode in ("inline", "url"):
            one(mode, prompt())
    times = {"inline": [], "url": []}
    sizes = {"inline": 0, "url": 0}
    for block in range(args.blocks):
        order = ("inline", "url") if block % 2 == 0 else ("url", "inline")
        for mode in order:
            for _ in range(args.block_size):
                micros, data = one(mode, prompt())
                times[mode].append(micros)
                sizes[mode] += len(data)
    conn.close()
    mean = {mode: sizes[mode] // max(len(times[mode]), 1) for mode in sizes}
    print(json.dumps({"first_image_bytes": len(inline_bytes), "mean_answer_bytes": mean, "times_us": times}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("store-image", "store-speech", "latency"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--model", required=True)
        if name == "store-speech":
            p.add_argument("--chars", type=int, default=600, help="narration length (50 ms of speech each)")
        else:
            p.add_argument("--size", required=True)
        if name == "latency":
            p.add_argument("--prompts", choices=("same", "distinct"), required=True)
            p.add_argument("--blocks", type=int, default=10, help="blocks per mode")
            p.add_argument("--block-size", type=int, default=50)
            p.add_argument("--warmup", type=int, default=20, help="requests per mode before timing")
            p.add_argument("--nonce", default=str(time.time_ns()), help="makes distinct prompts new to the store")
    args = parser.parse_args()
    {"store-image": store_image, "store-speech": store_speech, "latency": latency}[args.command](args)


if __name__ == "__main__":
    main()
