//! The Gemini surface: passthrough of every model method, both stream forms,
//! model lookups, on each API version.

use crate::common;

use common::{Framing, Harness, assert_arrived_as_produced, timed_events};
use serde_json::{Value, json};

fn contents() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Tell me a story"}]}],
           "generation_config": {"max_output_tokens": 64}})
}

#[tokio::test]
async fn generate_content_passes_through_on_every_version() {
    let h = Harness::start().await;
    for version in ["v1", "v1beta", "v1alpha"] {
        let response = h
            .gemini_post(&format!(
                "/{version}/models/gemini-2.5-flash:generateContent"
            ))
            .json(&contents())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{version}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["candidates"][0]["content"]["role"], "model");
        assert!(body["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0);
    }
    let records = h.stop().await;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.surface == "gemini"
        && r.operation == "generateContent"
        && r.tokens_in.is_some()));
}

#[tokio::test]
async fn query_key_authenticates_like_google() {
    let h = Harness::start().await;
    let response = h
        .http
        .post(h.url(&format!(
            "/v1beta/models/gemini-2.5-flash:generateContent?key={}",
            common::MASTER_KEY
        )))
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The client's key is Airlock's, never forwarded: the simulator saw only the provider key.
    let seen = h.mock.server.requests_by_key();
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["gemini-key-a"]);
}

#[tokio::test]
async fn stream_as_sse_is_forwarded_event_by_event() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let response = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (events, _) = timed_events(response, Framing::Sse).await;
    let arrivals: Vec<_> = events.iter().map(|(at, _)| *at).collect();
    assert_arrived_as_produced(&arrivals, "Gemini SSE");
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let output = last["usageMetadata"]["candidatesTokenCount"]
        .as_i64()
        .unwrap();
    let records = h.stop().await;
    assert!(records[0].streamed);
    assert_eq!(records[0].tokens_out, Some(output));
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array_forwarded_element_by_element() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let response = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (elements, body) = timed_events(response, Framing::JsonArray).await;
    let arrivals: Vec<_> = elements.iter().map(|(at, _)| *at).collect();
    assert_arrived_as_produced(&arrivals, "Gemini JSON array");
    let chunks: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(chunks.len(), elements.len());
    for (chunk, (_, element)) in chunks.iter().zip(&elements) {
        assert_eq!(chunk, &serde_json::from_str::<Value>(element).unwrap());
    }
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
}

