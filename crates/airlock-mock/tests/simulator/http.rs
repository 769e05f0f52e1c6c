//! The simulator over real HTTP: every route, both stream framings of
//! Gemini and OpenAI's SSE, the key rules, each fault (by header and by
//! `set_fault`), latency, validation errors, tool calls and determinism.

use std::time::{Duration, Instant};

use airlock_mock::{Fault, Latency, MockConfig, RunningMock, spawn};
use base64::Engine;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) async fn start(config: MockConfig) -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

pub(crate) async fn mock() -> RunningMock {
    start(MockConfig::default()).await
}

pub(crate) fn client() -> Client {
    // reqwest needs a process-wide crypto provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

/// POSTs a Gemini request; `path` is relative to the host root.
async fn gemini(m: &RunningMock, path: &str, key: &str, body: &Value) -> Response {
    client()
        .post(format!("{}/{path}", m.gemini_base_url()))
        .header("x-goog-api-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn openai(m: &RunningMock, path: &str, key: &str, body: &Value) -> Response {
    client()
        .post(format!("{}/{path}", m.openai_base_url()))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn hello() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]})
}

fn chat(content: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})
}

fn gemini_text(response: &Value) -> String {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// Reads a body until it ends or the connection fails; `true` if it failed.
async fn drain(mut r: Response) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    loop {
        match r.chunk().await {
            Ok(Some(bytes)) => got.extend_from_slice(&bytes),
            Ok(None) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

#[tokio::test]
async fn healthz_answers_ok_and_is_not_counted() {
    let m = mock().await;
    m.server.set_fault(Some(Fault::Status(500)));
    let r = client()
        .get(format!("{}/healthz", m.gemini_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    assert_eq!(m.server.requests_seen(), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_generate_content_in_every_version() {
    let m = mock().await;
    for version in ["v1", "v1beta", "v1alpha"] {
        let (status, v) = json_of(
            gemini(
                &m,
                &format!("{version}/models/gemini-2.5-flash:generateContent"),
                "k",
                &hello(),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let c = &v["candidates"][0];
        assert_eq!(c["content"]["role"], "model");
        assert_eq!(c["finishReason"], "STOP");
        assert_eq!(c["index"], 0);
        assert!(!gemini_text(&v).is_empty());
        let u = &v["usageMetadata"];
        assert_eq!(u["promptTokenCount"], 3);
        assert_eq!(
            u["totalTokenCount"].as_u64().unwrap(),
            u["promptTokenCount"].as_u64().unwrap() + u["candidatesTokenCount"].as_u64().unwrap()
        );
        assert_eq!(v["modelVersion"], "gemini-2.5-flash");
        assert!(v["responseId"].as_str().is_some_and(|id| !id.is_empty()));
    }
    // The key may also come as ?key=.
    let r = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.0-flash:generateContent?key=query-key",
            m.gemini_base_url()
        ))
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(m.server.requests_by_key().get("query-key"), Some(&1));
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_stream_framings_carry_the_same_text() {
    let m = mock().await;
    let (_, whole) = json_of(
        gemini(
            &m,
            "v1beta/models/gemini-2.5-flash:generateContent",
            "k",
            &hello(),
        )
        .await,
    )
    .await;

    let r = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "k",
        &hello(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    assert!(body.ends_with("\r\n\r\n"));
    let events: Vec<Value> = body
        .split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data: prefix")).unwrap())
        .collect();
    assert!((3..=8).contains(&events.len()), "{}", events.len());
    assert_eq!(
        events.iter().map(gemini_text).collect::<String>(),
        gemini_text(&whole)
    );
    let last = events.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
    assert!(events[0]["candidates"][0].get("finishReason").is_none());

    let r = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "k",
        &hello(),
    )
    .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = r.text().await.unwrap();
    assert!(body.starts_with("[{") && body.ends_with("}\n]"), "{body}");
    assert_eq!(body.matches("\n,\r\n").count(), events.len() - 1);
    let array: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        array.iter().map(gemini_text).collect::<String>(),
        gemini_text(&whole)
    );
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_count_tokens_agrees_with_usage() {
    let m = mock().await;
    let req = json!({
        "contents": [{"role": "user", "parts": [{"text": "count these words"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]}
    });
    let (_, generated) = json_of(
        gemini(
            &m,
            "v1beta/models/gemini-2.5-flash:generateContent",
            "k",
            &req,
        )
        .await,
    )
    .await;
    let (status, counted) = json_of(
        gemini(&m, "v1beta/models/gemini-2.5-flash:countTokens", "k", &json!({"generateContentRequest": {
            "model": "models/gemini-2.5-flash", "contents": req["contents"], "systemInstruction": req["systemInstruction"]
        }}))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{counted}");
    assert_eq!(
        counted["totalTokens"],
        generated["usageMetadata"]["promptTokenCount"]
    );
    assert_eq!(counted["totalTokens"], 5 + 2 + 258);
    let (_, contents_only) = json_of(
        gemini(
            &m,
            "v1/models/gemini-2.5-flash:countTokens",
            "k",
            &json!({"contents": req["contents"]}),
        )
        .await,
    )
    .await;
    assert_eq!(contents_only["totalTokens"], 5 + 258);
    assert_eq!(
        contents_only["promptTokensDetails"][1],
        json!({"modality": "IMAGE", "tokenCount": 258})
    );
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_embeddings() {
    let m = mock().await;
    let one = json!({"content": {"parts": [{"text": "embed me"}]}});
    let (status, v) = json_of(
        gemini(
            &m,
            "v1beta/models/gemini-embedding-001:embedContent",
            "k",
            &one,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let values: Vec<f64> = v["embedding"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), 3072);
    assert!((values.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-3);
    let (_, v) = json_of(
        gemini(
            &m,
            "v1beta/models/text-embedding-004:embedContent",
            "k",
            &one,
        )
        .await,
    )
    .await;
    assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 768);

    let batch = json!({"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 16},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "task_type": "RETRIEVAL_QUERY"}
    ]});
    let (status, v) = json_of(
        gemini(
            &m,
            "v1/models/text-embedding-004:batchEmbedContents",
            "k",
            &batch,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 16);
    assert_eq!(v["embeddings"][1]["values"].as_array().unwrap().len(), 768);

    let wrong_model = json!({"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}]});
    let (status, v) = json_of(
        gemini(
            &m,
            "v1/models/text-embedding-004:batchEmbedContents",
            "k",
            &wrong_model,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("* BatchEmbedContentsRequest.requests[0].model")
    );
    let (status, v) =
        json_of(gemini(&m, "v1/models/gemini-2.5-flash:embedContent", "k", &one).await).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_models_list_pages_and_get() {
    let m = mock().await;
    let get = |path: String| async move {
        json_of(
            client()
                .get(path)
                .header("x-goog-api-key", "k")
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (status, all) = get(format!("{}/v1beta/models", m.gemini_base_url())).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"models/gemini-2.5-flash") && names.contains(&"models/text-embedding-004")
    );
    assert!(all.get("nextPageToken").is_none());

    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let (_, page) = get(format!(
            "{}/v1/models?pageSize=5&pageToken={token}",
            m.gemini_base_url()
        ))
        .await;
        paged.extend(
            page["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_owned()),
        );
        match page["nextPageToken"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, names);

    let (status, model) = get(format!(
        "{}/v1beta/models/gemini-2.5-pro",
        m.gemini_base_url()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(model["name"], "models/gemini-2.5-pro");
    assert_eq!(model["inputTokenLimit"], 1_048_576);
    assert!(
        model["supportedGenerationMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("generateContent"))
    );
    let (status, err) = get(format!("{}/v1beta/models/gemini-0", m.gemini_base_url())).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["status"], "NOT_FOUND");
    let (status, err) = get(format!(
        "{}/v1beta/models?pageToken=garbage",
        m.gemini_base_url()
    ))
    .await;
    assert_eq!(status, 400, "{err}");
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_unknown_model_is_googles_404() {
    let m = mock().await;
    let (status, v) =
        json_of(gemini(&m, "v1beta/models/foo:generateContent", "k", &hello()).await).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], 404);
    assert_eq!(
        v["error"]["message"],
        "models/foo is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
    );
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_validation_errors() {
    let m = mock().await;
    let path = "v1beta/models/gemini-2.5-flash:generateContent";
    let error = |v: &Value| {
        (
            v["error"]["status"].as_str().unwrap().to_owned(),
            v["error"]["message"].as_str().unwrap().to_owned(),
        )
    };

    let mut unknown = hello();
    unknown["generationConfig"] = json!({"foo": 1});
    let (status, v) = json_of(gemini(&m, path, "k", &unknown).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error(&v),
        ("INVALID_ARGUMENT".into(), "Invalid JSON payload received. Unknown name \"foo\" at 'generation_config': Cannot find field.".into())
    );
    assert_eq!(
        v["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );

    let (status, v) = json_of(
        gemini(
            &m,
            path,
            "k",
            &json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error(&v).1.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Please use a valid role: user, model."
        )
    );

    let (status, v) = json_of(
        gemini(
            &m,
            path,
            "k",
            &json!({"generationConfig": {"temperature": 0.1}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error(&v).1.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "* GenerateContentRequest.contents: contents is not specified\n"
        )
    );
    let (_, v) = json_of(gemini(&m, path, "k", &json!({"contents": []})).await).await;
    assert_eq!(
        error(&v).1,
        "* GenerateContentRequest.contents: contents is not specified\n"
    );

    let r = client()
        .post(format!("{}/{path}", m.gemini_base_url()))
        .header("x-goog-api-key", "k")
        .body("{\"contents\": [")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert!(
        error(&v).1.starts_with("Invalid JSON payload received."),
        "{v}"
    );

    let r = client()
        .post(format!("{}/{path}", m.gemini_base_url()))
        .header("x-goog-api-key", "k")
        .body(vec![0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (status, v) = json_of(
        gemini(
            &m,
            path,
            "k",
            &json!({"contents": [{"parts": [{"text": 5}]}]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error(&v).1.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5"
        )
    );

    let (status, v) = json_of(gemini(&m, path, "k", &json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 1e300}})).await).await;
    assert_eq!(status, 400, "{v}");

    let (status, v) = json_of(gemini(&m, &format!("{path}?foo=1"), "k", &hello()).await).await;
    assert_eq!(status, 400);
    assert!(error(&v).1.contains("Cannot bind query parameter"));
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_snake_case_is_accepted_and_answers_like_camel_case() {
    let m = mock().await;
    let path = "v1beta/models/gemini-2.5-flash:generateContent";
    let camel = json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}]}],
        "systemInstruction": {"parts": [{"text": "short"}]},
        "generationConfig": {"maxOutputTokens": 400, "stopSequences": ["zzz"], "thinkingConfig": {"thinkingBudget": 0}},
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    });
    let snake = json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": "iVBORw=="}}]}],
        "system_instruction": {"parts": [{"text": "short"}]},
        "generation_config": {"max_output_tokens": 400, "stop_sequences": ["zzz"], "thinking_config": {"thinking_budget": 0}},
        "safety_settings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    });
    let (s1, a) = json_of(gemini(&m, path, "k", &camel).await).await;
    let (s2, b) = json_of(gemini(&m, path, "k", &snake).await).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{a} {b}");
    assert_eq!(gemini_text(&a), gemini_text(&b));
    m.shutdown().await;
}

fn weather_declaration() -> Value {
    json!({
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING"},
                "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "INTEGER", "minimum": 1, "maximum": 7},
                "stops": {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}, "required": ["name"]}}
            },
            "required": ["city", "unit"]
        }
    })
}

fn assert_weather_args(args: &Value) {
    assert!(args["city"].is_string(), "{args}");
    assert!(
        ["celsius", "fahrenheit"].contains(&args["unit"].as_str().unwrap()),
        "{args}"
    );
    if let Some(days) = args.get("days") {
        assert!((1..=7).contains(&days.as_i64().unwrap()), "{args}");
    }
    if let Some(stops) = args.get("stops") {
        assert!(
            stops
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["name"].is_string()),
            "{args}"
        );
    }
}

#[tokio::test]
async fn gemini_function_calling_modes() {
    let m = mock().await;
    let path = "v1beta/models/gemini-2.5-flash:generateContent";
    let other = json!({"name": "other_tool", "parametersJsonSchema": {"type": "object", "properties": {"x": {"type": "integer"}}}});
    let mut req = hello();
    req["tools"] = json!([{"functionDeclarations": [other, weather_declaration()]}]);
    req["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}});
    let (status, v) = json_of(gemini(&m, path, "k", &req).await).await;
    assert_eq!(status, 200, "{v}");
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "get_weather");
    assert_weather_args(&call["args"]);
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");

    // Auto: no call unless the last user turn names the tool.
    req["toolConfig"] = json!({"functionCallingConfig": {"mode": "AUTO"}});
    let (_, v) = json_of(gemini(&m, path, "k", &req).await).await;
    assert!(
        v["candidates"][0]["content"]["parts"][0]["text"].is_string(),
        "{v}"
    );
    req["contents"] = json!([{"role": "user", "parts": [{"text": "please use other_tool"}]}]);
    let (_, v) = json_of(gemini(&m, path, "k", &req).await).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "other_tool"
    );
    // After a function result, text.
    req["contents"].as_array_mut().unwrap().extend([
        json!({"role": "model", "parts": [{"functionCall": {"name": "other_tool", "args": {"x": 1}}}]}),
        json!({"role": "user", "parts": [{"functionResponse": {"name": "other_tool", "response": {"ok": true}}}]}),
    ]);
    let (_, v) = json_of(gemini(&m, path, "k", &req).await).await;
    assert!(
        v["candidates"][0]["content"]["parts"][0]["text"].is_string(),
        "{v}"
    );

    // Streamed, a call arrives whole in one chunk.
    req["toolConfig"] = json!({"function_calling_config": {"mode": "ANY"}});
    let body = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "k",
        &req,
    )
    .await
    .text()
    .await
    .unwrap();
    let calls = body.matches("\"functionCall\"").count();
    assert_eq!(calls, 1, "{body}");
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_json_mode_follows_the_schema() {
    let m = mock().await;
    let mut req = hello();
    req["generationConfig"] = json!({
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer", "minimum": 1900, "maximum": 2000}}, "required": ["title", "year"]}
    });
    let (_, v) = json_of(
        gemini(
            &m,
            "v1beta/models/gemini-2.5-flash:generateContent",
            "k",
            &req,
        )
        .await,
    )
    .await;
    let doc: Value = serde_json::from_str(&gemini_text(&v)).unwrap();
    assert!(doc["title"].is_string());
    assert!((1900..=2000).contains(&doc["year"].as_i64().unwrap()));
    m.shutdown().await;
}

#[tokio::test]
async fn openai_chat_completion_shape() {
    let m = mock().await;
    let r = openai(&m, "chat/completions", "k", &chat("hello")).await;
    assert!(r.headers().contains_key("x-request-id"));
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(v["model"], "gpt-4o-mini-2024-07-18");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert!(
        choice["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(choice["message"]["refusal"].is_null());
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["logprobs"].is_null());
    let usage = &v["usage"];
    assert_eq!(usage["prompt_tokens"], 2);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
    assert!(v["system_fingerprint"].as_str().unwrap().starts_with("fp_"));
    assert_eq!(v["service_tier"], "default");

    let mut limited = chat("hello");
    limited["max_tokens"] = json!(3);
    let (_, v) = json_of(openai(&m, "chat/completions", "k", &limited).await).await;
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    m.shutdown().await;
}

fn sse_events(body: &str) -> Vec<&str> {
    assert!(body.ends_with("\n\n"));
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data: prefix"))
        .collect()
}

#[tokio::test]
async fn openai_stream_with_usage() {
    let m = mock().await;
    let (_, whole) = json_of(openai(&m, "chat/completions", "k", &chat("hello")).await).await;
    let mut req = chat("hello");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let r = openai(&m, "chat/completions", "k", &req).await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    let events = sse_events(&body);
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"])
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, whole["choices"][0]["message"]["content"]);
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"], whole["usage"]);
    assert!(
        rest.iter()
            .all(|c| c["usage"].is_null() && c.get("usage").is_some())
    );
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");

    // Without include_usage the chunks carry no usage member at all.
    req["stream_options"] = Value::Null;
    let body = openai(&m, "chat/completions", "k", &req)
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    assert!(events[..events.len() - 1].iter().all(|e| {
        serde_json::from_str::<Value>(e)
            .unwrap()
            .get("usage")
            .is_none()
    }));
    m.shutdown().await;
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "stops": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}}
            },
            "required": ["city", "unit", "days", "stops"],
            "additionalProperties": false
        },
        "strict": true
    }})
}

#[tokio::test]
async fn openai_tool_calls() {
    let m = mock().await;
    let mut req = chat("what is the weather");
    req["tools"] = json!([{"type": "function", "function": {"name": "noop"}}, weather_tool()]);
    req["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, v) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_weather_args(&args);
    assert!(v["choices"][0]["message"]["content"].is_null());

    req["tool_choice"] = json!("required");
    req["stream"] = json!(true);
    let body = openai(&m, "chat/completions", "k", &req)
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert!(chunks.len() > 3);
    let args: Value = serde_json::from_str(&arguments).unwrap();
    if first["function"]["name"] == "get_weather" {
        assert_weather_args(&args);
    }
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // Auto mode answers text unless the tool is named; a tool result gets text.
    req["stream"] = json!(false);
    req["tool_choice"] = json!("auto");
    let (_, v) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    assert!(v["choices"][0]["message"]["tool_calls"].is_null());
    req["messages"] = json!([
        {"role": "user", "content": "use get_weather"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]);
    let (_, v) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    m.shutdown().await;
}

#[tokio::test]
async fn openai_json_schema_answers_validate() {
    let m = mock().await;
    let mut req = chat("give me a record");
    req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "rec", "strict": true, "schema": {
        "type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 2}}, "required": ["tags"], "additionalProperties": false
    }}});
    let (_, v) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    let doc: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(doc["tags"].as_array().unwrap().len() >= 2);
    req["response_format"] = json!({"type": "json_object"});
    let (status, _) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    assert_eq!(
        status, 400,
        "json_object needs the word json in the messages"
    );
    req["messages"][0]["content"] = json!("answer in JSON");
    let (_, v) = json_of(openai(&m, "chat/completions", "k", &req).await).await;
    assert!(
        serde_json::from_str::<Value>(v["choices"][0]["message"]["content"].as_str().unwrap())
            .unwrap()
            .is_object()
    );
    m.shutdown().await;
}

#[tokio::test]
async fn openai_embeddings_float_base64_and_dimensions() {
    let m = mock().await;
    let (status, f) = json_of(
        openai(&m, "embeddings", "k", &json!({"model": "text-embedding-3-small", "input": ["a b c", "d"], "encoding_format": "float"})).await,
    )
    .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["object"], "list");
    assert_eq!(f["data"][1]["index"], 1);
    assert_eq!(f["data"][0]["object"], "embedding");
    assert_eq!(f["data"][0]["embedding"].as_array().unwrap().len(), 1536);
    assert_eq!(f["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    let (_, b) = json_of(openai(&m, "embeddings", "k", &json!({"model": "text-embedding-3-small", "input": ["a b c", "d"], "encoding_format": "base64"})).await).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded.len(), 1536);
    assert!((f64::from(decoded[7]) - f["data"][0]["embedding"][7].as_f64().unwrap()).abs() < 1e-6);
    let (_, d) = json_of(
        openai(
            &m,
            "embeddings",
            "k",
            &json!({"model": "text-embedding-3-large", "input": [1, 2, 3], "dimensions": 256}),
        )
        .await,
    )
    .await;
    assert_eq!(
        d["data"][0]["embedding"].as_array().map(Vec::len),
        Some(256)
    );
    let (status, _) = json_of(
        openai(
            &m,
            "embeddings",
            "k",
            &json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    m.shutdown().await;
}

#[tokio::test]
async fn models_listing_is_shared_by_key_style() {
    let m = mock().await;
    let (status, list) = json_of(
        client()
            .get(format!("{}/models", m.openai_base_url()))
            .bearer_auth("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt-4o" && m["object"] == "model")
    );
    let (_, one) = json_of(
        client()
            .get(format!("{}/models/o3", m.openai_base_url()))
            .bearer_auth("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["id"], "o3");
    let (status, _) = json_of(
        client()
            .get(format!("{}/models/gpt-1", m.openai_base_url()))
            .bearer_auth("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let (_, gemini_list) = json_of(
        client()
            .get(format!("{}/models", m.openai_base_url()))
            .header("x-goog-api-key", "k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(gemini_list["models"].is_array());
    m.shutdown().await;
}

#[tokio::test]
async fn openai_validation_errors() {
    let m = mock().await;
    let check = |body: Value, status: u16, message: &'static str, param: Value, code: Value| {
        let m = &m;
        async move {
            let (s, v) = json_of(openai(m, "chat/completions", "k", &body).await).await;
            assert_eq!(s.as_u16(), status, "{v}");
            assert_eq!(v["error"]["message"], message);
            assert_eq!(v["error"]["param"], param);
            assert_eq!(v["error"]["code"], code);
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
    };
    let mut unknown = chat("x");
    unknown["foo"] = json!(1);
    check(
        unknown,
        400,
        "Unrecognized request argument supplied: foo",
        Value::Null,
        Value::Null,
    )
    .await;
    check(
        json!({"model": "gpt-4o"}),
        400,
        "Missing required parameter: 'messages'.",
        json!("messages"),
        json!("missing_required_parameter"),
    )
    .await;
    check(
        json!({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}),
        400,
        "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
        json!("messages[0].role"),
        json!("invalid_value"),
    )
    .await;
    let mut wrong = chat("x");
    wrong["max_tokens"] = json!("ten");
    check(
        wrong,
        400,
        "Invalid type for 'max_tokens': expected an integer, but got a string instead.",
        json!("max_tokens"),
        json!("invalid_type"),
    )
    .await;
    check(
        json!({"model": "foo", "messages": [{"role": "user", "content": "x"}]}),
        404,
        "The model `foo` does not exist or you do not have access to it.",
        Value::Null,
        json!("model_not_found"),
    )
    .await;
    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not parse the JSON body")
    );
    let r = client()
        .get(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = client()
        .post(format!("{}/nothing", m.openai_base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status.as_u16(), v["error"]["message"].as_str().unwrap()),
        (404, "Invalid URL (POST /v1/nothing)")
    );
    m.shutdown().await;
}

#[tokio::test]
async fn key_rules_for_both_providers() {
    let m = mock().await;
    let path = "v1beta/models/gemini-2.5-flash:generateContent";
    let r = client()
        .post(format!("{}/{path}", m.gemini_base_url()))
        .json(&hello())
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status.as_u16(), v["error"]["status"].as_str().unwrap()),
        (403, "PERMISSION_DENIED")
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Method doesn't allow unregistered callers")
    );
    let (status, v) = json_of(gemini(&m, path, "bad-key", &hello()).await).await;
    assert_eq!(
        (status.as_u16(), v["error"]["status"].as_str().unwrap()),
        (400, "INVALID_ARGUMENT")
    );
    assert_eq!(
        v["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let (status, v) = json_of(gemini(&m, path, "denied-key", &hello()).await).await;
    assert_eq!(
        (status.as_u16(), v["error"]["status"].as_str().unwrap()),
        (403, "PERMISSION_DENIED")
    );
    let r = gemini(&m, path, "limited-key", &hello()).await;
    assert!(r.headers().get("retry-after").is_none());
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status.as_u16(), v["error"]["status"].as_str().unwrap()),
        (429, "RESOURCE_EXHAUSTED")
    );
    assert_eq!(v["error"]["details"][2]["retryDelay"], "1s");

    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .json(&chat("x"))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You didn't provide an API key.")
    );
    assert!(v["error"]["code"].is_null());
    let (status, v) =
        json_of(openai(&m, "chat/completions", "bad-sk-proj-0123456789", &chat("x")).await).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(
        v["error"]["message"],
        "Incorrect API key provided: bad-sk-p**********6789. You can find your API key at https://platform.openai.com/account/api-keys."
    );
    let (status, _) = json_of(openai(&m, "chat/completions", "denied-x", &chat("x")).await).await;
    assert_eq!(status, 403);
    let r = openai(&m, "chat/completions", "limited-x", &chat("x")).await;
    assert_eq!(r.headers()["retry-after"], "1");
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].as_str().unwrap()),
        (429, "rate_limit_exceeded")
    );

    let counts = m.server.requests_by_key();
    assert_eq!(counts.get("bad-key"), Some(&1));
    assert_eq!(counts.get("limited-x"), Some(&1));
    assert_eq!(counts.len(), 6);
    assert_eq!(m.server.requests_seen(), 8);
    m.shutdown().await;
}

async fn gemini_fault(m: &RunningMock, fault: &str) -> Response {
    client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .header("x-mock-fault", fault)
        .json(&hello())
        .send()
        .await
        .unwrap()
}

async fn openai_fault(m: &RunningMock, fault: &str, body: &Value) -> Response {
    client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-fault", fault)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn faults_by_header() {
    let m = mock().await;
    let (status, v) = json_of(gemini_fault(&m, "status=503").await).await;
    assert_eq!(
        (status.as_u16(), v["error"]["status"].as_str().unwrap()),
        (503, "UNAVAILABLE")
    );
    assert_eq!(v["error"]["code"], 503);
    let (status, v) = json_of(openai_fault(&m, "status=500", &chat("x")).await).await;
    assert_eq!(
        (status.as_u16(), v["error"]["type"].as_str().unwrap()),
        (500, "server_error")
    );

    let r = gemini_fault(&m, "rate-limit=2").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    let (_, v) = json_of(r).await;
    assert_eq!(v["error"]["details"][2]["retryDelay"], "2s");
    let r = openai_fault(&m, "rate-limit=2", &chat("x")).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "2")
    );

    let started = Instant::now();
    let r = gemini_fault(&m, "slow-headers-ms=300").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 200);

    for bad in ["status=200", "explode=1", "status=abc"] {
        let (status, v) = json_of(gemini_fault(&m, bad).await).await;
        assert_eq!(
            (status.as_u16(), v["error"]["status"].as_str().unwrap()),
            (400, "INVALID_ARGUMENT"),
            "{bad}"
        );
        let (status, v) = json_of(openai_fault(&m, bad, &chat("x")).await).await;
        assert_eq!(
            (status.as_u16(), v["error"]["type"].as_str().unwrap()),
            (400, "invalid_request_error"),
            "{bad}"
        );
    }
    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-latency", "first-token-ms=soon")
        .json(&chat("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    m.shutdown().await;
}

#[tokio::test]
async fn disconnects_cut_streams_after_n_chunks() {
    let m = mock().await;
    let r = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .header("x-mock-fault", "disconnect-after=2")
        .json(&hello())
        .send()
        .await
        .unwrap();
    let (got, failed) = drain(r).await;
    assert!(failed, "the connection must be aborted");
    assert_eq!(String::from_utf8(got).unwrap().matches("data: ").count(), 2);

    let r = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .header("x-mock-fault", "disconnect-after=1")
        .json(&hello())
        .send()
        .await
        .unwrap();
    let (got, failed) = drain(r).await;
    assert!(failed);
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("[{") && !text.contains("\n,\r\n") && !text.ends_with(']'));

    let mut req = chat("x");
    req["stream"] = json!(true);
    let (got, failed) = drain(openai_fault(&m, "disconnect-after=3", &req).await).await;
    assert!(failed);
    let text = String::from_utf8(got).unwrap();
    assert_eq!(text.matches("data: ").count(), 3);
    assert!(!text.contains("[DONE]"));

    // Non-streaming: the headers may arrive, the body never does.
    let outcome = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-fault", "disconnect-after=0")
        .json(&chat("x"))
        .send()
        .await;
    match outcome {
        Err(_) => {}
        Ok(r) => assert!(r.bytes().await.is_err()),
    }
    m.shutdown().await;
}

#[tokio::test]
async fn stalls_hold_the_answer_open_and_resets_answer_nothing() {
    let m = mock().await;
    // A stream stalls after its chunks: they arrive, then nothing.
    let mut req = chat("x");
    req["stream"] = json!(true);
    let mut r = openai_fault(&m, "stall-after=2", &req).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut got = Vec::new();
    while got.iter().filter(|&&b| b == b'\n').count() < 4 {
        got.extend_from_slice(&r.chunk().await.unwrap().expect("two events"));
    }
    let more = tokio::time::timeout(Duration::from_millis(300), r.chunk()).await;
    assert!(more.is_err(), "nothing after the stall: {more:?}");
    assert_eq!(String::from_utf8(got).unwrap().matches("data: ").count(), 2);
    drop(r);
    // A complete answer stalls after its headers.
    let r = openai_fault(&m, "stall-after=0", &chat("x")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = tokio::time::timeout(Duration::from_millis(300), r.bytes()).await;
    assert!(body.is_err(), "no body after the headers");

    // A reset: no status line at all.
    let outcome = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-fault", "reset")
        .json(&chat("x"))
        .send()
        .await;
    let error = outcome.expect_err("no answer");
    assert!(!error.is_timeout(), "{error}");
    m.shutdown().await;
}

#[tokio::test]
async fn a_fault_rule_with_a_rate_fails_that_share_of_requests() {
    let m = mock().await;
    let added = client()
        .post(format!("{}/mock/faults", m.gemini_base_url()))
        .json(&json!({"provider": "openai", "fault": "status=500", "rate": 0.3, "times": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let mut failed = 0;
    for _ in 0..200 {
        let r = openai(&m, "chat/completions", "k", &chat("hi")).await;
        if r.status() == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
        } else {
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    // About 60 of 200; the draws are deterministic, the bound is loose.
    assert!((35..=85).contains(&failed), "{failed} of 200 failed");
    m.shutdown().await;
}

#[tokio::test]
async fn faults_by_set_fault_and_none_header() {
    let m = mock().await;
    m.server.set_fault(Some(Fault::Status(502)));
    let (status, v) = json_of(
        gemini(
            &m,
            "v1/models/gemini-2.5-flash:generateContent",
            "bad-key",
            &hello(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 502, "faults come before key rules: {v}");
    let r = gemini_fault(&m, "none").await;
    assert_eq!(r.status(), 200);

    m.server.set_fault(Some(Fault::RateLimit {
        retry_after_secs: 9,
    }));
    let r = openai(&m, "chat/completions", "k", &chat("x")).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "9")
    );

    m.server.set_fault(Some(Fault::DisconnectAfterChunks(1)));
    let mut req = chat("x");
    req["stream"] = json!(true);
    let (got, failed) = drain(openai(&m, "chat/completions", "k", &req).await).await;
    assert!(failed);
    assert_eq!(String::from_utf8(got).unwrap().matches("data: ").count(), 1);

    m.server
        .set_fault(Some(Fault::SlowHeaders(Duration::from_millis(250))));
    let started = Instant::now();
    let r = openai(&m, "chat/completions", "k", &chat("x")).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(r.status(), 200);

    m.server.set_fault(None);
    assert_eq!(
        openai(&m, "chat/completions", "k", &chat("x"))
            .await
            .status(),
        200
    );
    m.shutdown().await;
}

#[tokio::test]
async fn latency_by_config_and_header() {
    let m = start(MockConfig {
        latency: Latency {
            first_token: Duration::from_millis(200),
            per_chunk: Duration::ZERO,
        },
        ..MockConfig::default()
    })
    .await;
    let started = Instant::now();
    let r = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "k",
        &hello(),
    )
    .await;
    let (_, failed) = drain(r).await;
    assert!(!failed);
    assert!(started.elapsed() >= Duration::from_millis(200));

    m.server.set_latency(Latency {
        first_token: Duration::ZERO,
        per_chunk: Duration::from_millis(60),
    });
    let started = Instant::now();
    let (status, v) = json_of(openai(&m, "chat/completions", "k", &chat("x")).await).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "at least 3 chunks' worth"
    );

    let started = Instant::now();
    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-latency", "first-token-ms=300,per-chunk-ms=0")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": true}))
        .send()
        .await
        .unwrap();
    let (_, failed) = drain(r).await;
    assert!(!failed);
    assert!(started.elapsed() >= Duration::from_millis(300));
    m.shutdown().await;
}

#[tokio::test]
async fn answers_are_deterministic_per_seed() {
    let a = start(MockConfig {
        seed: 7,
        ..MockConfig::default()
    })
    .await;
    let b = start(MockConfig {
        seed: 7,
        ..MockConfig::default()
    })
    .await;
    let c = start(MockConfig {
        seed: 8,
        ..MockConfig::default()
    })
    .await;
    let text = |v: Value| {
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = text(
        json_of(openai(&a, "chat/completions", "k", &chat("same question")).await)
            .await
            .1,
    );
    assert_eq!(
        first,
        text(
            json_of(openai(&a, "chat/completions", "k", &chat("same question")).await)
                .await
                .1
        )
    );
    assert_eq!(
        first,
        text(
            json_of(openai(&b, "chat/completions", "k", &chat("same question")).await)
                .await
                .1
        )
    );
    assert_ne!(
        first,
        text(
            json_of(openai(&c, "chat/completions", "k", &chat("same question")).await)
                .await
                .1
        )
    );
    assert_ne!(
        first,
        text(
            json_of(openai(&a, "chat/completions", "k", &chat("other question")).await)
                .await
                .1
        )
    );

    let path = "v1beta/models/gemini-2.5-flash:generateContent";
    let g1 = gemini_text(&json_of(gemini(&a, path, "k", &hello()).await).await.1);
    assert_eq!(
        g1,
        gemini_text(&json_of(gemini(&b, path, "k", &hello()).await).await.1)
    );
    let e = |m: &RunningMock| {
        let m = m.openai_base_url();
        async move {
            let r = client()
                .post(format!("{m}/embeddings"))
                .bearer_auth("k")
                .json(&json!({"model": "text-embedding-3-small", "input": "x", "encoding_format": "float"}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["data"][0]["embedding"].clone()
        }
    };
    assert_eq!(e(&a).await, e(&b).await);
    assert_ne!(e(&a).await, e(&c).await);
    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn a_fault_rule_fails_one_side_for_its_requests_then_recovers() {
    let m = mock().await;
    let rules = format!("{}/mock/faults", m.gemini_base_url());
    let added = client()
        .post(&rules)
        .json(&json!({"provider": "openai", "fault": "status=503", "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    for _ in 0..2 {
        let r = openai(&m, "chat/completions", "k", &chat("hi")).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        // The other side is not touched.
        let g = gemini(
            &m,
            "v1beta/models/gemini-2.5-flash:generateContent",
            "k",
            &hello(),
        )
        .await;
        assert_eq!(g.status(), StatusCode::OK);
    }
    let r = openai(&m, "chat/completions", "k", &chat("hi")).await;
    assert_eq!(r.status(), StatusCode::OK, "two requests, then it recovers");
    // A rule for every request, until forgotten.
    client()
        .post(&rules)
        .json(&json!({"fault": "rate-limit=3"}))
        .send()
        .await
        .unwrap();
    let g = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:generateContent",
        "k",
        &hello(),
    )
    .await;
    assert_eq!(g.status(), StatusCode::TOO_MANY_REQUESTS);
    let listed: Value = client()
        .get(&rules)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    client().delete(&rules).send().await.unwrap();
    let g = gemini(
        &m,
        "v1beta/models/gemini-2.5-flash:generateContent",
        "k",
        &hello(),
    )
    .await;
    assert_eq!(g.status(), StatusCode::OK);
    for bad in [
        json!({"fault": "explode=1"}),
        json!({"provider": "azure", "fault": "status=500"}),
        json!({"fault": "status=503", "colour": 1}),
    ] {
        let r = client().post(&rules).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}
