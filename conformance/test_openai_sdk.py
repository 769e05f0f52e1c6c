"""The official `openai` Python SDK pointed at Airlock's OpenAI surface.

Most tests run twice: once for an OpenAI model (the request is forwarded to
the OpenAI upstream) and once for a Gemini model (Airlock translates the
OpenAI wire format to Gemini and back). The SDK must not be able to tell.
"""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

from conftest import MASTER_KEY, WRONG_KEY, make_openai
from helpers import assert_matches_schema, assert_vector, cosine

OPENAI_CHAT = "gpt-4o-mini"
GEMINI_CHAT = "gemini-2.5-flash"
CHAT_MODELS = [
    pytest.param(OPENAI_CHAT, id="openai-upstream"),
    pytest.param(GEMINI_CHAT, id="gemini-translated"),
]
EMBED_MODELS = [
    pytest.param("text-embedding-3-small", id="openai-upstream"),
    pytest.param("gemini-embedding-001", id="gemini-translated"),
]

USER_PROMPT = "Write two short sentences about lighthouses."

# The tool's name deliberately does not occur in the user prompts below (the
# simulator, in auto mode, calls a tool only when the last user message names it).
TOOL_NAME = "lookup_forecast"
TOOL_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "description": "Days ahead, 1-7"},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Get the weather forecast for a city.",
            "parameters": TOOL_PARAMS,
        },
    }
]
WEATHER_QUESTION = "What will the weather be like in Paris tomorrow?"


def _messages(prompt: str = USER_PROMPT, system: str | None = None):
    msgs = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": prompt})
    return msgs


def _assert_usage(usage) -> None:
    assert usage is not None, "response has no usage"
    assert usage.prompt_tokens > 0, usage
    assert usage.completion_tokens > 0, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage


# ---------------------------------------------------------------------------
# chat


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_completion(openai_client, model):
    resp = openai_client.chat.completions.create(model=model, messages=_messages())
    assert resp.object == "chat.completion"
    assert resp.id
    assert isinstance(resp.created, int) and resp.created > 0
    assert resp.model.startswith(model), resp.model
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    _assert_usage(resp.usage)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_is_deterministic_per_prompt(openai_client, model):
    a = openai_client.chat.completions.create(model=model, messages=_messages("Name a colour."))
    b = openai_client.chat.completions.create(model=model, messages=_messages("Name a colour."))
    c = openai_client.chat.completions.create(model=model, messages=_messages(USER_PROMPT))
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage.prompt_tokens == b.usage.prompt_tokens
    # A longer prompt costs more prompt tokens.
    assert c.usage.prompt_tokens > a.usage.prompt_tokens, (a.usage, c.usage)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_system_message_reaches_the_model(openai_client, model):
    """The system message must be forwarded (for Gemini: as systemInstruction),
    so it is counted in the prompt tokens."""
    plain = openai_client.chat.completions.create(model=model, messages=_messages())
    with_system = openai_client.chat.completions.create(
        model=model,
        messages=_messages(system="You are a terse assistant who answers in plain English."),
    )
    assert with_system.choices[0].message.content.strip()
    assert with_system.usage.prompt_tokens > plain.usage.prompt_tokens, (
        plain.usage,
        with_system.usage,
    )


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_multi_turn_history(openai_client, model):
    first = openai_client.chat.completions.create(model=model, messages=_messages("Say hello."))
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Now say goodbye."},
    ]
    second = openai_client.chat.completions.create(model=model, messages=history)
    assert second.choices[0].message.content.strip()
    assert second.choices[0].finish_reason == "stop"
    _assert_usage(second.usage)
    # The whole history is part of the prompt.
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("model", CHAT_MODELS)
def test_output_token_limit_gives_length(openai_client, model, param):
    resp = openai_client.chat.completions.create(
        model=model, messages=_messages(), **{param: 3}
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "length", choice
    assert 0 < resp.usage.completion_tokens <= 3, resp.usage
    _assert_usage(resp.usage)


# ---------------------------------------------------------------------------
# streaming


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_stream_with_usage(openai_client, model):
    reference = openai_client.chat.completions.create(model=model, messages=_messages())

    stream = openai_client.chat.completions.create(
        model=model,
        messages=_messages(),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) >= 2, f"expected several chunks, got {len(chunks)}"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share an id"
    assert all(c.model.startswith(model) for c in chunks), [c.model for c in chunks]

    # With include_usage, the final chunk carries usage and no choices; every
    # earlier chunk has usage null.
    last = chunks[-1]
    assert last.choices == [], f"final usage chunk must have empty choices: {last}"
    _assert_usage(last.usage)
    assert all(c.usage is None for c in chunks[:-1]), "usage only on the final chunk"

    content_chunks = chunks[:-1]
    assert all(len(c.choices) == 1 and c.choices[0].index == 0 for c in content_chunks)
    roles = [c.choices[0].delta.role for c in content_chunks if c.choices[0].delta.role]
    assert roles and set(roles) == {"assistant"}, roles
    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    assert text.strip()
    finish = [c.choices[0].finish_reason for c in content_chunks if c.choices[0].finish_reason]
    assert finish == ["stop"], finish

    # Same deterministic answer and accounting as the non-streaming call.
    assert text == reference.choices[0].message.content
    assert last.usage.prompt_tokens == reference.usage.prompt_tokens
    assert last.usage.completion_tokens == reference.usage.completion_tokens


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_stream_without_usage_has_no_usage_chunk(openai_client, model):
    """Without stream_options.include_usage, OpenAI sends no usage chunk; code
    that reads chunk.choices[0] on every chunk depends on that."""
    chunks = list(
        openai_client.chat.completions.create(model=model, messages=_messages(), stream=True)
    )
    assert chunks
    for c in chunks:
        assert len(c.choices) == 1, f"chunk without a choice: {c}"
        assert c.usage is None, f"unexpected usage: {c.usage}"
    assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
    assert chunks[-1].choices[0].finish_reason == "stop"


# ---------------------------------------------------------------------------
# tools


def _assert_tool_calls(message):
    assert message.tool_calls, f"expected tool calls, got {message}"
    for call in message.tool_calls:
        assert call.type == "function"
        assert isinstance(call.id, str) and call.id
        assert call.function.name == TOOL_NAME
        args = json.loads(call.function.arguments)
        assert_matches_schema(args, TOOL_PARAMS)
    assert len({c.id for c in message.tool_calls}) == len(message.tool_calls), "tool call ids must be unique"


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_tool_call_required(openai_client, model):
    resp = openai_client.chat.completions.create(
        model=model,
        messages=_messages(WEATHER_QUESTION),
        tools=TOOLS,
        tool_choice="required",
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    assert not choice.message.content  # None or empty alongside tool calls
    _assert_tool_calls(choice.message)
    _assert_usage(resp.usage)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_tool_result_followup_gives_text(openai_client, model):
    messages = _messages(WEATHER_QUESTION)
    first = openai_client.chat.completions.create(
        model=model, messages=messages, tools=TOOLS, tool_choice="required"
    )
    assistant = first.choices[0].message
    _assert_tool_calls(assistant)

    # As in OpenAI's own examples: append the SDK's message object as-is, then
    # one tool message per call.
    messages.append(assistant)
    for call in assistant.tool_calls:
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call.id,
                "content": json.dumps({"forecast": "sunny", "high": 24, "unit": "celsius"}),
            }
        )
    second = openai_client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    choice = second.choices[0]
    assert choice.finish_reason == "stop", choice
    assert not choice.message.tool_calls
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    _assert_usage(second.usage)
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_tool_choice_auto(openai_client, model):
    named = openai_client.chat.completions.create(
        model=model,
        messages=_messages(f"Please use {TOOL_NAME} to check Oslo."),
        tools=TOOLS,
        tool_choice="auto",
    )
    assert named.choices[0].finish_reason == "tool_calls"
    _assert_tool_calls(named.choices[0].message)

    unnamed = openai_client.chat.completions.create(
        model=model, messages=_messages("Tell me a fun fact about owls."), tools=TOOLS
    )
    assert unnamed.choices[0].finish_reason == "stop"
    assert not unnamed.choices[0].message.tool_calls
    assert unnamed.choices[0].message.content.strip()


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_tool_call_streaming(openai_client, model):
    stream = openai_client.chat.completions.create(
        model=model,
        messages=_messages(WEATHER_QUESTION),
        tools=TOOLS,
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict] = {}
    finish = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.finish_reason:
                finish.append(choice.finish_reason)
            for d in choice.delta.tool_calls or []:
                acc = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                if d.id:
                    assert acc["id"] in (None, d.id), "tool call id changed mid-stream"
                    acc["id"] = d.id
                if d.function and d.function.name:
                    acc["name"] += d.function.name
                if d.function and d.function.arguments:
                    acc["arguments"] += d.function.arguments
    assert finish == ["tool_calls"], finish
    assert calls, "no tool call deltas in the stream"
    for acc in calls.values():
        assert acc["id"], acc
        assert acc["name"] == TOOL_NAME, acc
        assert_matches_schema(json.loads(acc["arguments"]), TOOL_PARAMS)
    _assert_usage(usage)


