"""The response cache through the official SDKs, unchanged but for the base
URL and the `x-airlock-cache: use` header: a repeated request is a hit whose
answer the SDK parses exactly as it parsed the miss's (chat, streamed chat
with its usage chunk, google-genai `generate_content` and its stream,
embeddings, images), with one call reaching the simulator. A chat left at
its default temperature samples at random and is bypassed. Identical
requests in flight at once share one upstream call.

Each test puts a fresh marker in its prompt, and counts the simulator's
calls by the requests it received (`GET /mock/requests`) that carry it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.genai import types

from conftest import _AIRLOCK_BIN as AIRLOCK_BIN
from conftest import MASTER_KEY
from helpers import http

CHAT_MODEL = "gpt-4o-mini"
GEMINI_MODEL = "gemini-2.5-flash"
EMBED_MODEL = "text-embedding-3-small"
IMAGE_MODEL = "gpt-image-1"
USE_CACHE = {"x-airlock-cache": "use"}
CACHE_STATUS = "x-airlock-cache"
# The google-genai field holding the HTTP answer (its headers): not part of
# the answer, and its cache header differs between a miss and a hit.
GENAI_HTTP_RESPONSE = "sdk_http_response"
CONCURRENT_REQUESTS = 20
# How long the simulator holds the one upstream call of the concurrent test,
# so that every request is in flight before it answers.
SLOW_UPSTREAM_MS = 500


def marked(text: str) -> str:
    """The text with a marker no other request carries."""
    return f"{text} [{uuid.uuid4().hex}]"


def upstream_calls(mock_server, marker: str) -> int:
    """How many requests the simulator received that carry `marker`."""
    received = http("GET", f"{mock_server.url}/mock/requests").json()["data"]
    return sum(1 for request in received if marker in json.dumps(request["body"]))


def genai_answer(response: types.GenerateContentResponse) -> dict:
    """A google-genai answer without its HTTP envelope."""
    return response.model_dump(exclude={GENAI_HTTP_RESPONSE})


def genai_cache_status(response: types.GenerateContentResponse) -> str | None:
    headers = {name.lower(): value for name, value in response.sdk_http_response.headers.items()}
    return headers.get(CACHE_STATUS)


@pytest.fixture
def slow_openai_upstream(mock_server):
    """The simulator's next OpenAI answer waits before its headers; the rule
    is forgotten after the test."""
    url = f"{mock_server.url}/mock/faults"
    rule = {"provider": "openai", "fault": f"slow-headers-ms={SLOW_UPSTREAM_MS}", "times": 1}
    added = http("POST", url, body=rule)
    assert added.status == 201, added.body
    yield
    http("DELETE", url)


def test_a_repeated_chat_completion_is_a_hit_identical_to_the_miss_with_one_upstream_call(
    openai_client, mock_server
):
    prompt = marked("Tell me a story about a lighthouse.")

    def ask():
        return openai_client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            extra_headers=USE_CACHE,
        )

    miss, hit = ask(), ask()
    assert (miss.headers[CACHE_STATUS], hit.headers[CACHE_STATUS]) == ("miss", "hit")
    first, second = miss.parse(), hit.parse()
    assert first.choices[0].message.content
    assert second.model_dump() == first.model_dump()
    assert upstream_calls(mock_server, prompt) == 1


def test_a_repeated_stream_replays_the_misses_chunks_usage_included_with_one_upstream_call(
    openai_client, mock_server
):
    prompt = marked("Stream me a haiku about the sea.")

    def ask():
        raw = openai_client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=USE_CACHE,
        )
        return raw.headers[CACHE_STATUS], [chunk.model_dump() for chunk in raw.parse()]

    (said_first, missed), (said_again, replayed) = ask(), ask()
    assert (said_first, said_again) == ("miss", "hit")
    assert len(missed) > 2, missed
    usage_chunk = missed[-1]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    assert replayed == missed
    assert upstream_calls(mock_server, prompt) == 1


def test_a_repeated_generate_content_is_a_hit_identical_to_the_miss_with_one_upstream_call(
    genai_client, mock_server
):
    prompt = marked("Describe a forest at dawn.")
    config = types.GenerateContentConfig(
        temperature=0, http_options=types.HttpOptions(headers=USE_CACHE)
    )
    miss = genai_client.models.generate_content(model=GEMINI_MODEL, contents=prompt, config=config)
    hit = genai_client.models.generate_content(model=GEMINI_MODEL, contents=prompt, config=config)
    assert (genai_cache_status(miss), genai_cache_status(hit)) == ("miss", "hit")
    assert miss.text
    assert genai_answer(hit) == genai_answer(miss)
    assert upstream_calls(mock_server, prompt) == 1


def test_a_repeated_generate_content_stream_replays_the_misses_chunks_with_one_upstream_call(
    genai_client, mock_server
):
    prompt = marked("Describe a river at dusk.")
    config = types.GenerateContentConfig(
        temperature=0, http_options=types.HttpOptions(headers=USE_CACHE)
    )

    def ask():
        chunks = list(
            genai_client.models.generate_content_stream(
                model=GEMINI_MODEL, contents=prompt, config=config
            )
        )
        return genai_cache_status(chunks[0]), [genai_answer(chunk) for chunk in chunks]

    (said_first, missed), (said_again, replayed) = ask(), ask()
    assert (said_first, said_again) == ("miss", "hit")
    assert len(missed) >= 2, missed
    assert replayed == missed
    assert upstream_calls(mock_server, prompt) == 1


def test_a_repeated_embedding_is_a_hit_identical_to_the_miss_with_one_upstream_call(
    openai_client, mock_server
):
    text = marked("A lantern-lit harbour.")

    def ask():
        return openai_client.embeddings.with_raw_response.create(
            model=EMBED_MODEL, input=text, extra_headers=USE_CACHE
        )

    miss, hit = ask(), ask()
    assert (miss.headers[CACHE_STATUS], hit.headers[CACHE_STATUS]) == ("miss", "hit")
    first, second = miss.parse(), hit.parse()
    assert len(first.data[0].embedding) == 1536
    assert second.model_dump() == first.model_dump()
    assert upstream_calls(mock_server, text) == 1


def test_a_repeated_image_generation_is_a_hit_with_the_same_picture_and_one_upstream_call(
    openai_client, mock_server
):
    prompt = marked("A small boat leaving a harbour at night.")

    def ask():
        return openai_client.images.with_raw_response.generate(
            model=IMAGE_MODEL, prompt=prompt, size="1024x1024", extra_headers=USE_CACHE
        )

    miss, hit = ask(), ask()
    assert (miss.headers[CACHE_STATUS], hit.headers[CACHE_STATUS]) == ("miss", "hit")
    first, second = miss.parse(), hit.parse()
    assert first.data[0].b64_json
    assert second.model_dump() == first.model_dump()
    assert upstream_calls(mock_server, prompt) == 1


def test_a_chat_at_the_default_temperature_is_bypassed_and_both_calls_go_upstream(
    openai_client, mock_server
):
    prompt = marked("Surprise me.")

    def ask():
        return openai_client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": prompt}],
            extra_headers=USE_CACHE,
        )

    said = [ask().headers[CACHE_STATUS] for _ in range(2)]
    assert said == ["bypass", "bypass"]
    assert upstream_calls(mock_server, prompt) == 2


def test_identical_requests_in_flight_share_one_upstream_call_and_its_answer_one_miss_the_rest_hits(
    openai_client, mock_server, slow_openai_upstream
):
    prompt = marked("One call for all of us.")
    start = threading.Barrier(CONCURRENT_REQUESTS)

    def ask(_):
        start.wait()
        raw = openai_client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            extra_headers=USE_CACHE,
        )
        return raw.headers[CACHE_STATUS], raw.parse().model_dump()

    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        answers = list(pool.map(ask, range(CONCURRENT_REQUESTS)))
    assert upstream_calls(mock_server, prompt) == 1
    said = sorted(status for status, _ in answers)
    assert said == ["hit"] * (CONCURRENT_REQUESTS - 1) + ["miss"]
    first = answers[0][1]
    assert all(answer == first for _, answer in answers)


def test_the_readme_cache_example_prints_miss_then_hit(gateway, capsys):
    """The README's cache example, its code block read from the README and
    run with only the base URL and key changed."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Caching repeated requests", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("http://127.0.0.1:8080", gateway.url).replace(
        "choose-a-client-key", MASTER_KEY
    )
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.split() == ["miss", "hit"]


