"""The official `google-genai` Python SDK pointed at Airlock's Gemini surface.

google-genai 3.x calls API version v1 by default; most tests run against both
v1 and v1beta (the `genai_any` fixture), since applications use both.
"""

from __future__ import annotations

import pytest
from google.genai import errors, types

from conftest import MASTER_KEY, WRONG_KEY, make_genai
from helpers import assert_matches_schema, assert_vector

CHAT_MODEL = "gemini-2.5-flash"
EMBED_MODELS = ["gemini-embedding-001", "text-embedding-004"]
PROMPT = "Write two short sentences about lighthouses."

TOOL_NAME = "lookup_forecast"  # never named in the prompts below
TOOL_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "city": {"type": "STRING", "description": "City name, e.g. Paris"},
        "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "INTEGER", "description": "Days ahead, 1-7"},
    },
    "required": ["city", "unit"],
}
WEATHER_QUESTION = "What will the weather be like in Paris tomorrow?"


def _tool_config(mode: str) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        tools=[
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=TOOL_NAME,
                        description="Get the weather forecast for a city.",
                        parameters=TOOL_SCHEMA,
                    )
                ]
            )
        ],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=mode)),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


def _assert_usage(u: types.GenerateContentResponseUsageMetadata) -> None:
    assert u is not None, "response has no usage_metadata"
    assert u.prompt_token_count and u.prompt_token_count > 0, u
    parts = (
        (u.prompt_token_count or 0)
        + (u.candidates_token_count or 0)
        + (u.thoughts_token_count or 0)
        + (u.tool_use_prompt_token_count or 0)
    )
    assert u.total_token_count == parts, f"total != prompt+candidates+thoughts+tool_use: {u}"


def _assert_text_response(resp: types.GenerateContentResponse) -> str:
    assert resp.candidates, f"no candidates: {resp}"
    cand = resp.candidates[0]
    assert cand.finish_reason == types.FinishReason.STOP, cand.finish_reason
    assert cand.content.role == "model"
    text = resp.text
    assert isinstance(text, str) and text.strip()
    assert (resp.usage_metadata.candidates_token_count or 0) > 0
    _assert_usage(resp.usage_metadata)
    return text


# ---------------------------------------------------------------------------
# generate


def test_generate_content(genai_any):
    resp = genai_any.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    _assert_text_response(resp)
    assert resp.model_version and resp.model_version.startswith(CHAT_MODEL), resp.model_version
    assert not resp.function_calls


def test_generate_content_v1alpha(gateway):
    client = make_genai(gateway.url, api_version="v1alpha")
    _assert_text_response(client.models.generate_content(model=CHAT_MODEL, contents=PROMPT))


def test_generate_content_model_resource_name(genai_client):
    """`models/NAME` is accepted as well as the bare name."""
    a = genai_client.models.generate_content(model=f"models/{CHAT_MODEL}", contents=PROMPT)
    b = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    assert a.text == b.text


def test_generate_content_multi_turn(genai_client):
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Say hello.")]),
        types.Content(role="model", parts=[types.Part.from_text(text="Hello!")]),
        types.Content(role="user", parts=[types.Part.from_text(text="Now say goodbye.")]),
    ]
    one = genai_client.models.generate_content(model=CHAT_MODEL, contents="Say hello.")
    many = genai_client.models.generate_content(model=CHAT_MODEL, contents=contents)
    _assert_text_response(many)
    assert many.usage_metadata.prompt_token_count > one.usage_metadata.prompt_token_count


def test_generate_content_stream(genai_any):
    reference = genai_any.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    chunks = list(genai_any.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT))
    assert len(chunks) >= 2, f"a multi-sentence answer should arrive in several chunks, got {len(chunks)}"
    text = "".join(
        p.text for c in chunks for cand in (c.candidates or [])[:1]
        for p in ((cand.content and cand.content.parts) or []) if p.text and not p.thought
    )
    assert text.strip()
    assert text == reference.text, "streamed text differs from the non-streamed answer"

    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    finishes = [c.candidates[0].finish_reason for c in chunks[:-1] if c.candidates and c.candidates[0].finish_reason]
    assert not finishes, f"finish_reason before the last chunk: {finishes}"
    _assert_usage(last.usage_metadata)
    assert last.usage_metadata.prompt_token_count == reference.usage_metadata.prompt_token_count
    assert last.usage_metadata.candidates_token_count == reference.usage_metadata.candidates_token_count


