"""Grounded answers through Airlock with the official SDKs.

google-genai: the `google_search` and `url_context` tools pass through to
Gemini, whose grounding (queries, sources, supports in UTF-8 byte offsets)
reaches `response.candidates[0].grounding_metadata`, whole and streamed;
the legacy `google_search_retrieval` tool is refused as Google refuses it.

openai: the Responses API's `web_search` tool on a Gemini model becomes
Google Search, answered with a `web_search_call` item and `url_citation`
annotations in character offsets (what Python's `str` slicing takes),
plain and streamed through the SDK's typed events; on an OpenAI model the
tool passes through unchanged.
"""

from __future__ import annotations

import pytest
from google.genai import errors, types

from conftest import make_openai

GEMINI = "gemini-2.5-flash"
QUESTION = "Qui a gagné le Tour de France 2024 ? Réponds en détail."


def _search_config() -> types.GenerateContentConfig:
    return types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])


def _assert_grounded(candidate) -> None:
    metadata = candidate.grounding_metadata
    assert metadata is not None
    assert metadata.web_search_queries and metadata.web_search_queries[0].startswith(
        "qui a gagné le tour de france"
    )
    assert "chip" in metadata.search_entry_point.rendered_content
    uris = [chunk.web.uri for chunk in metadata.grounding_chunks]
    assert uris and all(uri.startswith("https://") for uri in uris)
    text = "".join(p.text for p in candidate.content.parts if p.text and not p.thought)
    raw = text.encode("utf-8")
    assert metadata.grounding_supports
    for support in metadata.grounding_supports:
        segment = support.segment
        start = segment.start_index or 0
        # Gemini's offsets are bytes of the UTF-8 text.
        assert raw[start : segment.end_index].decode("utf-8") == segment.text
        assert all(0 <= i < len(uris) for i in support.grounding_chunk_indices)


def test_google_search_grounds_the_answer(genai_client_v1beta):
    response = genai_client_v1beta.models.generate_content(
        model=GEMINI, contents=QUESTION, config=_search_config()
    )
    _assert_grounded(response.candidates[0])
    again = genai_client_v1beta.models.generate_content(
        model=GEMINI, contents=QUESTION, config=_search_config()
    )
    assert again.candidates[0].grounding_metadata == response.candidates[0].grounding_metadata


def test_streamed_grounding_comes_with_the_last_chunk(genai_client_v1beta):
    chunks = list(
        genai_client_v1beta.models.generate_content_stream(
            model="gemini-3-flash-preview", contents=QUESTION, config=_search_config()
        )
    )
    assert len(chunks) > 1
    assert all(c.candidates[0].grounding_metadata is None for c in chunks[:-1])
    last = chunks[-1].candidates[0]
    metadata = last.grounding_metadata
    assert metadata is not None and metadata.web_search_queries
    text = "".join(
        p.text for c in chunks for p in c.candidates[0].content.parts if p.text and not p.thought
    ).encode("utf-8")
    for support in metadata.grounding_supports:
        segment = support.segment
        assert text[segment.start_index or 0 : segment.end_index].decode("utf-8") == segment.text


def test_url_context_reads_the_pages_of_the_prompt(genai_client_v1beta):
    response = genai_client_v1beta.models.generate_content(
        model=GEMINI,
        contents="Summarise https://docs.example/guide and https://gone.invalid/page",
        config=types.GenerateContentConfig(tools=[types.Tool(url_context=types.UrlContext())]),
    )
    statuses = [
        (m.retrieved_url, m.url_retrieval_status)
        for m in response.candidates[0].url_context_metadata.url_metadata
    ]
    assert statuses == [
        ("https://docs.example/guide", types.UrlRetrievalStatus.URL_RETRIEVAL_STATUS_SUCCESS),
        ("https://gone.invalid/page", types.UrlRetrievalStatus.URL_RETRIEVAL_STATUS_ERROR),
    ]
    usage = response.usage_metadata
    assert usage.tool_use_prompt_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count
        + usage.candidates_token_count
        + usage.tool_use_prompt_token_count
        + (usage.thoughts_token_count or 0)
    )


def test_the_legacy_search_tool_is_refused_like_google(genai_client_v1beta):
    config = types.GenerateContentConfig(
        tools=[types.Tool(google_search_retrieval=types.GoogleSearchRetrieval())]
    )
    with pytest.raises(errors.ClientError) as refused:
        genai_client_v1beta.models.generate_content(model=GEMINI, contents="hi", config=config)
    assert refused.value.code == 400
    assert "google_search_retrieval is not supported" in refused.value.message


def _assert_cited(message, cites) -> list:
    """The message's `url_citation`s, each span checked by `cites(span, url)`."""
    part = message.content[0]
    assert part.annotations
    for annotation in part.annotations:
        assert annotation.type == "url_citation"
        assert annotation.url.startswith("https://") and annotation.title
        span = part.text[annotation.start_index : annotation.end_index]
        assert cites(span, annotation.url), (span, annotation.url)
    return part.annotations


def _a_sentence(span: str, _url: str) -> bool:
    return span.endswith(".")


def _an_inline_link(span: str, url: str) -> bool:
    return span.startswith("([") and span.endswith(f"]({url}))")


def test_web_search_on_a_gemini_model_cites_its_sources(gateway):
    client = make_openai(gateway.url)
    response = client.responses.create(
        model=GEMINI,
        input=QUESTION,
        tools=[{"type": "web_search", "search_context_size": "low"}],
        include=["web_search_call.action.sources"],
    )
    search, message = response.output
    assert search.type == "web_search_call" and search.status == "completed"
    assert search.action.type == "search"
    assert search.action.query.startswith("qui a gagné le tour de france")
    sources = {source.url for source in search.action.sources}
    annotations = _assert_cited(message, _a_sentence)
    assert {a.url for a in annotations} <= sources
    # Every sentence is cited: the spans cover the whole text, in characters.
    spans = sorted({(a.start_index, a.end_index) for a in annotations})
    assert " ".join(message.content[0].text[s:e] for s, e in spans) == response.output_text


def test_web_search_streams_through_the_sdks_events(gateway):
    client = make_openai(gateway.url)
    added = []
    with client.responses.stream(
        model=GEMINI, input=QUESTION, tools=[{"type": "web_search"}]
    ) as stream:
        kinds = []
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.annotation.added":
                added.append(event.annotation)
        final = stream.get_final_response()
    assert kinds[2] == "response.output_item.added"
    assert "response.web_search_call.searching" in kinds
    assert "response.web_search_call.completed" in kinds
    assert kinds.index("response.output_text.annotation.added") < kinds.index(
        "response.output_text.done"
    )
    search, message = final.output
    assert search.type == "web_search_call" and search.action.query
    annotations = _assert_cited(message, _a_sentence)
    assert [a.to_dict() for a in added] == [a.to_dict() for a in annotations]


def test_web_search_passes_through_to_openai(gateway):
    client = make_openai(gateway.url)
    response = client.responses.create(
        model="gpt-4o", input="Who won the Euro 2024?", tools=[{"type": "web_search_preview"}]
    )
    search, message = response.output
    assert search.type == "web_search_call"
    assert search.action.query == "who won the euro 2024"
    _assert_cited(message, _an_inline_link)
