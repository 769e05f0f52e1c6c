"""Small shared helpers for the conformance suites (no third-party deps)."""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from conftest import MASTER_KEY, _resolved_bin

# --------------------------------------------------------------------------
# A tiny JSON-Schema subset validator: enough for tool-call arguments
# (object/string/integer/number/boolean/array, enum, required,
# additionalProperties: false). Type names are case-insensitive so Gemini's
# OBJECT/STRING schemas validate the same way as OpenAI's object/string.


def schema_errors(value, schema: dict, path: str = "$") -> list[str]:
    errs: list[str] = []
    typ = str(schema.get("type", "")).lower()
    checks = {
        "object": lambda v: isinstance(v, dict),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
        or (isinstance(v, float) and v.is_integer()),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
        and math.isfinite(v),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
    }
    if typ and typ in checks and not checks[typ](value):
        return [f"{path}: expected {typ}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in enum {schema['enum']!r}")
    if typ == "object":
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errs.append(f"{path}: missing required property {req!r}")
        for k, v in value.items():
            if k in props:
                errs.extend(schema_errors(v, props[k], f"{path}.{k}"))
            elif schema.get("additionalProperties") is False:
                errs.append(f"{path}: unexpected property {k!r}")
    if typ == "array" and "items" in schema:
        for i, item in enumerate(value):
            errs.extend(schema_errors(item, schema["items"], f"{path}[{i}]"))
    return errs


def assert_matches_schema(value, schema: dict) -> None:
    errs = schema_errors(value, schema)
    assert not errs, f"arguments {value!r} violate the schema: {errs}"


# --------------------------------------------------------------------------
# Raw HTTP (for wire details the SDKs hide)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, *, headers: dict | None = None, body=None, timeout=30.0) -> RawResponse:
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return RawResponse(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return RawResponse(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def project_key(gateway_url: str, master_key: str, prefix: str, settings: dict | None = None) -> str:
    """Creates a project named `prefix-<random>` (with `settings`) through the
    admin API, and a secret key in it; returns the key."""
    project = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = {"authorization": f"Bearer {master_key}"}
    created = http("POST", f"{gateway_url}/admin/v1/projects", headers=admin, body={"name": project, **(settings or {})})
    assert created.status == 201, created.body
    key = http("POST", f"{gateway_url}/admin/v1/projects/{project}/keys", headers=admin, body={})
    assert key.status == 201, key.body
    return key.json()["secret"]


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII, no parentheses or backslashes),
    with its cross-reference table: a document any PDF reader opens."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Title (Test document) >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010} 00000 n \n".encode()
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(pdf)


# --------------------------------------------------------------------------
# Vectors


def cosine(a, b) -> float:
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def assert_vector(vec, dims: int | None = None) -> None:
    assert isinstance(vec, list) and vec, f"embedding is not a non-empty list: {vec!r:.200}"
    assert all(isinstance(x, float) and math.isfinite(x) for x in vec), "non-finite or non-float component"
    assert any(x != 0.0 for x in vec), "embedding is all zeros"
    if dims is not None:
        assert len(vec) == dims, f"expected {dims} dimensions, got {len(vec)}"


def fetch_receipt(base_url: str, receipt_id: str, key: str = MASTER_KEY) -> dict:
    """GET /v1/receipts/{id} with `key`, asking again while it is pending (202)."""
    request = urllib.request.Request(
        f"{base_url}/v1/receipts/{receipt_id}",
        headers={"Authorization": f"Bearer {key}"},
    )
    for _ in range(100):
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
            if response.status == 200:
                return body
            assert response.status == 202, body
            assert response.headers["Retry-After"] == "1"
        time.sleep(0.1)
    raise AssertionError(f"receipt {receipt_id} was never covered by a checkpoint")


def verifier_key(gateway) -> str:
    """`airlock receipts key` for the gateway's data directory."""
    data_dir = gateway.argv[gateway.argv.index("--data-dir") + 1]
    done = subprocess.run(
        [str(_resolved_bin()), "receipts", "key", "--data-dir", data_dir],
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