def test_system_instruction_and_generation_config_snake_case(genai_client):
    plain = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL,
        contents=PROMPT,
        config={
            "system_instruction": "You are a terse assistant who answers in plain English.",
            "temperature": 0.2,
            "top_p": 0.9,
            "max_output_tokens": 512,
            "candidate_count": 1,
        },
    )
    _assert_text_response(resp)
    # The system instruction is part of the prompt.
    assert resp.usage_metadata.prompt_token_count > plain.usage_metadata.prompt_token_count


def test_system_instruction_and_generation_config_camel_case(genai_client_v1beta):
    plain = genai_client_v1beta.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    resp = genai_client_v1beta.models.generate_content(
        model=CHAT_MODEL,
        contents=PROMPT,
        config={
            "systemInstruction": "You are a terse assistant who answers in plain English.",
            "temperature": 0.2,
            "topP": 0.9,
            "maxOutputTokens": 512,
            "candidateCount": 1,
        },
    )
    _assert_text_response(resp)
    assert resp.usage_metadata.prompt_token_count > plain.usage_metadata.prompt_token_count


def test_max_output_tokens_gives_max_tokens(genai_client):
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=PROMPT, config={"max_output_tokens": 3}
    )
    assert resp.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    u = resp.usage_metadata
    # Gemini counts thinking against maxOutputTokens too.
    assert (u.candidates_token_count or 0) + (u.thoughts_token_count or 0) <= 3, u
    _assert_usage(u)


# ---------------------------------------------------------------------------
# count tokens


def test_count_tokens(genai_any):
    short = genai_any.models.count_tokens(model=CHAT_MODEL, contents="Hello")
    long = genai_any.models.count_tokens(model=CHAT_MODEL, contents=PROMPT + " " + PROMPT)
    assert short.total_tokens and short.total_tokens > 0
    assert long.total_tokens > short.total_tokens


def test_count_tokens_matches_generate_usage(genai_client):
    counted = genai_client.models.count_tokens(model=CHAT_MODEL, contents=PROMPT)
    generated = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
    assert counted.total_tokens == generated.usage_metadata.prompt_token_count


# ---------------------------------------------------------------------------
# embeddings


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embed_content_single(genai_any, model):
    resp = genai_any.models.embed_content(model=model, contents="The quick brown fox.")
    assert resp.embeddings and len(resp.embeddings) == 1
    assert_vector(resp.embeddings[0].values)


@pytest.mark.parametrize("model", EMBED_MODELS)
def test_embed_content_multiple(genai_any, model):
    texts = ["The quick brown fox.", "Lighthouses guide ships.", "The quick brown fox."]
    resp = genai_any.models.embed_content(model=model, contents=texts)
    assert len(resp.embeddings) == 3
    vecs = [e.values for e in resp.embeddings]
    dims = len(vecs[0])
    for v in vecs:
        assert_vector(v, dims)
    assert vecs[0] == vecs[2], "same text must embed identically"
    assert vecs[0] != vecs[1], "different texts must embed differently"
    single = genai_any.models.embed_content(model=model, contents=texts[1])
    assert single.embeddings[0].values == vecs[1], "batch order must follow the inputs"


def test_embed_content_output_dimensionality(genai_client):
    resp = genai_client.models.embed_content(
        model="gemini-embedding-001",
        contents=["alpha", "beta"],
        config=types.EmbedContentConfig(output_dimensionality=8),
    )
    assert len(resp.embeddings) == 2
    for e in resp.embeddings:
        assert_vector(e.values, 8)


# ---------------------------------------------------------------------------
# models


def test_models_list(genai_any):
    models = list(genai_any.models.list())
    by_name = {m.name: m for m in models}
    assert len(by_name) == len(models), "duplicate model names"
    assert all(m.name.startswith("models/") for m in models), [m.name for m in models]
    assert f"models/{CHAT_MODEL}" in by_name, sorted(by_name)
    assert "models/gemini-embedding-001" in by_name, sorted(by_name)
    chat = by_name[f"models/{CHAT_MODEL}"]
    assert "generateContent" in (chat.supported_actions or []), chat.supported_actions
    embed = by_name["models/gemini-embedding-001"]
    assert {"embedContent", "batchEmbedContents"} & set(embed.supported_actions or []), embed.supported_actions


