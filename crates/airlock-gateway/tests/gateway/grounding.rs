//! Grounded answers through the gateway: Gemini's `googleSearch` and
//! `urlContext` passed through (grounding reaching the client whole and in
//! both stream forms), OpenAI's `web_search` translated to Google Search
//! for Gemini models (a `web_search_call` item, `url_citation`
//! annotations in characters, streamed too) and passed through to OpenAI,
//! conversations that continue after a search, and searches priced.

use crate::common;

use common::Harness;
use serde_json::{Value, json};

const QUESTION: &str = "Who won the Tour de France in 2024?";

fn searched(tool: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": QUESTION}]}], "tools": [{tool: {}}]})
}

/// The last Gemini body the simulator received.
fn last_upstream_gemini(h: &Harness) -> Value {
    h.mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("generateContent"))
        .expect("a call reached the simulator's Gemini API")
        .body
}

/// The text between two character offsets.
fn chars(text: &str, start: &Value, end: &Value) -> String {
    let (start, end) = (start.as_u64().unwrap(), end.as_u64().unwrap());
    text.chars()
        .skip(start as usize)
        .take((end - start) as usize)
        .collect()
}

async fn responses(h: &Harness, body: Value) -> (u16, Value) {
    let r = h
        .openai_post("/v1/responses")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The `data:` payloads of a Responses stream.
async fn responses_stream(h: &Harness, body: Value) -> Vec<Value> {
    let r = h
        .openai_post("/v1/responses")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    common::sse_data(&r.text().await.unwrap())
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn google_search_grounding_passes_through_and_is_priced_per_grounded_prompt() {
    let h = Harness::start().await;
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&searched("google_search"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let metadata = &body["candidates"][0]["groundingMetadata"];
    assert_eq!(
        metadata["webSearchQueries"][0],
        "who won the tour de france in 2024"
    );
    assert!(metadata["searchEntryPoint"]["renderedContent"].is_string());
    assert!(!metadata["groundingSupports"].as_array().unwrap().is_empty());
    // The request went upstream as sent.
    assert_eq!(
        last_upstream_gemini(&h)["tools"],
        json!([{"google_search": {}}])
    );
    let records = h.stop().await;
    let r = &records[0];
    let tokens = |n: Option<i64>| n.unwrap() as u64;
    let expected = common::list_price_usd(
        "gemini-2.5-flash",
        tokens(r.tokens_in),
        tokens(r.tokens_cached),
        tokens(r.tokens_out),
    ) + 0.035;
    common::assert_cost(r.cost_usd, expected);
}

#[tokio::test]
async fn streamed_grounding_arrives_with_the_last_chunk_and_gemini_3_pays_per_query() {
    let h = Harness::start().await;
    let path = "/v1beta/models/gemini-3-flash-preview:streamGenerateContent";
    let r = h
        .gemini_post(&format!("{path}?alt=sse"))
        .json(&searched("googleSearch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let chunks: Vec<Value> = common::sse_data(&r.text().await.unwrap())
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let (last, rest) = chunks.split_last().unwrap();
    assert!(
        rest.iter()
            .all(|c| c["candidates"][0].get("groundingMetadata").is_none())
    );
    let queries = last["candidates"][0]["groundingMetadata"]["webSearchQueries"]
        .as_array()
        .unwrap()
        .len();
    assert!(queries >= 1);
    // Google's JSON-array stream carries it the same way.
    let r = h
        .gemini_post(path)
        .json(&searched("googleSearch"))
        .send()
        .await
        .unwrap();
    let array: Vec<Value> = r.json().await.unwrap();
    assert_eq!(
        array.last().unwrap()["candidates"][0]["groundingMetadata"],
        last["candidates"][0]["groundingMetadata"]
    );
    let records = h.stop().await;
    for r in &records {
        let tokens = |n: Option<i64>| n.unwrap() as u64;
        let expected = common::list_price_usd(
            "gemini-3-flash-preview",
            tokens(r.tokens_in),
            tokens(r.tokens_cached),
            tokens(r.tokens_out),
        ) + queries as f64 * 0.014;
        common::assert_cost(r.cost_usd, expected);
    }
}

#[tokio::test]
async fn url_context_passes_through_and_its_pages_count_as_input() {
    let h = Harness::start().await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Summarise https://docs.example/guide"}]}],
                      "tools": [{"url_context": {}}]});
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&body)
        .send()
        .await
        .unwrap();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        answer["candidates"][0]["urlContextMetadata"]["urlMetadata"][0]["urlRetrievalStatus"],
        "URL_RETRIEVAL_STATUS_SUCCESS"
    );
    let usage = &answer["usageMetadata"];
    let read = usage["toolUsePromptTokenCount"].as_u64().unwrap();
    let records = h.stop().await;
    assert_eq!(
        records[0].tokens_in,
        Some((usage["promptTokenCount"].as_u64().unwrap() + read) as i64)
    );
    let tokens = |n: Option<i64>| n.unwrap() as u64;
    let r = &records[0];
    let expected = common::list_price_usd(
        "gemini-2.5-flash",
        tokens(r.tokens_in),
        tokens(r.tokens_cached),
        tokens(r.tokens_out),
    );
    common::assert_cost(r.cost_usd, expected);
}

#[tokio::test]
async fn web_search_on_a_gemini_model_is_google_search_with_citations() {
    let h = Harness::start().await;
    let request = json!({"model": "gemini-2.5-flash", "input": QUESTION,
                         "tools": [{"type": "web_search", "search_context_size": "low"}],
                         "include": ["web_search_call.action.sources"]});
    let (status, answer) = responses(&h, request.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        last_upstream_gemini(&h)["tools"],
        json!([{"googleSearch": {}}])
    );
    let output = answer["output"].as_array().unwrap();
    let call = &output[0];
    assert_eq!(call["type"], "web_search_call");
    assert_eq!(call["status"], "completed");
    assert_eq!(
        call["action"]["query"],
        "who won the tour de france in 2024"
    );
    let sources = call["action"]["sources"].as_array().unwrap();
    let part = &output[1]["content"][0];
    let text = part["text"].as_str().unwrap();
    assert!(text.starts_with("On “who won the tour de france in 2024”: "));
    let annotations = part["annotations"].as_array().unwrap();
    assert!(annotations.len() >= 2, "{part}");
    let mut spans: Vec<(&Value, &Value)> = Vec::new();
    for a in annotations {
        assert_eq!(a["type"], "url_citation");
        assert!(sources.iter().any(|s| s["url"] == a["url"]));
        let span = (&a["start_index"], &a["end_index"]);
        if !spans.contains(&span) {
            spans.push(span);
        }
    }
    let sentences: Vec<String> = spans
        .iter()
        .map(|(start, end)| chars(text, start, end))
        .collect();
    assert!(sentences.iter().all(|s| s.ends_with('.')), "{sentences:?}");
    assert_eq!(
        sentences.join(" "),
        text,
        "every sentence is cited, in characters"
    );

    // Streamed: the search item first, the citations before the text is done.
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let events = responses_stream(&h, streamed).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        &kinds[..5],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.web_search_call.in_progress",
            "response.web_search_call.searching"
        ]
    );
    let added: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.annotation.added")
        .map(|e| &e["annotation"])
        .collect();
    assert_eq!(added, annotations.iter().collect::<Vec<_>>());
    let done = kinds
        .iter()
        .position(|k| *k == "response.output_text.done")
        .unwrap();
    assert!(kinds[..done].contains(&"response.output_text.annotation.added"));
    let completed = &events.last().unwrap()["response"];
    assert_eq!(completed["output"][1]["content"], output[1]["content"]);
    assert_eq!(completed["output"][0]["action"], call["action"]);

    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses")
        .collect();
    assert_eq!(turns.len(), 2);
    for r in turns {
        let tokens = |n: Option<i64>| n.unwrap() as u64;
        let expected = common::list_price_usd(
            "gemini-2.5-flash",
            tokens(r.tokens_in),
            tokens(r.tokens_cached),
            tokens(r.tokens_out),
        ) + 0.035;
        common::assert_cost(r.cost_usd, expected);
    }
}

