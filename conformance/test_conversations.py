"""OpenAI's Conversations API through Airlock with the official `openai`
SDK: a conversation made with items and metadata, read, updated and
deleted; its items added, listed (paged by the SDK's cursor pager), read
and deleted; responses that name it send its items upstream and add their
own, on a GPT model and then a Gemini model; another project's key is told
it does not exist.
"""


import openai
import pytest

from conftest import MASTER_KEY, make_openai
from helpers import http, project_key


def _upstream_turns(mock_server, path: str) -> list[dict]:
    received = http("GET", f"{mock_server.url}/mock/requests").json()["data"]
    return [r["body"] for r in received if r["path"].startswith(path)]


def test_a_conversation_is_made_read_updated_and_deleted(gateway):
    client = make_openai(gateway.url)
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Hello"}],
        metadata={"topic": "demo"},
    )
    assert conversation.id.startswith("conv_")
    assert conversation.object == "conversation"
    assert conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).id == conversation.id
    updated = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"}
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.BadRequestError):
        client.conversations.create(metadata={f"k{i}": "v" for i in range(17)})


def test_items_are_added_listed_in_pages_read_and_deleted(gateway):
    client = make_openai(gateway.url)
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": f"item {i}"} for i in range(5)],
    )
    ids = [item.id for item in added.data]
    assert len(ids) == 5 and all(item.type == "message" for item in added.data)
    # The SDK's cursor pager walks every page, newest first by default.
    listed = [item.id for item in client.conversations.items.list(conversation.id, limit=2)]
    assert listed == list(reversed(ids))
    oldest_first = client.conversations.items.list(conversation.id, order="asc", limit=100)
    assert [item.id for item in oldest_first.data] == ids
    item = client.conversations.items.retrieve(ids[0], conversation_id=conversation.id)
    assert item.content[0].text == "item 0"
    after_delete = client.conversations.items.delete(ids[0], conversation_id=conversation.id)
    assert after_delete.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(ids[0], conversation_id=conversation.id)


def test_responses_in_a_conversation_send_its_items_and_add_their_own(gateway, mock_server):
    client = make_openai(gateway.url)
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "My name is Ada."}]
    )
    first = client.responses.create(
        model="gpt-4o-mini", conversation=conversation.id, input="What is my name?"
    )
    assert first.conversation.id == conversation.id
    upstream = _upstream_turns(mock_server, "/v1/responses")[-1]
    assert [item["content"] for item in upstream["input"]] == ["My name is Ada.", "What is my name?"]
    assert upstream["store"] is False and "conversation" not in upstream
    # The same conversation goes on with a Gemini model: Airlock holds it.
    second = client.responses.create(
        model="gemini-2.5-flash", conversation=conversation.id, input="Say it again."
    )
    assert second.output_text
    gemini = _upstream_turns(mock_server, "/v1beta/models/gemini-2.5-flash")[-1]
    said = [part.get("text") for content in gemini["contents"] for part in content["parts"]]
    assert said[0] == "My name is Ada." and first.output_text in said
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert len(items) == 5  # the first item, then two turns of input and output
    assert items[2].id == first.output[0].id


def test_another_projects_key_is_told_a_conversation_does_not_exist(gateway):
    owner = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "conversations"))
    stranger = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "conversations"))
    conversation = owner.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Our secret plan."}]
    )
    with pytest.raises(openai.NotFoundError):
        stranger.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        stranger.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(model="gpt-4o-mini", conversation=conversation.id, input="Go on.")
    assert owner.conversations.retrieve(conversation.id).id == conversation.id