@pytest.mark.parametrize("name", [CHAT_MODEL, f"models/{CHAT_MODEL}"])
def test_models_get(genai_any, name):
    m = genai_any.models.get(model=name)
    assert m.name == f"models/{CHAT_MODEL}"
    assert m.display_name
    assert m.input_token_limit and m.input_token_limit > 0
    assert m.output_token_limit and m.output_token_limit > 0
    assert "generateContent" in (m.supported_actions or [])
    assert "countTokens" in (m.supported_actions or [])


# ---------------------------------------------------------------------------
# function calling


def _assert_function_calls(resp: types.GenerateContentResponse) -> list[types.FunctionCall]:
    calls = resp.function_calls
    assert calls, f"expected function_call parts, got {resp.candidates}"
    for call in calls:
        assert call.name == TOOL_NAME
        assert isinstance(call.args, dict)
        assert_matches_schema(call.args, TOOL_SCHEMA)
    parts = resp.candidates[0].content.parts
    assert any(p.function_call for p in parts)
    assert resp.candidates[0].content.role == "model"
    _assert_usage(resp.usage_metadata)
    return calls


def test_function_calling_mode_any(genai_any):
    resp = genai_any.models.generate_content(
        model=CHAT_MODEL, contents=WEATHER_QUESTION, config=_tool_config("ANY")
    )
    _assert_function_calls(resp)
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP


def test_function_response_followup_gives_text(genai_client):
    question = types.Content(role="user", parts=[types.Part.from_text(text=WEATHER_QUESTION)])
    first = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=[question], config=_tool_config("ANY")
    )
    calls = _assert_function_calls(first)
    answer = types.Content(
        role="user",
        parts=[
            types.Part.from_function_response(
                name=c.name, response={"forecast": "sunny", "high": 24, "unit": "celsius"}
            )
            for c in calls
        ],
    )
    second = genai_client.models.generate_content(
        model=CHAT_MODEL,
        contents=[question, first.candidates[0].content, answer],
        config=_tool_config("AUTO"),
    )
    _assert_text_response(second)
    assert not second.function_calls


def test_function_calling_mode_auto(genai_client):
    named = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=f"Please use {TOOL_NAME} to check Oslo.", config=_tool_config("AUTO")
    )
    _assert_function_calls(named)
    unnamed = genai_client.models.generate_content(
        model=CHAT_MODEL, contents="Tell me a fun fact about owls.", config=_tool_config("AUTO")
    )
    assert not unnamed.function_calls
    _assert_text_response(unnamed)


# ---------------------------------------------------------------------------
# errors, as the SDK's own exception classes


def _assert_google_error(err: errors.APIError, code: int, status: str) -> None:
    assert err.code == code, f"expected HTTP {code}, got {err.code}: {err.details}"
    assert err.status == status, f"expected status {status}, got {err.status}: {err.details}"
    assert isinstance(err.message, str) and err.message, err.details


def test_unknown_model_generate_is_not_found(genai_any):
    with pytest.raises(errors.ClientError) as ei:
        genai_any.models.generate_content(model="gemini-does-not-exist", contents=PROMPT)
    _assert_google_error(ei.value, 404, "NOT_FOUND")


def test_unknown_model_stream_is_not_found(genai_client):
    with pytest.raises(errors.ClientError) as ei:
        list(genai_client.models.generate_content_stream(model="gemini-does-not-exist", contents=PROMPT))
    _assert_google_error(ei.value, 404, "NOT_FOUND")


def test_unknown_model_get_is_not_found(genai_client):
    with pytest.raises(errors.ClientError) as ei:
        genai_client.models.get(model="gemini-does-not-exist")
    _assert_google_error(ei.value, 404, "NOT_FOUND")


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
def test_wrong_client_key(gateway, api_version):
    # Assumption, stated per the brief: a wrong *Airlock* key is an
    # authentication failure, and the gateway documents 401 UNAUTHENTICATED
    # for it on every surface (crates/airlock-gateway/src/error.rs maps
    # MissingKey/InvalidKey to 401 and 401 to Google's UNAUTHENTICATED).
    # Google itself answers a missing key with 403 PERMISSION_DENIED and an
    # unknown key with 400 INVALID_ARGUMENT (API_KEY_INVALID); the SDK raises
    # ClientError for all of them. We pin 401 so a change is noticed; if the
    # gateway ever switches to Google's 403 PERMISSION_DENIED on purpose, this
    # is the line to change (400 would be indistinguishable from a malformed
    # request and should not be accepted).
    client = make_genai(gateway.url, api_key=WRONG_KEY, api_version=api_version)
    for call in (
        lambda: client.models.generate_content(model=CHAT_MODEL, contents=PROMPT),
        lambda: list(client.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT)),
        lambda: client.models.count_tokens(model=CHAT_MODEL, contents=PROMPT),
        lambda: client.models.embed_content(model="gemini-embedding-001", contents="x"),
        lambda: list(client.models.list()),
        lambda: client.models.get(model=CHAT_MODEL),
    ):
        with pytest.raises(errors.ClientError) as ei:
            call()
        _assert_google_error(ei.value, 401, "UNAUTHENTICATED")
        assert WRONG_KEY not in str(ei.value.details) and MASTER_KEY not in str(ei.value.details)


