"""Zero-config mode: `airlock serve` with no provider key and no provider base
URL starts its built-in simulator, so both SDKs work out of the box."""

from __future__ import annotations

from conftest import make_genai, make_openai
from helpers import http


def test_health_and_readiness(zero_config_gateway):
    assert http("GET", f"{zero_config_gateway.url}/healthz").status == 200
    assert http("GET", f"{zero_config_gateway.url}/readyz").status == 200


def test_openai_chat_without_provider_key(zero_config_gateway):
    client = make_openai(zero_config_gateway.url)
    resp = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello."}]
    )
    assert resp.choices[0].message.content.strip()
    assert resp.choices[0].finish_reason == "stop"
    u = resp.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_gemini_generate_content_without_provider_key(zero_config_gateway):
    client = make_genai(zero_config_gateway.url, api_version="v1beta")
    resp = client.models.generate_content(model="gemini-2.5-flash", contents="Say hello.")
    assert resp.text and resp.text.strip()
    assert resp.usage_metadata.prompt_token_count > 0


def test_gemini_model_through_openai_surface_without_provider_key(zero_config_gateway):
    client = make_openai(zero_config_gateway.url)
    resp = client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Say hello."}]
    )
    assert resp.choices[0].message.content.strip()
