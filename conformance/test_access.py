"""Access control seen through the official SDKs: a project key with a rate
limit makes `openai` raise its RateLimitError (and retry after Retry-After
when retries are on) and `google-genai` raise its ClientError with code 429;
an ephemeral token minted with `client.auth_tokens.create` works as a key.
"""

import json
import time
import urllib.request
import uuid

import openai
import pytest
from google.genai import errors, types

from conftest import MASTER_KEY, make_genai, make_openai

RPM = 30  # one request back every 2 seconds once the burst is spent


def _admin(base_url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def limited_key(gateway) -> str:
    project = f"conformance-{uuid.uuid4().hex[:8]}"
    _admin(gateway.url, "/admin/v1/projects", {"name": project})
    created = _admin(gateway.url, f"/admin/v1/projects/{project}/keys", {"limits": {"rpm": RPM}})
    assert created["secret"].startswith("ak_")
    return created["secret"]


def _spend_burst(client) -> None:
    for _ in range(RPM):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_openai_raises_rate_limit_error_then_retries_after_retry_after(gateway, limited_key):
    client = make_openai(gateway.url, limited_key)
    _spend_burst(client)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    headers = raised.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-limit-requests"] == str(RPM)
    assert raised.value.code == "rate_limit_exceeded"

    # With retries on, the SDK waits for Retry-After and then succeeds.
    retrying = openai.OpenAI(api_key=limited_key, base_url=f"{gateway.url}/v1", max_retries=3, timeout=60)
    started = time.monotonic()
    answer = retrying.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    assert time.monotonic() - started >= 0.5, "the SDK waited before its retry"


def test_genai_raises_client_error_429(gateway, limited_key):
    # The key's budget of requests was spent by the OpenAI test or is spent here.
    client = make_genai(gateway.url, limited_key)
    with pytest.raises(errors.ClientError) as raised:
        for _ in range(RPM + 1):
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert raised.value.code == 429
    assert raised.value.status == "RESOURCE_EXHAUSTED"


def test_genai_auth_tokens_create_mints_a_usable_token(gateway):
    minting = make_genai(gateway.url, MASTER_KEY, api_version="v1alpha")
    token = minting.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=2))
    assert token.name.startswith("auth_tokens/")
    # google-genai itself sends ephemeral tokens only on Live sessions; over
    # REST, Airlock accepts them wherever a key goes.
    request = urllib.request.Request(
        f"{gateway.url}/v1beta/models/gemini-2.5-flash:generateContent",
        data=json.dumps({"contents": [{"parts": [{"text": "hi"}]}]}).encode(),
        headers={"x-goog-api-key": token.name, "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["candidates"][0]["content"]["parts"][0]["text"]


def test_openai_wrong_key_is_authentication_error_for_project_keys(gateway):
    client = make_openai(gateway.url, "ak_" + "0" * 64)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
