"""Google's Interactions API through Airlock with the official google-genai
SDK (`client.interactions`): Airlock serves it on its own conversation
engine, so `previous_interaction_id` chains, streams, `get` and `delete`
work against Airlock's state (the provider is called statelessly), a
function call and its result span two turns, errors arrive as the SDK's
typed errors in the Interactions API's shape, another project's key cannot
see or continue an interaction, and a chain started on OpenAI's Responses
API with a GPT model continues here on Gemini (the ids are the same).
"""


import pytest
from google.genai._interactions import BadRequestError, NotFoundError

from conftest import MASTER_KEY, make_genai, make_openai
from helpers import http, project_key

MODEL = "gemini-2.5-flash"


def _upstream_gemini_turns(mock_server) -> list[dict]:
    """The Gemini `generateContent` bodies the simulator received, oldest first."""
    received = http("GET", f"{mock_server.url}/mock/requests").json()["data"]
    return [r["body"] for r in received if ":generateContent" in r["path"]]


def test_create_then_continue_sends_the_history_upstream(genai_client, mock_server):
    first = genai_client.interactions.create(
        model=MODEL, input="My name is Ada.", system_instruction="Be brief."
    )
    assert first.id.startswith("resp_")
    assert first.status == "completed"
    assert first.output_text
    assert first.usage.total_tokens > 0
    second = genai_client.interactions.create(
        model=MODEL, input="What is my name?", previous_interaction_id=first.id
    )
    assert second.status == "completed" and second.output_text
    assert second.previous_interaction_id == first.id
    contents = _upstream_gemini_turns(mock_server)[-1]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][0]["text"] == "My name is Ada."
    assert contents[1]["parts"][0]["text"] == first.output_text
    assert contents[2]["parts"][0]["text"] == "What is my name?"


def test_a_streamed_interaction_parses_as_typed_events_and_is_stored(genai_client):
    kinds = []
    text = []
    completed = None
    for event in genai_client.interactions.create(
        model=MODEL, input="Tell me a story.", stream=True
    ):
        kinds.append(event.event_type)
        if event.event_type == "step.delta" and event.delta.type == "text":
            text.append(event.delta.text)
        if event.event_type == "interaction.completed":
            completed = event.interaction
    assert kinds[0] == "interaction.created"
    assert "step.start" in kinds and "step.stop" in kinds
    assert kinds[-1] == "interaction.completed"
    assert completed is not None and completed.status == "completed"
    assert completed.usage.total_output_tokens > 0
    stored = genai_client.interactions.get(completed.id)
    assert stored.output_text == "".join(text)


def test_get_and_delete(genai_client):
    created = genai_client.interactions.create(model=MODEL, input="Hello")
    got = genai_client.interactions.get(created.id)
    assert got.id == created.id
    assert got.output_text == created.output_text
    assert got.steps[0].type == "user_input"
    assert got.steps[0].content[0].text == "Hello"
    genai_client.interactions.delete(created.id)
    with pytest.raises(NotFoundError) as gone:
        genai_client.interactions.get(created.id)
    assert gone.value.body["error"]["code"] == "not_found"
    with pytest.raises(NotFoundError):
        genai_client.interactions.create(
            model=MODEL, input="again", previous_interaction_id=created.id
        )


def test_a_function_call_and_its_result_span_two_turns(genai_client, mock_server):
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
    first = genai_client.interactions.create(
        model=MODEL,
        input="What is the weather in Paris?",
        tools=tools,
        generation_config={"tool_choice": "any"},
    )
    assert first.status == "requires_action"
    calls = [step for step in first.steps if step.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert isinstance(calls[0].arguments["city"], str)
    second = genai_client.interactions.create(
        model=MODEL,
        previous_interaction_id=first.id,
        tools=tools,
        input=[
            {
                "type": "function_result",
                "call_id": calls[0].id,
                "name": "get_weather",
                "result": "18 C, sunny",
            }
        ],
    )
    assert second.status == "completed" and second.output_text
    contents = _upstream_gemini_turns(mock_server)[-1]["contents"]
    assert any("functionCall" in part for part in contents[-2]["parts"])
    assert contents[-1]["parts"][0]["functionResponse"]["name"] == "get_weather"


def test_refusals_are_the_sdks_typed_errors(genai_client):
    with pytest.raises(NotFoundError) as missing:
        genai_client.interactions.create(
            model=MODEL, input="hi", previous_interaction_id="resp_" + "0" * 32
        )
    assert missing.value.body["error"]["code"] == "not_found"
    with pytest.raises(BadRequestError) as agent:
        genai_client.interactions.create(
            agent="deep-research-pro-preview-12-2025", input="Research the tides."
        )
    assert "Agent interactions" in agent.value.body["error"]["message"]
    with pytest.raises(BadRequestError) as unknown:
        genai_client.interactions.create(
            model=MODEL, input="hi", extra_body={"frobnicate": True}
        )
    assert unknown.value.body["error"]["code"] == "parameter_unknown"


def test_another_projects_key_cannot_read_or_continue_an_interaction(gateway):
    owner = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "interactions"))
    stranger = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "interactions"))
    created = owner.interactions.create(model=MODEL, input="Our secret plan.")
    with pytest.raises(NotFoundError) as refused:
        stranger.interactions.get(created.id)
    assert "secret plan" not in str(refused.value.body)
    with pytest.raises(NotFoundError):
        stranger.interactions.create(model=MODEL, input="Go on.", previous_interaction_id=created.id)
    assert owner.interactions.create(
        model=MODEL, input="Go on.", previous_interaction_id=created.id
    ).status == "completed"


def test_a_chain_started_on_gpt_through_responses_continues_on_gemini(gateway, genai_client):
    openai_client = make_openai(gateway.url)
    first = openai_client.responses.create(model="gpt-4o-mini", input="My name is Ada.")
    second = genai_client.interactions.create(
        model=MODEL, input="What is my name?", previous_interaction_id=first.id
    )
    assert second.status == "completed" and second.output_text
    assert second.previous_interaction_id == first.id
    # And back: the interaction is a response the Responses API continues.
    third = openai_client.responses.create(
        model="gpt-4o-mini", input="Thanks.", previous_response_id=second.id
    )
    assert third.status == "completed"
