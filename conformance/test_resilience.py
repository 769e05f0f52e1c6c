"""When a provider fails, through the official SDKs: a route's primary
model fails over to its fallback on another provider (the answer names what
served it, plain and streamed), and a stream the provider breaks off ends
with an error event each SDK raises.
"""

import openai
import pytest
from google.genai import errors as genai_errors

from conftest import _serve, _stop_and_check, make_genai, make_openai
from helpers import http

ROUTES = """
[[routes]]
model = "assistant"
provider = "openai"
upstream_model = "gpt-4o"
fallbacks = ["gemini-2.5-flash"]
"""


@pytest.fixture(scope="module")
def fallback_gateway(workdir, mock_server):
    config = workdir / "fallback.toml"
    config.write_text(ROUTES)
    p = _serve(workdir, "fallback", mock_server, AIRLOCK_CONFIG=str(config))
    yield p
    _stop_and_check(p)


@pytest.fixture
def faults(mock_server):
    """Adds fault rules to the simulator; forgets them after the test."""
    url = f"{mock_server.url}/mock/faults"

    def add(provider: str, fault: str, times: int | None = None) -> None:
        added = http("POST", url, body={"provider": provider, "fault": fault, "times": times})
        assert added.status == 201, added.body

    yield add
    http("DELETE", url)


def test_a_primary_model_fails_over_to_its_fallback(fallback_gateway, faults):
    client = make_openai(fallback_gateway.url)
    served = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "Hello"}]
    )
    assert served.headers["x-airlock-served-by"] == "openai/gpt-4o"
    faults("openai", "status=503")
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "Hello"}]
    )
    assert raw.headers["x-airlock-served-by"] == "gemini/gemini-2.5-flash"
    completion = raw.parse()
    assert completion.choices[0].message.content
    # Streamed: the fallback's stream, in OpenAI's chunks.
    with client.chat.completions.with_streaming_response.create(
        model="assistant", messages=[{"role": "user", "content": "Hello"}], stream=True
    ) as response:
        assert response.headers["x-airlock-served-by"] == "gemini/gemini-2.5-flash"
        text = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in response.parse()
            if chunk.choices
        )
    assert text


def test_a_broken_off_stream_is_an_error_each_sdk_raises(gateway, faults):
    faults(None, "disconnect-after=1")
    client = make_openai(gateway.url)
    with pytest.raises(openai.APIError) as raised:
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "A story"}], stream=True
        ):
            pass
    assert "broke off" in str(raised.value)
    genai = make_genai(gateway.url)
    with pytest.raises(genai_errors.APIError) as raised:
        for _ in genai.models.generate_content_stream(model="gemini-2.5-flash", contents="A story"):
            pass
    assert raised.value.code == 503
