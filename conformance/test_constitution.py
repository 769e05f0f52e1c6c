"""Constitutional checks through the official SDKs: a project whose
constitution blocks a word the model's answer holds gets, with unchanged
clients, the refusal each provider itself gives (`openai`: a `refusal`
with finish reason `content_filter`, streamed or not; `google-genai`: a
candidate with no content that ends `PROHIBITED_CONTENT`), a
model its constitution does not allow is an error each SDK raises, and
the receipt carries the verdicts and the digest of the constitution as
the admin API shows it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import uuid

import openai
import pytest
from google.genai import errors, types

from conftest import MASTER_KEY, _resolved_bin, make_genai, make_openai
from helpers import fetch_receipt, http, verifier_key

PROMPT = "Tell me a story about a lighthouse keeper."
OPENAI_CHAT = "gpt-4o-mini"
GEMINI_CHAT = "gemini-2.5-flash"
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


def a_word_of(text: str) -> str:
    return next(word for word in re.findall(r"\w+", text) if len(word) >= 4).lower()


@pytest.fixture(scope="module")
def story(gateway):
    """A project whose constitution blocks a word of each SDK's answer to
    PROMPT: its name, key, and the two words."""
    # Clients held in names: google-genai closes its connection pool when
    # its client is collected.
    openai_client, genai_client = make_openai(gateway.url), make_genai(gateway.url)
    answer = openai_client.chat.completions.create(model=OPENAI_CHAT, messages=[{"role": "user", "content": PROMPT}])
    openai_word = a_word_of(answer.choices[0].message.content)
    gemini_word = a_word_of(genai_client.models.generate_content(model=GEMINI_CHAT, contents=PROMPT).text)
    name = f"story-{uuid.uuid4().hex[:8]}"
    constitution = {
        "text": "Stories for children.",
        "rules": [
            {"id": "gentle", "blocked_terms": [openai_word, gemini_word], "action": "block"},
            {"id": "vetted", "allowed_models": ["gpt-4o-mini", "gemini-2.5-*"], "action": "block"},
        ],
    }
    created = http("POST", f"{gateway.url}/admin/v1/projects", headers=ADMIN, body={"name": name, "constitution": constitution})
    assert created.status == 201, created.body
    key = http("POST", f"{gateway.url}/admin/v1/projects/{name}/keys", headers=ADMIN, body={})
    assert key.status == 201, key.body
    return name, key.json()["secret"], openai_word, gemini_word


def test_openai_reads_a_withheld_answer_as_a_refusal_and_the_receipt_says_why(gateway, story, tmp_path):
    name, key, word, _ = story
    client = make_openai(gateway.url, key)
    raw = client.chat.completions.with_raw_response.create(model=OPENAI_CHAT, messages=[{"role": "user", "content": PROMPT}])
    completion = raw.parse()
    choice = completion.choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.message.content is None
    assert "`gentle`" in choice.message.refusal
    assert completion.usage.completion_tokens > 0

    receipt = fetch_receipt(gateway.url, raw.headers["x-airlock-receipt"], key)
    entry = receipt["entry"]
    assert entry["outcome"] == "blocked"
    assert entry["checks"]["verdict"] == "blocked"
    assert {"rule": "gentle", "result": "violated", "action": "block"} in entry["checks"]["results"]
    # The digest is of the constitution as the admin API shows it, compact.
    shown = http("GET", f"{gateway.url}/admin/v1/projects/{name}", headers=ADMIN).json()["settings"]["constitution"]
    compact = json.dumps(shown, separators=(",", ":"), ensure_ascii=False).encode()
    assert entry["policy_sha256"] == hashlib.sha256(compact).hexdigest()

    # `airlock receipts verify` checks it offline and reads out the verdicts.
    receipt_file, answer_file = tmp_path / "receipt.json", tmp_path / "answer.json"
    receipt_file.write_text(json.dumps(receipt))
    answer_file.write_bytes(raw.http_response.content)
    done = subprocess.run(
        [str(_resolved_bin()), "receipts", "verify", str(receipt_file), "--key", verifier_key(gateway),
         "--response", str(answer_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "response body: matches" in done.stdout
    assert f"constitution: sha256 {entry['policy_sha256']}" in done.stdout
    assert "checks: blocked: vetted pass (block), gentle violated (block)" in done.stdout


def test_openai_streams_a_withheld_answer_as_a_refusal_delta(gateway, story):
    _, key, word, _ = story
    client = make_openai(gateway.url, key)
    chunks = list(
        client.chat.completions.create(model=OPENAI_CHAT, messages=[{"role": "user", "content": PROMPT}], stream=True)
    )
    assert len(chunks) == 1
    choice = chunks[0].choices[0]
    assert choice.finish_reason == "content_filter"
    assert "`gentle`" in choice.delta.refusal
    assert not choice.delta.content


def test_genai_reads_a_withheld_answer_as_prohibited_content(gateway, story):
    _, key, _, word = story
    client = make_genai(gateway.url, key)
    response = client.models.generate_content(model=GEMINI_CHAT, contents=PROMPT)
    candidate = response.candidates[0]
    assert candidate.finish_reason == types.FinishReason.PROHIBITED_CONTENT
    # The reason is in the answer's finishMessage, which google-genai reads
    # from Vertex AI only; the finish reason is what its users check.
    assert candidate.content is None
    assert response.text is None

    streamed = list(client.models.generate_content_stream(model=GEMINI_CHAT, contents=PROMPT))
    assert [chunk.candidates[0].finish_reason for chunk in streamed] == [types.FinishReason.PROHIBITED_CONTENT]
    assert all(word not in (chunk.text or "").lower() for chunk in streamed)


def test_a_model_the_constitution_does_not_allow_is_an_error_each_sdk_raises(gateway, story):
    _, key, _, _ = story
    openai_client = make_openai(gateway.url, key)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    assert raised.value.code == "constitution_violation"
    assert "`vetted`" in raised.value.message
    genai_client = make_genai(gateway.url, key)
    with pytest.raises(errors.ClientError) as raised:
        genai_client.models.generate_content(model="gemini-3-pro-preview", contents=PROMPT)
    assert raised.value.code == 403
    assert "`vetted`" in raised.value.message
