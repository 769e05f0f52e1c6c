//! Implicit prompt caching over HTTP: a long prefix seen before is reported
//! as cached tokens (Gemini `cachedContentTokenCount`, OpenAI
//! `prompt_tokens_details.cached_tokens`), per model, from each provider's
//! minimum, in whole 128-token blocks, streamed or not.

use airlock_mock::{MockConfig, RunningMock, spawn};
use reqwest::Client;
use serde_json::{Value, json};

async fn mock() -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap()
}

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

/// A text of exactly `tokens` tokens by the simulator's rule (4 characters
/// a token), different for each `seed`.
fn text_of(tokens: usize, seed: &str) -> String {
    let unit = format!("{seed:<4}");
    assert_eq!(unit.chars().count(), 4);
    unit.repeat(tokens)
}

async fn generate(m: &RunningMock, model: &str, body: &Value) -> Value {
    let r = client()
        .post(format!(
            "{}/v1beta/models/{model}:generateContent",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["usageMetadata"].clone()
}

/// Every chunk's `usageMetadata` of a `streamGenerateContent?alt=sse`.
async fn generate_streamed(m: &RunningMock, model: &str, body: &Value) -> Vec<Value> {
    let text = client()
        .post(format!(
            "{}/v1beta/models/{model}:streamGenerateContent?alt=sse",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .json(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str::<Value>(e).unwrap()["usageMetadata"].clone())
        .collect()
}

/// A system instruction of `system` tokens and a short question.
fn gemini_prompt(system: &str, question: &str) -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [{"role": "user", "parts": [{"text": question}]}]
    })
}

fn cached(usage: &Value) -> u64 {
    usage
        .get("cachedContentTokenCount")
        .map_or(0, |c| c.as_u64().unwrap())
}

#[tokio::test]
async fn gemini_reports_a_repeated_long_prefix_as_cached() {
    let m = mock().await;
    let system = text_of(2_500, "doc");
    let first = generate(&m, "gemini-2.5-flash", &gemini_prompt(&system, "one?")).await;
    assert_eq!(first["promptTokenCount"], 2_501);
    assert!(first.get("cachedContentTokenCount").is_none(), "{first}");
    assert!(first.get("cacheTokensDetails").is_none(), "{first}");

    // The same 2,500-token system instruction, another question: its 19
    // whole blocks are cached, and still counted in the prompt.
    let second = generate(&m, "gemini-2.5-flash", &gemini_prompt(&system, "two?")).await;
    assert_eq!(second["promptTokenCount"], 2_501);
    assert_eq!(second["cachedContentTokenCount"], 19 * 128);
    assert_eq!(
        second["cacheTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": 19 * 128}])
    );
    assert_eq!(
        second["totalTokenCount"].as_u64().unwrap(),
        2_501
            + second["candidatesTokenCount"].as_u64().unwrap_or(0)
            + second["thoughtsTokenCount"].as_u64().unwrap_or(0)
    );

    // Streamed: every chunk carries the prompt's counts, cached ones too.
    let chunks = generate_streamed(&m, "gemini-2.5-flash", &gemini_prompt(&system, "3?")).await;
    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|u| cached(u) == 19 * 128), "{chunks:?}");
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_caches_per_model_from_its_minimum() {
    let m = mock().await;
    // 2,047 prompt tokens: under 2.5's 2,048, never cached.
    let short = gemini_prompt(&text_of(2_046, "s"), "q");
    for _ in 0..3 {
        assert_eq!(cached(&generate(&m, "gemini-2.5-flash", &short).await), 0);
    }
    // 3,001 tokens: cached by 2.5 Pro on the second request, never by 3.5
    // Flash (minimum 4,096) nor 2.0 Flash (no implicit caching).
    let mid = gemini_prompt(&text_of(3_000, "m"), "q");
    for model in ["gemini-3.5-flash", "gemini-2.0-flash"] {
        for _ in 0..2 {
            assert_eq!(cached(&generate(&m, model, &mid).await), 0, "{model}");
        }
    }
    assert_eq!(cached(&generate(&m, "gemini-2.5-pro", &mid).await), 0);
    assert_eq!(
        cached(&generate(&m, "gemini-2.5-pro", &mid).await),
        23 * 128
    );
    // A model never reads another's cache.
    assert_eq!(cached(&generate(&m, "gemini-2.5-flash", &mid).await), 0);
    // 4,200 tokens reach Gemini 3's minimum.
    let long = gemini_prompt(&text_of(4_200, "l"), "q");
    assert_eq!(cached(&generate(&m, "gemini-3.5-flash", &long).await), 0);
    assert_eq!(
        cached(&generate(&m, "gemini-3.5-flash", &long).await),
        32 * 128
    );
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_cached_media_is_reported_by_modality() {
    let m = mock().await;
    let image = json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}});
    let body = |question: &str| {
        json!({"contents": [{"role": "user", "parts": [
            image, {"text": text_of(2_000, "txt")}, {"text": question}
        ]}]})
    };
    assert_eq!(
        cached(&generate(&m, "gemini-2.5-flash", &body("a")).await),
        0
    );
    let usage = generate(&m, "gemini-2.5-flash", &body("b")).await;
    // 258 image tokens, then 2,000 text tokens: 17 blocks (2,176 tokens).
    assert_eq!(cached(&usage), 17 * 128);
    assert_eq!(
        usage["cacheTokensDetails"],
        json!([
            {"modality": "TEXT", "tokenCount": 17 * 128 - 258},
            {"modality": "IMAGE", "tokenCount": 258}
        ])
    );
    // Another image at the start shares nothing.
    let mut other = body("b");
    other["contents"][0]["parts"][0]["inlineData"]["data"] = json!("AAAA");
    assert_eq!(cached(&generate(&m, "gemini-2.5-flash", &other).await), 0);
    m.shutdown().await;
}