# ---------------------------------------------------------------------------
# embeddings

EMBED_INPUTS = ["The quick brown fox.", "Lighthouses guide ships at night."]


def _decode_b64_f32(s: str) -> list[float]:
    raw = base64.b64decode(s)
    assert len(raw) % 4 == 0, "base64 embedding is not a whole number of float32s"
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embeddings_default_base64(openai_client, model):
    """The SDK asks for encoding_format=base64 by default and decodes it."""
    raw = openai_client.embeddings.with_raw_response.create(model=model, input=EMBED_INPUTS)
    wire = raw.http_response.json()
    resp = raw.parse()

    assert resp.object == "list"
    assert resp.model.startswith(model), resp.model
    assert [d.index for d in resp.data] == [0, 1]
    assert all(d.object == "embedding" for d in resp.data)
    dims = len(resp.data[0].embedding)
    for d in resp.data:
        assert_vector(d.embedding, dims)
    assert resp.data[0].embedding != resp.data[1].embedding
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens

    # On the wire the vectors must really be base64 little-endian float32.
    for d_wire, d in zip(wire["data"], resp.data):
        assert isinstance(d_wire["embedding"], str), "encoding_format=base64 ignored"
        assert _decode_b64_f32(d_wire["embedding"]) == d.embedding


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embeddings_float_matches_base64(openai_client, model):
    f = openai_client.embeddings.create(model=model, input=EMBED_INPUTS, encoding_format="float")
    b = openai_client.embeddings.create(model=model, input=EMBED_INPUTS)
    assert len(f.data) == len(b.data) == 2
    for df, db in zip(f.data, b.data):
        assert isinstance(df.embedding, list)
        assert_vector(df.embedding, len(db.embedding))
        # base64 carries float32: equal up to float32 rounding.
        assert all(abs(x - y) <= 1e-6 * max(1.0, abs(x)) for x, y in zip(df.embedding, db.embedding))
    assert f.usage.prompt_tokens == b.usage.prompt_tokens


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embeddings_dimensions(openai_client, model):
    for fmt in ("float", "base64"):
        resp = openai_client.embeddings.create(
            model=model, input="dimension check", dimensions=256, encoding_format=fmt
        )
        vec = resp.data[0].embedding
        if fmt == "base64":
            assert isinstance(vec, str)
            vec = _decode_b64_f32(vec)
        assert_vector(vec, 256)


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embeddings_deterministic(openai_client, model):
    a = openai_client.embeddings.create(model=model, input="same text", encoding_format="float")
    b = openai_client.embeddings.create(model=model, input=["same text"], encoding_format="float")
    c = openai_client.embeddings.create(model=model, input="other text", encoding_format="float")
    assert a.data[0].embedding == b.data[0].embedding
    assert cosine(a.data[0].embedding, c.data[0].embedding) < 0.9999


# ---------------------------------------------------------------------------
# models


def test_models_list(openai_client):
    models = list(openai_client.models.list())
    ids = [m.id for m in models]
    assert OPENAI_CHAT in ids and "gpt-4o" in ids, ids
    assert len(ids) == len(set(ids)), "duplicate model ids"
    for m in models:
        assert m.object == "model"
        assert isinstance(m.owned_by, str) and m.owned_by
        assert isinstance(m.created, int)


def test_models_list_includes_gemini_models(openai_client):
    """Gemini models are usable through the OpenAI surface, so an OpenAI client
    listing models should see them."""
    ids = [m.id for m in openai_client.models.list()]
    assert GEMINI_CHAT in ids, ids


def test_models_retrieve(openai_client):
    m = openai_client.models.retrieve("gpt-4o")
    assert m.id == "gpt-4o"
    assert m.object == "model"
    assert m.owned_by


