"""The Batch APIs through Airlock with the official SDKs, unchanged but for
the base URL: openai's `files.create(purpose="batch")`, `batches.create`
through to a completed output file, `retrieve`, `list` and `cancel`, with
malformed lines reported per line while the rest run; google-genai's
`batches.create` with inline requests (on its default `v1` and on
`v1beta`), then `get` until it succeeds, `list`, `cancel` and `delete`.
Another project's batch does not exist for either SDK.
"""

import json
import time

import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types

from conftest import MASTER_KEY, make_genai, make_openai
from helpers import project_key

# Long enough for a few simulated requests on a loaded machine.
WAIT_S = 60


def chat_line(custom_id: str, text: str) -> str:
    return json.dumps({
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
    })


def openai_batch(client, lines: list[str]):
    data = ("\n".join(lines) + "\n").encode()
    input_file = client.files.create(file=("requests.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=input_file.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )


def until(read, done):
    deadline = time.monotonic() + WAIT_S
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still not done: {value}"
        time.sleep(0.1)


def test_an_openai_batch_runs_through_to_a_completed_output_file(gateway):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"))
    created = openai_batch(client, [chat_line(f"req-{n}", f"Chapter {n}.") for n in range(3)])
    assert created.id.startswith("batch_")
    assert (created.endpoint, created.completion_window, created.metadata) == (
        "/v1/chat/completions", "24h", {"job": "nightly"})
    done = until(lambda: client.batches.retrieve(created.id), lambda b: b.status == "completed")
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (3, 3, 0)
    assert done.error_file_id is None
    lines = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    assert [line["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    for line in lines:
        assert line["response"]["status_code"] == 200
        completion = openai.types.chat.ChatCompletion.model_validate(line["response"]["body"])
        assert completion.choices[0].message.content
    assert created.id in [batch.id for batch in client.batches.list()]
    # Cancelling a finished batch leaves it as it is.
    assert client.batches.cancel(created.id).status == "completed"


def test_malformed_lines_are_reported_by_line_and_the_rest_run(gateway):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"))
    created = openai_batch(client, [chat_line("good", "Hello."), "{not json", chat_line("good", "Again.")])
    assert [(e.line, e.code) for e in created.errors.data] == [
        (2, "invalid_json_line"), (3, "duplicate_custom_id")]
    done = until(lambda: client.batches.retrieve(created.id), lambda b: b.status == "completed")
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 2)
    errors = [json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()]
    assert [line["error"]["code"] for line in errors] == ["invalid_json_line", "duplicate_custom_id"]


def test_a_file_that_is_not_for_batches_is_refused(gateway):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"))
    other = client.files.create(file=("requests.jsonl", chat_line("a", "Hi.").encode()), purpose="user_data")
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert refused.value.body["param"] == "input_file_id"


def test_another_projects_batch_does_not_exist_for_either_sdk(gateway):
    owner = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"))
    other_key = project_key(gateway.url, MASTER_KEY, "batches")
    created = openai_batch(owner, [chat_line("a", "Hi.")])
    with pytest.raises(openai.NotFoundError):
        make_openai(gateway.url, other_key).batches.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        make_openai(gateway.url, other_key).batches.cancel(created.id)
    genai = make_genai(gateway.url, other_key, api_version="v1beta")
    with pytest.raises(genai_errors.ClientError) as missing:
        genai.batches.get(name="batches/" + created.id.removeprefix("batch_"))
    assert missing.value.code == 404


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
def test_a_gemini_batch_of_inline_requests_succeeds_with_each_answer(gateway, api_version):
    client = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"), api_version=api_version)
    job = client.batches.create(
        model="gemini-2.5-flash",
        src=[
            {"contents": [{"role": "user", "parts": [{"text": f"Scene {n}."}]}],
             "metadata": {"scene": str(n)},
             "config": {"temperature": 0}}
            for n in range(3)
        ],
        config={"display_name": "scenes"},
    )
    assert job.name.startswith("batches/")
    assert job.display_name == "scenes"
    assert job.state in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
    done = until(lambda: client.batches.get(name=job.name), lambda j: j.done)
    assert done.state == "JOB_STATE_SUCCEEDED"
    answers = done.dest.inlined_responses
    assert [answer.metadata for answer in answers] == [{"scene": str(n)} for n in range(3)]
    assert all(answer.response.text for answer in answers)
    assert job.name in [listed.name for listed in client.batches.list(config={"page_size": 50})]
    client.batches.delete(name=job.name)
    with pytest.raises(genai_errors.ClientError) as gone:
        client.batches.get(name=job.name)
    assert gone.value.code == 404


def test_a_gemini_batch_can_be_cancelled(gateway):
    client = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "batches"), api_version="v1beta")
    job = client.batches.create(
        model="gemini-2.5-flash",
        src=[types.InlinedRequest(contents=f"Line {n}.") for n in range(5)],
    )
    client.batches.cancel(name=job.name)
    ended = until(lambda: client.batches.get(name=job.name), lambda j: j.done)
    # Requests already running finish; a batch cancelled before they all ran
    # says so, one that outran the cancel succeeded.
    assert ended.state in ("JOB_STATE_CANCELLED", "JOB_STATE_SUCCEEDED")
    answers = ended.dest.inlined_responses
    assert len(answers) == 5
    if ended.state == "JOB_STATE_CANCELLED":
        assert any(answer.error is not None for answer in answers)