#[tokio::test]
async fn web_search_reaches_openai_as_sent_and_is_priced_per_call() {
    let h = Harness::start().await;
    let tools = json!([{"type": "web_search_preview", "search_context_size": "high"}]);
    let (status, answer) = responses(
        &h,
        json!({"model": "gpt-4o", "input": QUESTION, "tools": tools}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let upstream = h
        .mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/responses")
        .unwrap()
        .body;
    assert_eq!(upstream["tools"], tools);
    assert_eq!(answer["output"][0]["type"], "web_search_call");
    assert!(
        !answer["output"][1]["content"][0]["annotations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let records = h.stop().await;
    let r = &records[0];
    let tokens = |n: Option<i64>| n.unwrap() as u64;
    let expected = common::list_price_usd(
        "gpt-4o",
        tokens(r.tokens_in),
        tokens(r.tokens_cached),
        tokens(r.tokens_out),
    ) + 0.025;
    common::assert_cost(r.cost_usd, expected);
}

#[tokio::test]
async fn a_grounded_turn_continues_on_gemini_and_on_gpt() {
    let h = Harness::start().await;
    let (status, first) = responses(
        &h,
        json!({"model": "gemini-2.5-flash", "input": QUESTION, "tools": [{"type": "web_search"}]}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let first_text = first["output"][1]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, second) = responses(
        &h,
        json!({"model": "gemini-2.5-flash", "input": "And in 2023?", "tools": [{"type": "web_search"}],
               "previous_response_id": first["id"]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    // Gemini reads the earlier answer's text; the search item stays behind.
    let contents = last_upstream_gemini(&h)["contents"].clone();
    assert_eq!(
        contents,
        json!([
            {"role": "user", "parts": [{"text": QUESTION}]},
            {"role": "model", "parts": [{"text": first_text}]},
            {"role": "user", "parts": [{"text": "And in 2023?"}]}
        ])
    );
    let (status, third) = responses(
        &h,
        json!({"model": "gpt-4o-mini", "input": "Thanks.", "previous_response_id": second["id"],
               "tools": [{"type": "web_search"}]}),
    )
    .await;
    assert_eq!(status, 200, "{third}");
    let input = h
        .mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/responses")
        .unwrap()
        .body["input"]
        .clone();
    let kinds: Vec<&str> = input
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "web_search_call",
            "message",
            "message",
            "web_search_call",
            "message",
            "message"
        ]
    );
}