def test_models_retrieve_gemini_model_in_openai_shape(openai_client):
    m = openai_client.models.retrieve(GEMINI_CHAT)
    assert m.id == GEMINI_CHAT
    assert m.object == "model"


def test_models_retrieve_unknown(openai_client):
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("gpt-does-not-exist")


# ---------------------------------------------------------------------------
# errors, as the SDK's own exception classes


def _assert_openai_error_body(err: openai.APIStatusError) -> None:
    assert isinstance(err.body, dict), f"error body is not OpenAI-shaped JSON: {err.body!r}"
    assert isinstance(err.body.get("message"), str) and err.body["message"], err.body
    assert "type" in err.body, err.body
    envelope = err.response.json()
    assert set(envelope) == {"error"}, envelope


@pytest.mark.parametrize(
    "model",
    [
        pytest.param("gpt-does-not-exist", id="openai-family"),
        pytest.param("gemini-does-not-exist", id="gemini-family"),
        pytest.param("no-such-model-anywhere", id="no-route"),
    ],
)
def test_unknown_model_is_not_found(openai_client, model):
    with pytest.raises(openai.NotFoundError) as ei:
        openai_client.chat.completions.create(model=model, messages=_messages())
    assert ei.value.status_code == 404
    _assert_openai_error_body(ei.value)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_unknown_model_stream_is_not_found(openai_client, model):
    with pytest.raises(openai.NotFoundError):
        stream = openai_client.chat.completions.create(
            model=model + "-nope", messages=_messages(), stream=True
        )
        list(stream)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_wrong_client_key_is_authentication_error(gateway, model):
    client = make_openai(gateway.url, api_key=WRONG_KEY)
    with pytest.raises(openai.AuthenticationError) as ei:
        client.chat.completions.create(model=model, messages=_messages())
    assert ei.value.status_code == 401
    _assert_openai_error_body(ei.value)
    # The rejected key is not echoed back, and no provider key leaks either.
    text = ei.value.response.text
    assert WRONG_KEY not in text and MASTER_KEY not in text


def test_wrong_client_key_on_models_and_embeddings(gateway):
    client = make_openai(gateway.url, api_key=WRONG_KEY)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_bad_message_role_is_bad_request(openai_client, model):
    with pytest.raises(openai.BadRequestError) as ei:
        openai_client.chat.completions.create(
            model=model, messages=[{"role": "wizard", "content": "Hello"}]
        )
    assert ei.value.status_code == 400
    _assert_openai_error_body(ei.value)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_empty_messages_is_bad_request(openai_client, model):
    with pytest.raises(openai.BadRequestError) as ei:
        openai_client.chat.completions.create(model=model, messages=[])
    _assert_openai_error_body(ei.value)


# ---------------------------------------------------------------------------
# more of what applications commonly send

FILM_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "year": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "year", "tags"],
    "additionalProperties": False,
}

