"""Gemini 3 through Airlock: thought signatures survive multi-turn tool
conversations with both SDKs, exactly as an application keeps its history,
and a history whose signatures were stripped is refused in Google's shape.

* openai SDK (translated to Gemini): the application appends
  ``response.choices[0].message`` (or, when streaming, the message rebuilt
  from the deltas) to its messages; each tool call carries
  ``extra_content.google.thought_signature`` as Google's own
  OpenAI-compatible layer returns it, and the SDK sends it back unchanged.
* google-genai's chat helper on the Gemini passthrough keeps the model's
  parts (signatures included) in its history by itself.

The simulator refuses a Gemini 3 history whose function calls lack their
signatures (400 INVALID_ARGUMENT), so each conversation below only completes
if the signatures made the round trip.
"""

from __future__ import annotations

import json

import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types

from conftest import MASTER_KEY
from helpers import http

MODEL = "gemini-3-pro-preview"
MISSING = "Function call is missing a thought_signature in functionCall parts."

OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Local time in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]


def _named(name: str) -> dict:
    return {"type": "function", "function": {"name": name}}


def _signature(tool_call) -> str:
    extra = tool_call.model_extra or {}
    signature = extra.get("extra_content", {}).get("google", {}).get("thought_signature")
    assert isinstance(signature, str) and signature, f"no thought signature on {tool_call!r}"
    return signature


def _answer(messages: list, tool_call, result: dict) -> None:
    messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps(result)})


def test_openai_sdk_three_turn_tool_conversation_keeps_signatures(openai_client):
    messages: list = [
        {"role": "user", "content": "What is the weather in Paris, and what time is it there?"}
    ]
    for name, result in [("get_weather", {"temp_c": 18}), ("get_time", {"time": "14:05"})]:
        resp = openai_client.chat.completions.create(
            model=MODEL, messages=messages, tools=OPENAI_TOOLS, tool_choice=_named(name)
        )
        choice = resp.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        (call,) = choice.message.tool_calls
        assert call.function.name == name
        _signature(call)
        # What applications do: the SDK's own message object goes back as is.
        messages.append(choice.message)
        _answer(messages, call, result)
        details = resp.usage.completion_tokens_details
        assert details is not None and details.reasoning_tokens > 0, resp.usage
        assert resp.usage.completion_tokens >= details.reasoning_tokens
        assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    final = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=OPENAI_TOOLS, tool_choice="auto"
    )
    assert final.choices[0].finish_reason == "stop", final
    message = final.choices[0].message
    assert message.content
    assert not message.tool_calls
    # Gemini 3 signs a text answer too; Google's layer puts it on the message.
    assert message.model_extra["extra_content"]["google"]["thought_signature"]
    messages.append(message)
    messages.append({"role": "user", "content": "Thanks!"})
    after = openai_client.chat.completions.create(model=MODEL, messages=messages)
    assert after.choices[0].message.content


def test_openai_sdk_streamed_tool_conversation_keeps_signatures(openai_client):
    messages: list = [{"role": "user", "content": "Weather and time in Rome, please."}]
    for name in ["get_weather", "get_time"]:
        stream = openai_client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=OPENAI_TOOLS,
            tool_choice=_named(name),
            stream=True,
        )
        calls: dict[int, dict] = {}
        for chunk in stream:
            for choice in chunk.choices:
                for delta in choice.delta.tool_calls or []:
                    call = calls.setdefault(
                        delta.index, {"type": "function", "function": {"name": "", "arguments": ""}}
                    )
                    if delta.id:
                        call["id"] = delta.id
                    if delta.function and delta.function.name:
                        call["function"]["name"] += delta.function.name
                    if delta.function and delta.function.arguments:
                        call["function"]["arguments"] += delta.function.arguments
                    extra = (delta.model_extra or {}).get("extra_content")
                    if extra:
                        call["extra_content"] = extra
        (call,) = calls.values()
        assert call["function"]["name"] == name
        assert call["extra_content"]["google"]["thought_signature"], call
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": '{"ok": true}'})

    stream = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=OPENAI_TOOLS, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text


def test_openai_sdk_history_without_signatures_is_refused(openai_client):
    messages: list = [{"role": "user", "content": "Weather in Oslo?"}]
    resp = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=OPENAI_TOOLS, tool_choice=_named("get_weather")
    )
    (call,) = resp.choices[0].message.tool_calls
    # A client that rebuilds the assistant message and drops extra_content.
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        }
    )
    _answer(messages, call, {"temp_c": 3})
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(model=MODEL, messages=messages, tools=OPENAI_TOOLS)
    assert caught.value.status_code == 400
    assert MISSING in caught.value.message, caught.value.message