async fn chat(m: &RunningMock, body: &Value) -> Value {
    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["usage"].clone()
}

fn openai_prompt(model: &str, system: &str, question: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": question}
    ]})
}

fn cached_tokens(usage: &Value) -> u64 {
    usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn openai_caches_from_1024_tokens_in_128_token_increments() {
    let m = mock().await;
    // 1,023 prompt tokens: never cached, and always reported as 0.
    let short = openai_prompt("gpt-4o-mini", &text_of(1_022, "s"), "q");
    for _ in 0..3 {
        let usage = chat(&m, &short).await;
        assert_eq!(usage["prompt_tokens"], 1_023);
        assert_eq!(cached_tokens(&usage), 0);
    }
    // 1,500 shared tokens: 11 blocks, 1,408 tokens.
    let system = text_of(1_500, "doc");
    let first = chat(&m, &openai_prompt("gpt-4o-mini", &system, "one?")).await;
    assert_eq!(cached_tokens(&first), 0);
    let second = chat(&m, &openai_prompt("gpt-4o-mini", &system, "two?")).await;
    assert_eq!(second["prompt_tokens"], 1_501);
    assert_eq!(cached_tokens(&second), 1_408);
    assert_eq!(second["prompt_tokens_details"]["audio_tokens"], 0);
    // Sharing only the first 1,100 tokens: 1,024, the shortest hit.
    let partial = format!("{}{}", &system[..4 * 1_100], text_of(400, "new"));
    let third = chat(&m, &openai_prompt("gpt-4o-mini", &partial, "x")).await;
    assert_eq!(cached_tokens(&third), 1_024);
    // Sharing 1,000 tokens is under the minimum: nothing.
    let little = format!("{}{}", &system[..4 * 1_000], text_of(500, "oth"));
    assert_eq!(
        cached_tokens(&chat(&m, &openai_prompt("gpt-4o-mini", &little, "x")).await),
        0
    );
    // Another model has its own cache.
    assert_eq!(
        cached_tokens(&chat(&m, &openai_prompt("gpt-4o", &system, "two?")).await),
        0
    );

    // The streamed usage chunk says the same.
    let mut streamed = openai_prompt("gpt-4o-mini", &system, "three?");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let body = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .json(&streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let usage_chunk = body
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .last()
        .unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(cached_tokens(&usage_chunk["usage"]), 1_408);
    m.shutdown().await;
}

#[tokio::test]
async fn openai_reports_input_audio_tokens() {
    let m = mock().await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is said?"},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    ]}]});
    let usage = chat(&m, &body).await;
    assert_eq!(usage["prompt_tokens_details"]["audio_tokens"], 258);
    assert_eq!(usage["prompt_tokens"], 4 + 258);
    m.shutdown().await;
}
