//! The OpenAI surface against OpenAI-protocol and Gemini (translated) upstreams.

use crate::common;

use common::{Framing, Harness, assert_arrived_as_produced, sse_data, timed_events};
use serde_json::{Value, json};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]})
}

#[tokio::test]
async fn chat_passes_through_to_openai_and_is_logged() {
    let h = Harness::start().await;
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    let records = h.stop().await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        (record.surface.as_str(), record.operation.as_str()),
        ("openai", "chat.completions")
    );
    assert_eq!(record.model.as_deref(), Some("gpt-4o"));
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert_eq!(record.key_id.as_deref(), Some("openai#0"));
    assert_eq!(record.status, 200);
    assert_eq!(record.outcome, "ok");
    assert_eq!(record.tokens_in, usage["prompt_tokens"].as_i64());
    assert_eq!(record.tokens_out, usage["completion_tokens"].as_i64());
    assert!(!record.streamed);
}

#[tokio::test]
async fn alias_rewrites_the_model_for_the_upstream() {
    let h = Harness::start().await;
    let body: Value = h
        .openai_post("/v1/chat/completions")
        .json(&chat("smart"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        body["model"].as_str().unwrap().starts_with("gpt-4o"),
        "{body}"
    );
    let records = h.stop().await;
    assert_eq!(records[0].model.as_deref(), Some("smart"));
    assert_eq!(records[0].upstream_model.as_deref(), Some("gpt-4o"));
}

#[tokio::test]
async fn streaming_with_usage_forwards_every_chunk() {
    let h = Harness::start().await;
    let mut request = chat("gpt-4o-mini");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks.len() >= 3);
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let completion_tokens = usage_chunk["usage"]["completion_tokens"].as_i64().unwrap();
    let records = h.stop().await;
    assert!(records[0].streamed);
    assert_eq!(records[0].tokens_out, Some(completion_tokens));
    assert!(records[0].ttft_us.is_some());
}

#[tokio::test]
async fn a_passthrough_stream_is_forwarded_chunk_by_chunk_as_it_is_produced() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let mut request = chat("gpt-4o-mini");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (events, _) = timed_events(response, Framing::Sse).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    // `[DONE]` follows the last chunk at once; every chunk before it is paced.
    let arrivals: Vec<_> = events[..events.len() - 1]
        .iter()
        .map(|(at, _)| *at)
        .collect();
    assert_arrived_as_produced(&arrivals, "OpenAI SSE");
}

#[tokio::test]
async fn streaming_without_usage_hides_the_usage_chunk_but_logs_tokens() {
    let h = Harness::start().await;
    let mut request = chat("gpt-4o-mini");
    request["stream"] = json!(true);
    let text = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    for event in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(event).unwrap();
        assert_ne!(
            chunk["choices"],
            json!([]),
            "the client did not ask for the usage chunk"
        );
    }
    let records = h.stop().await;
    assert!(records[0].tokens_out.unwrap() > 0);
}

#[tokio::test]
async fn embeddings_pass_through() {
    let h = Harness::start().await;
    let body: Value = h
        .openai_post("/v1/embeddings")
        .json(&json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 1536);
}

