"""OpenAI's Responses API through Airlock with the official `openai` SDK:
Airlock keeps the conversation (the provider is called with `store: false`),
so `previous_response_id` chains, `retrieve`, `input_items.list` and
`delete` work against Airlock's own state, streams parse as the SDK's typed
events, a tool call and its output span two turns, and another project's
key cannot see or continue a response.
"""

import json
import uuid

import openai
import pytest

from conftest import MASTER_KEY, make_openai
from helpers import http, project_key

MODEL = "gpt-4o-mini"


def _upstream_turns(mock_server) -> list[dict]:
    """The `/v1/responses` bodies the simulator received, oldest first."""
    received = http("GET", f"{mock_server.url}/mock/requests").json()["data"]
    return [r["body"] for r in received if r["path"] == "/v1/responses"]


def test_create_then_continue_sends_the_history_upstream_statelessly(gateway, mock_server):
    client = make_openai(gateway.url)
    first = client.responses.create(model=MODEL, input="My name is Ada.")
    assert first.id.startswith("resp_")
    assert first.status == "completed"
    assert first.output_text
    second = client.responses.create(
        model=MODEL, input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    upstream = _upstream_turns(mock_server)[-1]
    assert upstream["store"] is False
    assert "previous_response_id" not in upstream
    texts = [item.get("content") for item in upstream["input"]]
    assert texts[0] == "My name is Ada."
    assert upstream["input"][1]["content"][0]["text"] == first.output_text
    assert texts[2] == "What is my name?"


def test_streamed_turn_parses_as_typed_events_and_is_stored(gateway):
    client = make_openai(gateway.url)
    kinds = []
    deltas = []
    final = None
    with client.responses.create(model=MODEL, input="Tell me a story.", stream=True) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            if event.type == "response.completed":
                final = event.response
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert final is not None and "".join(deltas) == final.output_text
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text


def test_retrieve_list_input_items_and_delete(gateway):
    client = make_openai(gateway.url)
    created = client.responses.create(
        model=MODEL,
        input=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "Hello"},
        ],
    )
    assert client.responses.retrieve(created.id).id == created.id
    items = list(client.responses.input_items.list(created.id, order="asc", limit=1))
    assert [item.role for item in items] == ["developer", "user"]
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=MODEL, input="again", previous_response_id=created.id)
    assert refused.value.code == "previous_response_not_found"


def test_a_tool_call_and_its_output_span_two_turns(gateway, mock_server):
    client = make_openai(gateway.url)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    first = client.responses.create(
        model=MODEL, input="What is the weather in Paris?", tools=tools, tool_choice="required"
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    json.loads(calls[0].arguments)
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C, sunny"}],
    )
    assert second.status == "completed" and second.output_text
    upstream = _upstream_turns(mock_server)[-1]
    kinds = [item.get("type") for item in upstream["input"]]
    assert kinds[-2:] == ["function_call", "function_call_output"]


def test_another_projects_key_cannot_read_or_continue_a_response(gateway):
    owner = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "responses"))
    stranger = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "responses"))
    created = owner.responses.create(model=MODEL, input="Our secret plan.")
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as refused:
        stranger.responses.create(model=MODEL, input="Go on.", previous_response_id=created.id)
    assert refused.value.code == "previous_response_not_found"
    assert owner.responses.create(
        model=MODEL, input="Go on.", previous_response_id=created.id
    ).status == "completed"


def test_a_conversation_moves_from_a_gpt_model_to_a_gemini_model(gateway):
    client = make_openai(gateway.url)
    first = client.responses.create(model=MODEL, input="My name is Ada.")
    second = client.responses.create(
        model="gemini-2.5-flash", input="What is my name?", previous_response_id=first.id
    )
    assert second.status == "completed" and second.output_text
    assert second.previous_response_id == first.id
    third = client.responses.create(model=MODEL, input="Thanks.", previous_response_id=second.id)
    assert third.status == "completed"
    streamed = []
    with client.responses.create(
        model="gemini-2.5-flash", input="Once more.", previous_response_id=third.id, stream=True
    ) as stream:
        for event in stream:
            streamed.append(event.type)
            if event.type == "response.completed":
                final = event.response
    assert streamed[0] == "response.created" and streamed[-1] == "response.completed"
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_a_gemini_3_tool_call_keeps_its_thought_signature_across_turns(gateway):
    """Gemini 3 refuses a turn whose earlier function call lost its thought
    signature: the stored turn keeps it, so the second turn is accepted."""
    client = make_openai(gateway.url)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    first = client.responses.create(
        model="gemini-3-pro-preview",
        input="What is the weather in Paris?",
        tools=tools,
        tool_choice="required",
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    second = client.responses.create(
        model="gemini-3-pro-preview",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C"}],
    )
    assert second.status == "completed" and second.output_text


def test_a_60_turn_chain_under_a_50_item_policy_sends_exactly_the_allowed_history(
    gateway, mock_server
):
    project = f"bounded-{uuid.uuid4().hex[:8]}"
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    created = http(
        "POST",
        f"{gateway.url}/admin/v1/projects",
        headers=admin,
        body={"name": project, "conversations": {"max_items": 50}},
    )
    assert created.status == 201, created.body
    key = http("POST", f"{gateway.url}/admin/v1/projects/{project}/keys", headers=admin, body={})
    client = make_openai(gateway.url, key.json()["secret"])
    previous = None
    for turn in range(60):
        raw = client.responses.with_raw_response.create(
            model=MODEL, input=f"turn {turn}", previous_response_id=previous
        )
        previous = raw.parse().id
    # 59 turns before the 60th, two items each: 24 whole turns (48 items)
    # and the new input fit in 50; the 35 oldest were left out.
    assert raw.headers["x-airlock-history-truncated"] == "35"
    upstream = _upstream_turns(mock_server)[-1]
    assert len(upstream["input"]) == 49
    assert upstream["input"][0]["content"] == "turn 35"
    assert upstream["input"][-1]["content"] == "turn 59"
