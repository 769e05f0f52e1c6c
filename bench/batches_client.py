#!/usr/bin/env python3
"""The client side of bench/batches.sh (stdlib only).

  openai   uploads a JSONL file of REQUESTS chat completions (purpose
           batch), creates a batch of it, polls it every POLL seconds
           until it ends, checks every request completed and the output
           file holds one line per request, and prints one JSON object:
           the upload's and the batch's seconds, the batch's own created
           and completed times, its counts and the output file's size.
  gemini   the same as one `batchGenerateContent` of REQUESTS inline
           requests, its answers read back from the ended operation.

Time is client-side wall time, from the create request to the poll that
saw the batch ended.
"""

import argparse
import http.client
import json
import sys
import time

from files_client import multipart


def call(conn, method: str, path: str, headers: dict, body: bytes | None = None) -> dict | bytes:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        sys.exit(f"{method} {path}: {response.status} {answer[:300]!r}")
    if response.getheader("content-type", "").split(";")[0].strip() == "application/json":
        return json.loads(answer)
    return answer


def chat(n: int) -> dict:
    return {"model": "gpt-4o-mini", "temperature": 0,
            "messages": [{"role": "user", "content": f"Summarise chapter {n} of the story."}]}


def run_openai(conn, key: str, requests: int, poll: float) -> dict:
    bearer = {"Authorization": f"Bearer {key}"}
    lines = "\n".join(
        json.dumps({"custom_id": f"req-{n}", "method": "POST", "url": "/v1/chat/completions", "body": chat(n)})
        for n in range(requests)
    ).encode()
    body, content_type = multipart(lines, "requests.jsonl", "application/jsonl", purpose="batch")
    started = time.perf_counter()
    file = call(conn, "POST", "/v1/files", {**bearer, "Content-Type": content_type}, body)
    uploaded = time.perf_counter() - started
    create = json.dumps({"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                         "completion_window": "24h"}).encode()
    started = time.perf_counter()
    batch = call(conn, "POST", "/v1/batches", {**bearer, "Content-Type": "application/json"}, create)
    while batch["status"] not in ("completed", "failed", "cancelled"):
        time.sleep(poll)
        batch = call(conn, "GET", f"/v1/batches/{batch['id']}", bearer)
    took = time.perf_counter() - started
    counts = batch["request_counts"]
    if batch["status"] != "completed" or counts["completed"] != requests:
        sys.exit(f"the batch ended {batch['status']} with {counts}")
    output = call(conn, "GET", f"/v1/files/{batch['output_file_id']}/content", bearer)
    lines_out = output.count(b"\n")
    if lines_out != requests:
        sys.exit(f"the output file holds {lines_out} lines, not {requests}")
    return {"requests": requests, "upload_seconds": uploaded, "seconds": took,
            "server_seconds": batch["completed_at"] - batch["created_at"],
            "output_bytes": len(output), "input_bytes": len(lines)}


def run_gemini(conn, key: str, requests: int, poll: float) -> dict:
    google = {"x-goog-api-key": key}
    inline = [{"request": {"contents": [{"role": "user", "parts": [{"text": f"Scene {n}."}]}],
                           "generationConfig": {"temperature": 0}},
               "metadata": {"n": str(n)}} for n in range(requests)]
    create = json.dumps({"batch": {"displayName": "bench", "inputConfig": {"requests": {"requests": inline}}}}).encode()
    started = time.perf_counter()
    operation = call(conn, "POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
                     {**google, "Content-Type": "application/json"}, create)
    while not operation.get("done"):
        time.sleep(poll)
        operation = call(conn, "GET", f"/v1beta/{operation['name']}", google)
    took = time.perf_counter() - started
    metadata = operation["metadata"]
    answers = metadata["output"]["inlinedResponses"]["inlinedResponses"]
    answered = sum(1 for answer in answers if "response" in answer)
    if metadata["state"] != "BATCH_STATE_SUCCEEDED" or answered != requests:
        sys.exit(f"the batch ended {metadata['state']} with {answered} answers of {requests}")
    return {"requests": requests, "seconds": took, "request_bytes": len(create)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("api", choices=["openai", "gemini"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)
    run = run_openai if args.api == "openai" else run_gemini
    print(json.dumps(run(conn, args.key, args.requests, args.poll)))


if __name__ == "__main__":
    main()