#[tokio::test]
async fn models_are_listed_from_every_provider_with_aliases() {
    let h = Harness::start().await;
    let response = h
        .http
        .get(h.url("/v1/models"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for expected in ["gpt-4o", "gemini-2.5-flash", "fast", "smart"] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    let one: Value = h
        .http
        .get(h.url("/v1/models/fast"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "fast");
    assert_eq!(one["object"], "model");
    let missing = h
        .http
        .get(h.url("/v1/models/nope-1"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn gemini_model_through_openai_surface_is_translated() {
    let h = Harness::start().await;
    let body: Value = h
        .openai_post("/v1/chat/completions")
        .json(&chat("gemini-2.5-flash"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gemini-2.5-flash");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let records = h.stop().await;
    assert_eq!(records[0].provider.as_deref(), Some("gemini"));
    assert_eq!(records[0].key_id.as_deref(), Some("gemini#0"));
    assert!(records[0].tokens_in.unwrap() > 0);
}

#[tokio::test]
async fn translated_stream_ends_with_usage_and_done() {
    let h = Harness::start().await;
    let mut request = chat("fast");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let text = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|choice| choice["delta"]["content"].as_str())
        })
        .collect();
    assert!(!text.is_empty());
    assert!(chunks.iter().any(|c| {
        c["choices"]
            .get(0)
            .is_some_and(|choice| choice["finish_reason"] == "stop")
    }));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    for chunk in &chunks {
        assert_eq!(chunk["model"], "fast");
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
}

#[tokio::test]
async fn a_translated_stream_is_sent_chunk_by_chunk_as_gemini_produces_it() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let mut request = chat("gemini-2.5-flash");
    request["stream"] = json!(true);
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (events, _) = timed_events(response, Framing::Sse).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    // Each Gemini chunk carries text and becomes one chunk with a content
    // delta (the finish and usage chunks come with the last one).
    let arrivals: Vec<_> = events
        .iter()
        .filter(|(_, data)| {
            serde_json::from_str::<Value>(data).is_ok_and(|chunk| {
                chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty())
            })
        })
        .map(|(at, _)| *at)
        .collect();
    assert_arrived_as_produced(&arrivals, "Gemini translated to OpenAI chunks");
    let records = h.stop().await;
    assert!(records[0].streamed);
    assert_eq!(records[0].provider.as_deref(), Some("gemini"));
}

#[tokio::test]
async fn translated_tool_call_when_required() {
    let h = Harness::start().await;
    let request = json!({
        "model": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city", "unit"]}
        }}],
        "tool_choice": "required"
    });
    let body: Value = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string());
    assert!(["c", "f"].contains(&args["unit"].as_str().unwrap()));

    // The tool's answer goes back and the model answers with text.
    let follow_up = json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\": 21}"}
        ],
        "tools": request["tools"]
    });
    let body: Value = h
        .openai_post("/v1/chat/completions")
        .json(&follow_up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
    assert!(body["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn gemini_embeddings_through_openai_surface() {
    let h = Harness::start().await;
    let body: Value = h
        .openai_post("/v1/embeddings")
        .json(&json!({"model": "gemini-embedding-001", "input": ["one", "two", "three"], "encoding_format": "float", "dimensions": 256}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(body["model"], "gemini-embedding-001");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

/// A chat whose system message (3,225 tokens by the simulator's rule) is
/// shared by every question.
fn long_chat(model: &str, question: &str) -> Value {
    let document = "Airlock keeps provider keys on the server. ".repeat(300);
    json!({"model": model, "messages": [
        {"role": "system", "content": document},
        {"role": "user", "content": question}
    ]})
}

/// (prompt, cached, completion) tokens of an OpenAI `usage`.
fn openai_tokens(usage: &Value) -> (u64, u64, u64) {
    (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    )
}

/// Sends the long chat with each question (the last one streamed with
/// usage), returning each request's id and the usage its client saw.
async fn send_long_chats(h: &Harness, model: &str) -> Vec<(String, (u64, u64, u64))> {
    let mut sent = Vec::new();
    for question in ["What does it keep?", "Where?"] {
        let response = h
            .openai_post("/v1/chat/completions")
            .json(&long_chat(model, question))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = common::request_id(&response);
        let body: Value = response.json().await.unwrap();
        sent.push((id, openai_tokens(&body["usage"])));
    }
    let mut streamed = long_chat(model, "How?");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&streamed)
        .send()
        .await
        .unwrap();
    let id = common::request_id(&response);
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    sent.push((id, openai_tokens(&usage_chunk["usage"])));
    sent
}

/// The first request reads nothing from the cache; the later ones read at
/// least `minimum` tokens, and every record holds the client's counts and
/// their cost at list prices.
fn assert_billed_with_cache(
    records: &[airlock_store::RequestRecord],
    sent: &[(String, (u64, u64, u64))],
    model: &str,
    minimum: u64,
) {
    let record = |id: &str| records.iter().find(|r| r.id == id).unwrap();
    for (n, (id, (prompt, cached, output))) in sent.iter().enumerate() {
        let r = record(id);
        if n == 0 {
            assert_eq!(*cached, 0, "the first request reads nothing from the cache");
        } else {
            assert!(
                *cached >= minimum && cached < prompt,
                "{cached} of {prompt}"
            );
        }
        assert_eq!(r.tokens_in, Some(*prompt as i64));
        assert_eq!(r.tokens_cached, Some(*cached as i64));
        assert_eq!(r.tokens_out, Some(*output as i64));
        common::assert_cost(
            r.cost_usd,
            common::list_price_usd(model, *prompt, *cached, *output),
        );
    }
    assert!(record(&sent[2].0).streamed);
}

#[tokio::test]
async fn a_repeated_long_prompt_is_billed_at_the_cached_price() {
    let h = Harness::start().await;
    let sent = send_long_chats(&h, "gpt-4o").await;
    // OpenAI: cached from 1,024 tokens, in 128-token increments.
    assert!(
        sent[1..]
            .iter()
            .all(|(_, (_, cached, _))| cached.is_multiple_of(128))
    );
    let records = h.stop().await;
    assert_billed_with_cache(&records, &sent, "gpt-4o", 1_024);
}

#[tokio::test]
async fn gemini_cached_tokens_reach_the_openai_shape() {
    let h = Harness::start().await;
    // Translated: Gemini's cachedContentTokenCount is the OpenAI SDK's
    // usage.prompt_tokens_details.cached_tokens, whole and streamed.
    let sent = send_long_chats(&h, "gemini-2.5-flash").await;
    let records = h.stop().await;
    assert_billed_with_cache(&records, &sent, "gemini-2.5-flash", 2_048);
}