def test_invalid_role_is_bad_request(genai_client):
    with pytest.raises(errors.ClientError) as ei:
        genai_client.models.generate_content(
            model=CHAT_MODEL,
            contents=[types.Content(role="wizard", parts=[types.Part.from_text(text="Hello")])],
        )
    _assert_google_error(ei.value, 400, "INVALID_ARGUMENT")


# ---------------------------------------------------------------------------
# more of what applications commonly send


def test_structured_output_response_schema(genai_any):
    import pydantic

    class Film(pydantic.BaseModel):
        title: str
        year: int

    resp = genai_any.models.generate_content(
        model=CHAT_MODEL,
        contents="Describe a film.",
        config={"response_mime_type": "application/json", "response_schema": Film},
    )
    assert isinstance(resp.parsed, Film), resp.text


def test_function_calling_allowed_function_names(genai_client):
    config = _tool_config("ANY")
    config.tools[0].function_declarations.append(
        types.FunctionDeclaration(
            name="count_items",
            description="Count things.",
            parameters={"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]},
        )
    )
    config.tool_config.function_calling_config.allowed_function_names = ["count_items"]
    resp = genai_client.models.generate_content(model=CHAT_MODEL, contents="Go ahead.", config=config)
    calls = resp.function_calls
    assert calls and all(c.name == "count_items" for c in calls), calls
    assert isinstance(calls[0].args.get("n"), int)


def test_inline_image_part(genai_client):
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    text_only = genai_client.models.generate_content(model=CHAT_MODEL, contents="What is this?")
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL,
        contents=[types.Part.from_bytes(data=png, mime_type="image/png"), "What is this?"],
    )
    _assert_text_response(resp)
    assert resp.usage_metadata.prompt_token_count > text_only.usage_metadata.prompt_token_count


def test_chat_session_helper(genai_client):
    """`client.chats` keeps the history client-side and resends it."""
    chat = genai_client.chats.create(model=CHAT_MODEL)
    first = chat.send_message("Say hello.")
    second = chat.send_message("Now say goodbye.")
    assert first.text.strip() and second.text.strip()
    assert second.usage_metadata.prompt_token_count > first.usage_metadata.prompt_token_count
    assert len(chat.get_history()) == 4


def test_async_client(gateway):
    """`client.aio` (asyncio) generates, streams and embeds the same way."""
    import asyncio

    client = make_genai(gateway.url, api_version="v1beta")

    async def run():
        try:
            resp = await client.aio.models.generate_content(model=CHAT_MODEL, contents=PROMPT)
            chunks = [c async for c in await client.aio.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT)]
            emb = await client.aio.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
            return resp, chunks, emb
        finally:
            await client.aio.aclose()

    resp, chunks, emb = asyncio.run(run())
    text = _assert_text_response(resp)
    assert "".join(c.text or "" for c in chunks) == text
    assert len(emb.embeddings) == 2


# ---------------------------------------------------------------------------
# implicit caching


def test_repeated_long_prefix_reports_cached_tokens(genai_client):
    """A long system instruction sent again is partly read from Gemini's
    implicit cache: `cached_content_token_count` (absent the first time), with
    `cache_tokens_details` by modality, and still in `prompt_token_count`."""
    document = "Caching check. " + "Lighthouses guide ships along the coast at night. " * 250
    config = types.GenerateContentConfig(system_instruction=document)
    first = genai_client.models.generate_content(model=CHAT_MODEL, contents="First question?", config=config)
    second = genai_client.models.generate_content(model=CHAT_MODEL, contents="Second question?", config=config)
    assert not first.usage_metadata.cached_content_token_count, first.usage_metadata
    u = second.usage_metadata
    assert 0 < u.cached_content_token_count < u.prompt_token_count, u
    assert [(d.modality, d.token_count) for d in u.cache_tokens_details] == [
        (types.MediaModality.TEXT, u.cached_content_token_count)
    ]
    _assert_usage(u)
