"""Wire-level details that the SDKs hide but other clients (curl, fetch, other
SDKs) rely on: alternative auth forms, the shared /v1/models path, error
envelopes, the REST forms the Python SDK does not use."""

from __future__ import annotations

import json

import pytest

from conftest import MASTER_KEY, WRONG_KEY
from helpers import http

GEMINI = "gemini-2.5-flash"
GEN_BODY = {"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]}


def test_health_and_readiness(gateway):
    assert http("GET", f"{gateway.url}/healthz").status == 200
    assert http("GET", f"{gateway.url}/readyz").status == 200


def test_shared_models_path_bearer_gets_openai_shape(gateway):
    r = http("GET", f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert r.status == 200, r.body
    body = r.json()
    assert body.get("object") == "list" and isinstance(body.get("data"), list), body
    assert all(m["object"] == "model" and "id" in m for m in body["data"])


@pytest.mark.parametrize("how", ["header", "query"])
def test_shared_models_path_google_key_gets_google_shape(gateway, how):
    if how == "header":
        r = http("GET", f"{gateway.url}/v1/models", headers={"x-goog-api-key": MASTER_KEY})
    else:
        r = http("GET", f"{gateway.url}/v1/models?key={MASTER_KEY}")
    assert r.status == 200, r.body
    body = r.json()
    assert isinstance(body.get("models"), list) and body["models"], body
    assert all(m["name"].startswith("models/") for m in body["models"])


@pytest.mark.parametrize("version", ["v1", "v1beta", "v1alpha"])
def test_query_key_auth_on_gemini_surface(gateway, version):
    r = http(
        "POST",
        f"{gateway.url}/{version}/models/{GEMINI}:generateContent?key={MASTER_KEY}",
        body=GEN_BODY,
    )
    assert r.status == 200, r.body
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"].strip()


def test_snake_case_rest_body_is_accepted(gateway):
    """Google's REST endpoints accept proto field names (snake_case) as well
    as lowerCamelCase JSON names."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": 256, "temperature": 0.1},
    }
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/{GEMINI}:generateContent",
        headers={"x-goog-api-key": MASTER_KEY},
        body=body,
    )
    assert r.status == 200, r.body
    assert r.json()["usageMetadata"]["promptTokenCount"] > 0


def test_embed_content_rest(gateway):
    """:embedContent (single) - the Python SDK always uses :batchEmbedContents."""
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/gemini-embedding-001:embedContent",
        headers={"x-goog-api-key": MASTER_KEY},
        body={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16},
    )
    assert r.status == 200, r.body
    values = r.json()["embedding"]["values"]
    assert len(values) == 16 and any(v != 0 for v in values)


def test_stream_generate_content_sse_framing(gateway):
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse",
        headers={"x-goog-api-key": MASTER_KEY},
        body=GEN_BODY,
    )
    assert r.status == 200, r.body
    assert r.headers.get("content-type", "").startswith("text/event-stream"), r.headers
    events = [
        json.loads(line[len("data:"):])
        for line in r.body.decode().splitlines()
        if line.startswith("data:")
    ]
    assert events and all("candidates" in e for e in events)


def test_stream_generate_content_without_sse_is_json_array(gateway):
    """Without alt=sse, streamGenerateContent answers one JSON array."""
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/{GEMINI}:streamGenerateContent",
        headers={"x-goog-api-key": MASTER_KEY},
        body=GEN_BODY,
    )
    assert r.status == 200, r.body
    arr = r.json()
    assert isinstance(arr, list) and arr and all("candidates" in e for e in arr)


def test_openai_stream_sse_framing(gateway):
    r = http(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        body={"model": GEMINI, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status == 200, r.body
    assert r.headers.get("content-type", "").startswith("text/event-stream"), r.headers
    data = [l[len("data:"):].strip() for l in r.body.decode().splitlines() if l.startswith("data:")]
    assert data and data[-1] == "[DONE]", data[-3:]
    for d in data[:-1]:
        assert json.loads(d)["object"] == "chat.completion.chunk"


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/v1/chat/completions", {}),
        ("/v1/chat/completions", {"Authorization": f"Bearer {WRONG_KEY}"}),
    ],
    ids=["missing", "wrong"],
)
def test_openai_surface_rejects_without_valid_key(gateway, path, headers):
    r = http(
        "POST",
        f"{gateway.url}{path}",
        headers=headers,
        body={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status == 401, (r.status, r.body)
    err = r.json()["error"]
    assert err["message"] and "type" in err


@pytest.mark.parametrize(
    "headers", [{}, {"x-goog-api-key": WRONG_KEY}], ids=["missing", "wrong"]
)
def test_gemini_surface_rejects_without_valid_key(gateway, headers):
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/{GEMINI}:generateContent",
        headers=headers,
        body=GEN_BODY,
    )
    # 401 UNAUTHENTICATED: see test_genai_sdk.test_wrong_client_key.
    assert r.status == 401, (r.status, r.body)
    err = r.json()["error"]
    assert err["code"] == 401
    assert err["status"] == "UNAUTHENTICATED"
    assert err["message"]


def test_provider_keys_never_leak(gateway):
    """Nothing the gateway returns contains the provider keys it holds."""
    from conftest import SIM_GEMINI_KEY, SIM_OPENAI_KEY

    responses = [
        http("GET", f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {MASTER_KEY}"}),
        http("GET", f"{gateway.url}/v1beta/models", headers={"x-goog-api-key": MASTER_KEY}),
        http("POST", f"{gateway.url}/v1beta/models/nope:generateContent",
             headers={"x-goog-api-key": MASTER_KEY}, body=GEN_BODY),
        http("POST", f"{gateway.url}/v1/chat/completions",
             headers={"Authorization": f"Bearer {MASTER_KEY}"},
             body={"model": "gpt-nope", "messages": [{"role": "user", "content": "hi"}]}),
    ]
    for r in responses:
        text = r.body.decode(errors="replace") + json.dumps(r.headers)
        assert SIM_GEMINI_KEY not in text and SIM_OPENAI_KEY not in text