def test_openai_sdk_reasoning_effort_becomes_a_thinking_level(openai_client):
    low = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], reasoning_effort="low"
    )
    high = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], reasoning_effort="high"
    )
    low_r = low.usage.completion_tokens_details.reasoning_tokens
    high_r = high.usage.completion_tokens_details.reasoning_tokens
    assert 0 < low_r < high_r, (low.usage, high.usage)
    # Gemini 3 Pro offers LOW and HIGH only; Google refuses MEDIUM, and so
    # does the simulator, in the OpenAI SDK's error class.
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], reasoning_effort="medium"
        )
    assert "Thinking level MEDIUM is not supported" in caught.value.message


def _genai_tools() -> list:
    city = types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    )
    return [
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(name="get_weather", description="Weather.", parameters=city),
                types.FunctionDeclaration(name="get_time", description="Local time.", parameters=city),
            ]
        )
    ]


def _config(mode: str, only: str | None = None) -> types.GenerateContentConfig:
    calling = types.FunctionCallingConfig(
        mode=mode, allowed_function_names=[only] if only else None
    )
    return types.GenerateContentConfig(
        tools=_genai_tools(),
        tool_config=types.ToolConfig(function_calling_config=calling),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


@pytest.mark.parametrize("stream", [False, True], ids=["send_message", "send_message_stream"])
def test_genai_chat_three_turn_tool_conversation_keeps_signatures(genai_client_v1beta, stream):
    chat = genai_client_v1beta.chats.create(model=MODEL, config=_config("AUTO"))

    def send(message, config):
        if not stream:
            return chat.send_message(message, config=config)
        chunks = list(chat.send_message_stream(message, config=config))
        assert chunks
        return chunks

    def calls_of(answer):
        chunks = answer if stream else [answer]
        parts = [p for c in chunks for p in (c.candidates[0].content.parts or [])]
        return [p for p in parts if p.function_call]

    message = "What is the weather in Lisbon, and the time there?"
    for name, result in [("get_weather", {"temp_c": 21}), ("get_time", {"time": "09:30"})]:
        (part,) = calls_of(send(message, _config("ANY", name)))
        assert part.function_call.name == name
        assert part.thought_signature, "Gemini 3 signs its function calls"
        message = types.Part.from_function_response(name=name, response=result)

    final = send(message, _config("AUTO"))
    text = "".join(c.text or "" for c in final) if stream else final.text
    assert text
    history = chat.get_history()
    signed = [p for c in history for p in (c.parts or []) if p.function_call and p.thought_signature]
    assert len(signed) == 2, history


def test_gemini_passthrough_refuses_a_history_without_signatures(genai_client_v1beta, gateway):
    first = genai_client_v1beta.models.generate_content(
        model=MODEL, contents="Weather in Cairo?", config=_config("ANY", "get_weather")
    )
    model_turn = first.candidates[0].content
    assert model_turn.parts[0].thought_signature
    stripped = types.Content(
        role="model", parts=[types.Part(function_call=model_turn.parts[0].function_call)]
    )
    contents = [
        types.Content(role="user", parts=[types.Part(text="Weather in Cairo?")]),
        stripped,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"temp_c": 30})],
        ),
    ]
    with pytest.raises(genai_errors.ClientError) as caught:
        genai_client_v1beta.models.generate_content(
            model=MODEL, contents=contents, config=_config("AUTO")
        )
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert MISSING in caught.value.message

    # The same refusal on the wire, in Google's error shape.
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Cairo?"}]},
            {"role": "model", "parts": [{"function_call": {"name": "get_weather", "args": {"city": "Cairo"}}}]},
            {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"temp_c": 30}}}]},
        ]
    }
    r = http(
        "POST",
        f"{gateway.url}/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": MASTER_KEY},
        body=body,
    )
    assert r.status == 400
    error = r.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(MISSING)
    assert "function call `default_api:get_weather` , position 2." in error["message"]
    # With the signature back (snake_case, as proto3 JSON allows), it passes.
    body["contents"][1]["parts"][0]["thought_signature"] = "c2tpcA=="
    ok = http(
        "POST",
        f"{gateway.url}/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": MASTER_KEY},
        body=body,
    )
    assert ok.status == 200, ok.body


def test_genai_include_thoughts_shows_thoughts_and_counts_them(genai_client_v1beta):
    resp = genai_client_v1beta.models.generate_content(
        model=MODEL,
        contents="Why is the sky blue?",
        config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_level="LOW")
        ),
    )
    parts = resp.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text
    assert resp.text and not parts[-1].thought
    assert parts[-1].thought_signature, "Gemini 3 signs the last part of a text answer"
    u = resp.usage_metadata
    assert u.thoughts_token_count and u.thoughts_token_count > 0
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count + u.thoughts_token_count

    with pytest.raises(genai_errors.ClientError) as caught:
        genai_client_v1beta.models.generate_content(
            model="gemini-2.5-pro",
            contents="Hi",
            config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0)),
        )
    assert caught.value.code == 400
    assert caught.value.message == "Budget 0 is invalid. This model only works in thinking mode."