#[tokio::test]
async fn count_tokens_and_embeddings_pass_through() {
    let h = Harness::start().await;
    let count: Value = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:countTokens")
        .json(&json!({"contents": [{"parts": [{"text": "twelve chars"}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(count["totalTokens"].as_u64().unwrap() > 0);

    let one: Value = h
        .gemini_post("/v1beta/models/gemini-embedding-001:embedContent")
        .json(&json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["embedding"]["values"].as_array().unwrap().len(), 8);

    let batch: Value = h
        .gemini_post("/v1beta/models/gemini-embedding-001:batchEmbedContents")
        .json(&json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}}
        ]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(batch["embeddings"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn aliases_work_on_the_gemini_surface() {
    let h = Harness::start().await;
    let response = h
        .gemini_post("/v1beta/models/fast:generateContent")
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let model: Value = h
        .gemini_get("/v1beta/models/fast")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["name"], "models/fast");
    let records = h.stop().await;
    assert_eq!(
        records[0].upstream_model.as_deref(),
        Some("gemini-2.5-flash")
    );
}

#[tokio::test]
async fn shared_models_path_answers_in_the_clients_shape() {
    let h = Harness::start().await;
    // google-genai 3.x lists on /v1/models with x-goog-api-key: Google's shape.
    let google: Value = h
        .gemini_get("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = google["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"models/gemini-2.5-flash"), "{names:?}");
    let one: Value = h
        .gemini_get("/v1/models/gemini-2.5-flash")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/gemini-2.5-flash");
    assert!(one["inputTokenLimit"].as_u64().is_some());
    // The openai SDK uses the same path with a bearer key: OpenAI's shape.
    let openai: Value = h
        .http
        .get(h.url("/v1/models"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
    let one: Value = h
        .http
        .get(h.url("/v1/models/gemini-2.5-flash"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["object"], "model");
    assert_eq!(one["owned_by"], "google");
}

#[tokio::test]
async fn provider_validation_errors_reach_the_client_unchanged() {
    let h = Harness::start().await;
    let response = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&json!({"contents": [{"role": "wizard", "parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let records = h.stop().await;
    assert_eq!(
        (records[0].status, records[0].outcome.as_str()),
        (400, "error")
    );
}

#[tokio::test]
async fn openai_models_are_refused_on_the_gemini_surface_with_a_clear_error() {
    let h = Harness::start().await;
    let response = h
        .gemini_post("/v1beta/models/gpt-4o:generateContent")
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OpenAI")
    );
}

/// A prompt whose system instruction (3,225 tokens by the simulator's
/// rule) is shared by every question.
fn long_prompt(question: &str) -> Value {
    let document = "Airlock keeps provider keys on the server. ".repeat(300);
    json!({
        "systemInstruction": {"parts": [{"text": document}]},
        "contents": [{"role": "user", "parts": [{"text": question}]}]
    })
}

/// (prompt, cached, output) tokens of a `usageMetadata`.
fn gemini_tokens(usage: &Value) -> (u64, u64, u64) {
    let count = |field: &str| usage[field].as_u64().unwrap_or(0);
    (
        count("promptTokenCount"),
        count("cachedContentTokenCount"),
        count("candidatesTokenCount") + count("thoughtsTokenCount"),
    )
}

#[tokio::test]
async fn a_repeated_long_prompt_is_billed_at_the_cached_price() {
    let h = Harness::start().await;
    let model = "gemini-2.5-flash";
    let mut sent = Vec::new();
    for question in ["What does it keep?", "Where?"] {
        let response = h
            .gemini_post(&format!("/v1beta/models/{model}:generateContent"))
            .json(&long_prompt(question))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = common::request_id(&response);
        let body: Value = response.json().await.unwrap();
        sent.push((id, gemini_tokens(&body["usageMetadata"])));
    }
    // Streamed: the usage of the last chunk is the request's.
    let response = h
        .gemini_post(&format!(
            "/v1beta/models/{model}:streamGenerateContent?alt=sse"
        ))
        .json(&long_prompt("How?"))
        .send()
        .await
        .unwrap();
    let id = common::request_id(&response);
    let events = common::sse_data(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    sent.push((id, gemini_tokens(&last["usageMetadata"])));

    let records = h.stop().await;
    let record = |id: &str| records.iter().find(|r| r.id == id).unwrap();
    let (first_id, (prompt, cached, output)) = &sent[0];
    assert!(*prompt > 3_000);
    assert_eq!(*cached, 0, "the first request reads nothing from the cache");
    let first = record(first_id);
    assert_eq!(first.tokens_cached, Some(0));
    common::assert_cost(
        first.cost_usd,
        common::list_price_usd(model, *prompt, 0, *output),
    );
    for (id, (prompt, cached, output)) in &sent[1..] {
        let r = record(id);
        assert!(*cached >= 2_048 && cached < prompt, "{cached} of {prompt}");
        assert_eq!(r.tokens_in, Some(*prompt as i64));
        assert_eq!(r.tokens_cached, Some(*cached as i64));
        assert_eq!(r.tokens_out, Some(*output as i64));
        let expected = common::list_price_usd(model, *prompt, *cached, *output);
        common::assert_cost(r.cost_usd, expected);
        assert!(expected < common::list_price_usd(model, *prompt, 0, *output));
    }
    assert!(record(&sent[2].0).streamed);
}
