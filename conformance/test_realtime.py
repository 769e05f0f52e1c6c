"""Realtime sessions through Airlock with the official SDKs.

google-genai's ``client.aio.live.connect()`` always opens ``wss://``, so its
suite runs against the gateway serving TLS with a self-signed certificate that
the client trusts through ``SSL_CERT_FILE`` (read when the client is built).
The openai SDK's ``client.realtime.connect()`` follows its base URL's scheme.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
from contextlib import contextmanager

import pytest

from conftest import MASTER_KEY, REQUEST_TIMEOUT_S, make_genai

LIVE_MODEL = "gemini-live-2.5-flash-preview"
REALTIME_MODEL = "gpt-realtime"
# 16 kHz, 16-bit mono: a 440 Hz tone, 500 ms.
SPEECH = b"".join(
    struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(8000)
)


@contextmanager
def _trusting(ca_file):
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ca_file)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = previous


def tls_genai(gateway, api_key: str = MASTER_KEY, api_version: str | None = None):
    # The SDK builds its SSL contexts from SSL_CERT_FILE when the client is made.
    with _trusting(gateway.ca_file):
        return make_genai(gateway.url, api_key=api_key, api_version=api_version)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, REQUEST_TIMEOUT_S))


async def _collect_turn(session):
    """Every message of one model turn (the SDK's receive() ends at turnComplete)."""
    return [message async for message in session.receive()]


def test_genai_live_text_turn_over_wss(tls_gateway):
    client = tls_genai(tls_gateway)

    async def scenario():
        async with client.aio.live.connect(
            model=LIVE_MODEL, config={"response_modalities": ["TEXT"]}
        ) as session:
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "Tell me about the sea"}]},
                turn_complete=True,
            )
            return await _collect_turn(session)

    messages = run(scenario())
    text = "".join(m.text for m in messages if m.text)
    assert text.strip()
    assert messages[-1].server_content.turn_complete
    usage = [m.usage_metadata for m in messages if m.usage_metadata]
    assert usage and usage[-1].total_token_count > 0


def test_genai_live_audio_turn_with_transcriptions(tls_gateway):
    from google.genai import types

    client = tls_genai(tls_gateway)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )

    async def scenario():
        async with client.aio.live.connect(model=LIVE_MODEL, config=config) as session:
            for start in range(0, len(SPEECH), 3200):
                await session.send_realtime_input(
                    audio=types.Blob(data=SPEECH[start : start + 3200], mime_type="audio/pcm;rate=16000")
                )
            await session.send_realtime_input(audio_stream_end=True)
            return await _collect_turn(session)

    messages = run(scenario())
    audio = b"".join(m.data for m in messages if m.data)
    assert len(audio) > 0 and len(audio) % 2 == 0, "16-bit PCM"
    heard = "".join(
        m.server_content.input_transcription.text
        for m in messages
        if m.server_content and m.server_content.input_transcription
    )
    said = "".join(
        m.server_content.output_transcription.text
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    assert heard.strip() and said.strip()


def test_genai_live_tool_call_round_trip(tls_gateway):
    from google.genai import types

    client = tls_genai(tls_gateway)
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="The weather in a city",
        parameters=types.Schema(
            type="OBJECT",
            properties={"city": types.Schema(type="STRING")},
            required=["city"],
        ),
    )
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], tools=[types.Tool(function_declarations=[weather])]
    )

    async def scenario():
        async with client.aio.live.connect(model=LIVE_MODEL, config=config) as session:
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "Use get_weather for Paris"}]},
                turn_complete=True,
            )
            call = None
            async for message in session.receive():
                if message.tool_call:
                    call = message.tool_call.function_calls[0]
                    break
            assert call is not None and call.name == "get_weather"
            assert isinstance(call.args.get("city"), str)
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(id=call.id, name=call.name, response={"sky": "clear"})
                ]
            )
            return await _collect_turn(session)

    messages = run(scenario())
    assert "".join(m.text for m in messages if m.text).strip()


def test_genai_live_with_an_ephemeral_token(tls_gateway):
    from google.genai import types

    minting = tls_genai(tls_gateway, api_version="v1alpha")
    token = minting.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=1))
    client = tls_genai(tls_gateway, api_key=token.name, api_version="v1alpha")

    async def scenario():
        # The SDK sends the token as `Authorization: Token auth_tokens/...`
        # to BidiGenerateContentConstrained.
        async with client.aio.live.connect(
            model=LIVE_MODEL, config={"response_modalities": ["TEXT"]}
        ) as session:
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "Hello"}]}, turn_complete=True
            )
            return await _collect_turn(session)

    with pytest.warns(Warning):  # the SDK calls ephemeral tokens experimental
        messages = run(scenario())
    assert "".join(m.text for m in messages if m.text).strip()


def test_genai_live_unknown_model_raises_the_close_reason(tls_gateway):
    from google.genai import errors

    client = tls_genai(tls_gateway)

    async def scenario():
        async with client.aio.live.connect(model="no-such-live-model") as session:
            await _collect_turn(session)

    with pytest.raises(errors.APIError) as raised:
        run(scenario())
    assert raised.value.code == 1008
    assert "no-such-live-model" in str(raised.value)


def _openai(gateway):
    import openai

    return openai.AsyncOpenAI(api_key=MASTER_KEY, base_url=f"{gateway.url}/v1", max_retries=0)


async def _until_done(connection):
    events = []
    async for event in connection:
        events.append(event)
        if event.type == "response.done":
            return events
    raise AssertionError("the connection ended before response.done")


def test_openai_realtime_text_turn(gateway):
    client = _openai(gateway)

    async def scenario():
        async with client.realtime.connect(model=REALTIME_MODEL) as connection:
            created = await connection.recv()
            assert created.type == "session.created"
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Say something kind"}],
                }
            )
            await connection.response.create(response={"output_modalities": ["text"]})
            return await _until_done(connection)

    events = run(scenario())
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.strip()
    done = events[-1]
    assert done.response.status == "completed"
    assert done.response.usage.total_tokens > 0


def test_openai_realtime_audio_turn(gateway):
    import base64

    client = _openai(gateway)

    async def scenario():
        async with client.realtime.connect(model=REALTIME_MODEL) as connection:
            await connection.recv()
            for start in range(0, len(SPEECH), 4800):
                await connection.input_audio_buffer.append(
                    audio=base64.b64encode(SPEECH[start : start + 4800]).decode()
                )
            await connection.input_audio_buffer.commit()
            await connection.response.create()
            return await _until_done(connection)

    events = run(scenario())
    audio = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    assert len(audio) > 0
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript.strip()
    assert any(e.type == "input_audio_buffer.committed" for e in events)
