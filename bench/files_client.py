#!/usr/bin/env python3
"""The client side of bench/files.sh (stdlib only).

  upload   uploads the same text document RUNS times by each path and
           prints one JSON object: each upload's seconds per path.
             openai     one `POST /v1/files` (multipart) of SINGLE_MB
             resumable  Gemini's resumable protocol (google-genai's): a
                        start, then CHUNK_MB chunks, the last finalizing,
                        of RESUMABLE_MB
           Every upload must answer 200 with the size sent; the file is
           deleted after it is timed.
  pdf      uploads a PDF of PAGES pages, each a paragraph of text (made
           here), and prints {"pages", "seconds", "per_page_ms"} read from
           Airlock's /metrics (airlock_file_extraction_page_seconds), with
           the upload's wall time.

Time is client-side wall time from the first byte written to the last
byte of the answer read, on one keep-alive connection.
"""

import argparse
import http.client
import json
import sys
import time
import uuid

LINE = "Airlock keeps uploaded documents, extracts their text and hands it to models. " * 4 + "\n"


def document(megabytes: int) -> bytes:
    line = LINE.encode()
    return line * (megabytes * 1024 * 1024 // len(line))


def check(response, body: bytes, what: str) -> bytes:
    if response.status != 200:
        sys.exit(f"{what}: {response.status} {body[:300]!r}")
    return body


def multipart(data: bytes, name: str, part_type: str = "text/plain", purpose: str = "user_data") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        f"Content-Type: {part_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload_openai(conn, key: str, data: bytes) -> float:
    body, content_type = multipart(data, "notes.txt")
    started = time.perf_counter()
    conn.request("POST", "/v1/files", body=body, headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
    response = conn.getresponse()
    answer = check(response, response.read(), "POST /v1/files")
    took = time.perf_counter() - started
    file = json.loads(answer)
    if file["bytes"] != len(data):
        sys.exit(f"stored {file['bytes']} bytes of {len(data)}")
    delete(conn, key, file["id"])
    return took


def upload_resumable(conn, key: str, data: bytes, chunk: int) -> float:
    started = time.perf_counter()
    conn.request(
        "POST", "/upload/v1beta/files",
        body=json.dumps({"file": {"displayName": "notes"}}).encode(),
        headers={
            "x-goog-api-key": key, "Content-Type": "application/json",
            "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(len(data)),
            "X-Goog-Upload-Header-Content-Type": "text/plain",
        },
    )
    response = conn.getresponse()
    check(response, response.read(), "start")
    url = response.getheader("x-goog-upload-url")
    path = url[url.index("/upload/"):]
    offset = 0
    while True:
        piece = data[offset:offset + chunk]
        last = offset + len(piece) >= len(data)
        conn.request("POST", path, body=piece, headers={
            "X-Goog-Upload-Command": "upload, finalize" if last else "upload",
            "X-Goog-Upload-Offset": str(offset),
        })
        response = conn.getresponse()
        answer = check(response, response.read(), f"chunk at {offset}")
        offset += len(piece)
        if last:
            break
    took = time.perf_counter() - started
    file = json.loads(answer)["file"]
    if int(file["sizeBytes"]) != len(data):
        sys.exit(f"stored {file['sizeBytes']} bytes of {len(data)}")
    delete(conn, key, file["name"].removeprefix("files/"))
    return took


def delete(conn, key: str, file_id: str) -> None:
    conn.request("DELETE", f"/v1/files/{file_id}", headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    check(response, response.read(), "DELETE")


def pdf_of(pages: int) -> bytes:
    """A PDF of `pages` pages, each showing a few lines of text."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        None,  # the page tree, once the pages are numbered
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for page in range(pages):
        lines = " ".join(
            f"72 {700 - 14 * line} Td (Page {page + 1}, line {line + 1}: the quarter closed with steady growth.) Tj"
            for line in range(20)
        )
        content = f"BT /F1 11 Tf {lines} ET"
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects)} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>"
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010} 00000 n \n".encode()
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(pdf)


def extraction_metric(conn) -> tuple[float, float]:
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    text = check(response, response.read(), "/metrics").decode()
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("airlock_file_extraction_page_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("airlock_file_extraction_page_seconds_count"):
            count = float(line.split()[-1])
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["upload", "pdf"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single-mb", type=int, default=16)
    parser.add_argument("--resumable-mb", type=int, default=64)
    parser.add_argument("--chunk-mb", type=int, default=8)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=300)
    if args.mode == "upload":
        single, resumable = document(args.single_mb), document(args.resumable_mb)
        # One of each first, untimed: the first touches cold paths.
        upload_openai(conn, args.key, single)
        upload_resumable(conn, args.key, resumable, args.chunk_mb << 20)
        results = {"openai": [], "resumable": [], "openai_bytes": len(single), "resumable_bytes": len(resumable)}
        for _ in range(args.runs):
            results["openai"].append(upload_openai(conn, args.key, single))
            results["resumable"].append(upload_resumable(conn, args.key, resumable, args.chunk_mb << 20))
        print(json.dumps(results))
    else:
        pdf = pdf_of(args.pages)
        body, content_type = multipart(pdf, "report.pdf", "application/pdf")
        before = extraction_metric(conn)
        started = time.perf_counter()
        conn.request("POST", "/v1/files", body=body, headers={"Authorization": f"Bearer {args.key}", "Content-Type": content_type})
        response = conn.getresponse()
        check(response, response.read(), "POST /v1/files (PDF)")
        took = time.perf_counter() - started
        total, count = extraction_metric(conn)
        seconds = total - before[0]
        if count - before[1] != 1:
            sys.exit("the PDF's extraction was not recorded once")
        print(json.dumps({"pages": args.pages, "bytes": len(pdf), "upload_seconds": took, "per_page_ms": seconds * 1000}))


if __name__ == "__main__":
    main()