# A 1x1 transparent PNG.
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_structured_output_json_schema(openai_client, model):
    resp = openai_client.chat.completions.create(
        model=model,
        messages=_messages("Describe a film."),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "film", "schema": FILM_SCHEMA, "strict": True},
        },
    )
    assert resp.choices[0].finish_reason == "stop"
    assert_matches_schema(json.loads(resp.choices[0].message.content), FILM_SCHEMA)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_structured_output_parse_helper(openai_client, model):
    """The SDK's `parse()` helper: a pydantic model in, a parsed object out."""
    import pydantic

    class Film(pydantic.BaseModel):
        title: str
        year: int

    resp = openai_client.chat.completions.parse(
        model=model, messages=_messages("Describe a film."), response_format=Film
    )
    film = resp.choices[0].message.parsed
    assert isinstance(film, Film), resp.choices[0].message
    assert isinstance(film.year, int)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_json_object_mode(openai_client, model):
    resp = openai_client.chat.completions.create(
        model=model,
        messages=_messages("Describe a film as a JSON object."),
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(resp.choices[0].message.content), dict)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_image_input_data_url(openai_client, model):
    text_only = openai_client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}]}]
    )
    with_image = openai_client.chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                ],
            }
        ],
    )
    assert with_image.choices[0].message.content.strip()
    _assert_usage(with_image.usage)
    # The image reached the model and is billed as prompt tokens.
    assert with_image.usage.prompt_tokens > text_only.usage.prompt_tokens


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_named_tool_choice(openai_client, model):
    tools = TOOLS + [
        {
            "type": "function",
            "function": {
                "name": "count_items",
                "description": "Count things.",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                },
            },
        }
    ]
    resp = openai_client.chat.completions.create(
        model=model,
        messages=_messages("Go ahead."),
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "count_items"}},
    )
    calls = resp.choices[0].message.tool_calls
    assert calls and all(c.function.name == "count_items" for c in calls), calls
    assert_matches_schema(json.loads(calls[0].function.arguments), tools[1]["function"]["parameters"])


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_common_sampling_parameters_accepted(openai_client, model):
    resp = openai_client.chat.completions.create(
        model=model,
        messages=[
            {"role": "developer", "content": "Be concise."},
            {"role": "user", "content": "Say something."},
        ],
        temperature=0.2,
        top_p=0.9,
        presence_penalty=0.1,
        frequency_penalty=0.1,
        seed=7,
        stop=["\n\n\n"],
        user="conformance-user",
    )
    assert resp.choices[0].message.content.strip()
    _assert_usage(resp.usage)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_n_choices(openai_client, model):
    resp = openai_client.chat.completions.create(model=model, messages=_messages(), n=2)
    assert [c.index for c in resp.choices] == [0, 1]
    assert all(c.message.content.strip() for c in resp.choices)
    _assert_usage(resp.usage)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_async_client_stream(gateway, model):
    """AsyncOpenAI (as used from FastAPI and similar) streams the same way."""
    import asyncio

    async def run():
        client = openai.AsyncOpenAI(
            api_key=MASTER_KEY, base_url=f"{gateway.url}/v1", max_retries=0, timeout=30.0
        )
        try:
            stream = await client.chat.completions.create(
                model=model,
                messages=_messages(),
                stream=True,
                stream_options={"include_usage": True},
            )
            text, usage = "", None
            async for chunk in stream:
                if chunk.usage:
                    usage = chunk.usage
                for c in chunk.choices:
                    text += c.delta.content or ""
            embed = await client.embeddings.create(model="text-embedding-3-small", input="hi")
            return text, usage, embed
        finally:
            await client.close()

    text, usage, embed = asyncio.run(run())
    assert text.strip()
    _assert_usage(usage)
    assert_vector(embed.data[0].embedding)


def test_concurrent_streams_do_not_mix(openai_client):
    """Several streams at once, across both upstreams: each one carries exactly
    its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(model, f"Tell me about topic number {i}.") for i in range(6) for model in (OPENAI_CHAT, GEMINI_CHAT)]

    def non_stream(job):
        model, prompt = job
        return openai_client.chat.completions.create(model=model, messages=_messages(prompt)).choices[0].message.content

    def stream(job):
        model, prompt = job
        chunks = openai_client.chat.completions.create(model=model, messages=_messages(prompt), stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    with ThreadPoolExecutor(max_workers=6) as pool:
        expected = list(pool.map(non_stream, jobs))
        got = list(pool.map(stream, jobs))
    assert len(set(expected)) == len(jobs), "prompts should give distinct answers"
    assert got == expected


# ---------------------------------------------------------------------------
# prompt caching


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_repeated_long_prefix_reports_cached_tokens(openai_client, model):
    """A long system message sent again is partly read from the provider's
    prompt cache: `usage.prompt_tokens_details.cached_tokens` (translated from
    Gemini's `cachedContentTokenCount` for a Gemini model), 0 the first time,
    still counted in `prompt_tokens`, and the same in a streamed usage chunk."""
    document = f"Caching check for {model}. " + "Lighthouses guide ships along the coast at night. " * 250

    def messages(question):
        return [{"role": "system", "content": document}, {"role": "user", "content": question}]

    first = openai_client.chat.completions.create(model=model, messages=messages("First question?"))
    second = openai_client.chat.completions.create(model=model, messages=messages("Second question?"))
    assert first.usage.prompt_tokens_details.cached_tokens == 0, first.usage
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert 0 < cached < second.usage.prompt_tokens, second.usage
    _assert_usage(second.usage)

    chunks = list(
        openai_client.chat.completions.create(
            model=model,
            messages=messages("Third question?"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == cached, chunks[-1].usage