def _readme_blocks(section: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a README section, as (language, code)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    text = readme.split(section, 1)[1].split("\n## ", 1)[0]
    blocks = []
    for chunk in text.split("```")[1::2]:
        language, _, code = chunk.partition("\n")
        blocks.append((language.strip(), code))
    return blocks


def _admin_post(gateway, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{gateway.url}{path}",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_readme_story_branches_are_pregenerated_then_every_item_is_a_hit(
    gateway, tmp_path, monkeypatch, capsys
):
    """The README's pre-generation flow as written: the file of three
    branches (text, picture, narration each) written by its script,
    `airlock pregen` run on it, then each request fetched with a project
    key and answered from the cache."""
    blocks = _readme_blocks("**Pre-generation.**")
    (_, write_file), (_, command), (_, fetch) = [b for b in blocks if b[0] in ("python", "sh")][:3]
    project = f"story-{uuid.uuid4().hex[:8]}"
    _admin_post(gateway, "/admin/v1/projects", {"name": project})
    key = _admin_post(gateway, f"/admin/v1/projects/{project}/keys", {})["secret"]
    monkeypatch.chdir(tmp_path)
    exec(compile(write_file, "README.md", "exec"), {})
    assert len((tmp_path / "branches.jsonl").read_text().splitlines()) == 9

    line = next(l for l in command.splitlines() if l.startswith("airlock pregen"))
    argv = shlex.split(line.replace("$AIRLOCK_ADMIN_TOKEN", MASTER_KEY))
    argv = [AIRLOCK_BIN, *argv[1:]]
    argv[argv.index("story-app")] = project
    ran = subprocess.run(
        [*argv, "--url", gateway.url], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "completed" in ran.stdout and "9" in ran.stdout, ran.stdout

    code = fetch.replace("http://127.0.0.1:8080", gateway.url).replace("a story-app key", key)
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), {})
    printed = [l.split() for l in capsys.readouterr().out.splitlines()]
    assert len(printed) == 9
    assert all(status == "hit" for _, status in printed), printed
