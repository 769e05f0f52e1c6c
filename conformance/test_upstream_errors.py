"""Upstream failures reach the client as its own protocol's error.

The simulator answers provider keys starting with `limited-` with 429 and
Retry-After: 1; the gateway must hand the client a 429 it understands
(openai.RateLimitError / google-genai ClientError 429 RESOURCE_EXHAUSTED),
with Retry-After, and without leaking the provider key.
"""

from __future__ import annotations

import openai
import pytest
from google.genai import errors

from conftest import make_genai, make_openai

LIMITED_KEYS = ("limited-gemini-conformance", "limited-openai-conformance")


def _no_key_leak(text: str) -> None:
    for k in LIMITED_KEYS:
        assert k not in text, "provider key leaked in an error response"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gemini-2.5-flash"])
def test_openai_client_sees_rate_limit(limited_gateway, model):
    client = make_openai(limited_gateway.url)
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    err = ei.value
    assert err.status_code == 429
    assert isinstance(err.body, dict) and err.body.get("message"), err.body
    retry_after = err.response.headers.get("retry-after")
    assert retry_after is not None and float(retry_after) >= 0, dict(err.response.headers)
    _no_key_leak(err.response.text)


def test_genai_client_sees_resource_exhausted(limited_gateway):
    client = make_genai(limited_gateway.url, api_version="v1beta")
    with pytest.raises(errors.ClientError) as ei:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert ei.value.code == 429, ei.value.details
    assert ei.value.status == "RESOURCE_EXHAUSTED", ei.value.details
    _no_key_leak(str(ei.value.details))
