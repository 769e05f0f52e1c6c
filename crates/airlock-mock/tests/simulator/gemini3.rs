//! Gemini 3 fidelity over real HTTP: thought signatures issued and required
//! (whole and streamed, in either spelling), thinking configs checked per
//! model with Google's 400s, thought parts and `thoughtsTokenCount`, the
//! current catalogue (retired models 404, image and speech models answer
//! with media).

use airlock_mock::{MockConfig, RunningMock, spawn};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn mock() -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap()
}

async fn post(m: &RunningMock, model: &str, method: &str, body: &Value) -> (StatusCode, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = Client::new()
        .post(format!(
            "{}/v1beta/models/{model}:{method}",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn generate(m: &RunningMock, model: &str, body: &Value) -> (StatusCode, Value) {
    let (status, text) = post(m, model, "generateContent", body).await;
    (status, serde_json::from_str(&text).unwrap())
}

/// The `data:` events of an `alt=sse` stream.
async fn stream(m: &RunningMock, model: &str, body: &Value) -> Vec<Value> {
    let (status, text) = post(m, model, "streamGenerateContent?alt=sse", body).await;
    assert_eq!(status, 200, "{text}");
    text.split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

fn tools() -> Value {
    json!([{"functionDeclarations": [
        {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
        {"name": "get_time"}
    ]}])
}

fn parts(response: &Value) -> &Vec<Value> {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
}

fn result(name: &str) -> Value {
    json!({"role": "user", "parts": [{"functionResponse": {"name": name, "response": {"ok": true}}}]})
}

#[tokio::test]
async fn a_gemini_3_tool_conversation_needs_its_signatures_back() {
    let m = mock().await;
    let model = "gemini-3-pro-preview";
    let mut contents =
        vec![json!({"role": "user", "parts": [{"text": "Use get_weather, then get_time."}]})];
    let body = |contents: &[Value]| json!({"contents": contents, "tools": tools(), "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}});

    let (status, first) = generate(&m, model, &body(&contents)).await;
    assert_eq!(status, 200, "{first}");
    let call = parts(&first)[0].clone();
    assert_eq!(call["functionCall"]["name"], "get_weather");
    let signature = call["thoughtSignature"].as_str().unwrap().to_owned();
    assert!(STANDARD.decode(&signature).is_ok());
    assert!(
        first["usageMetadata"]["thoughtsTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );
    contents.push(first["candidates"][0]["content"].clone());
    contents.push(result("get_weather"));

    // Second step, the model's call sent back in snake_case.
    let mut snake = contents.clone();
    snake[1] = json!({"role": "model", "parts": [{"function_call": call["functionCall"], "thought_signature": signature}]});
    let (status, second) = generate(&m, model, &body(&snake)).await;
    assert_eq!(status, 200, "{second}");
    assert!(parts(&second)[0]["thoughtSignature"].is_string());

    // The same history without the signature is refused, as Google does.
    let mut stripped = contents.clone();
    stripped[1]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    let (status, error) = generate(&m, model, &body(&stripped)).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["message"],
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:get_weather` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    );

    // 2.5 models are lenient about the same history.
    let (status, _) = generate(&m, "gemini-2.5-flash", &body(&stripped)).await;
    assert_eq!(status, 200);
    // A new user turn ends the checked turn.
    stripped.push(json!({"role": "model", "parts": [{"text": "Sunny."}]}));
    stripped.push(json!({"role": "user", "parts": [{"text": "Thanks"}]}));
    let (status, last) = generate(&m, model, &json!({"contents": stripped})).await;
    assert_eq!(status, 200, "{last}");
    let last_part = parts(&last).last().unwrap();
    assert!(last_part["text"].is_string() && last_part["thoughtSignature"].is_string());
    m.shutdown().await;
}

#[tokio::test]
async fn streams_carry_signatures_where_google_puts_them() {
    let m = mock().await;
    let text = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]});
    let events = stream(&m, "gemini-3-flash-preview", &text).await;
    let last = events.last().unwrap();
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0]["text"], "",
        "the signature arrives in a final chunk with an empty text part"
    );
    assert!(last["candidates"][0]["content"]["parts"][0]["thoughtSignature"].is_string());
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(events[..events.len() - 1].iter().all(|e| {
        e["candidates"][0]["content"]["parts"][0]
            .get("thoughtSignature")
            .is_none()
    }));
    let (_, whole) = generate(&m, "gemini-3-flash-preview", &text).await;
    assert_eq!(
        parts(&whole)[0]["thoughtSignature"],
        last["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
        "streamed and whole answers are signed alike"
    );
    assert_eq!(last["usageMetadata"], whole["usageMetadata"]);

    let call = json!({"contents": [{"role": "user", "parts": [{"text": "get_time please"}]}], "tools": tools()});
    let events = stream(&m, "gemini-3.1-pro-preview", &call).await;
    let part = &events[0]["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "get_time");
    assert!(part["thoughtSignature"].is_string());
    m.shutdown().await;
}

#[tokio::test]
async fn thinking_configs_are_checked_per_model() {
    let m = mock().await;
    let with = |config: Value| json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": config}});
    let refused = [
        (
            "gemini-3-pro-preview",
            json!({"thinkingLevel": "MEDIUM"}),
            "Thinking level MEDIUM is not supported for this model. Please retry with other thinking level",
        ),
        (
            "gemini-3.1-pro-preview",
            json!({"thinking_level": "minimal"}),
            "Thinking level MINIMAL is not supported for this model. Please retry with other thinking level",
        ),
        (
            "gemini-2.5-flash",
            json!({"thinkingLevel": "LOW"}),
            "Thinking level is not supported for this model.",
        ),
        (
            "gemini-2.5-pro",
            json!({"thinkingBudget": 0}),
            "Budget 0 is invalid. This model only works in thinking mode.",
        ),
        (
            "gemini-3-pro-preview",
            json!({"thinkingBudget": 0}),
            "Budget 0 is invalid. This model only works in thinking mode.",
        ),
        (
            "gemini-2.5-flash",
            json!({"thinkingBudget": 30000}),
            "The thinking budget (30000) is invalid.",
        ),
        (
            "gemini-2.5-flash-lite",
            json!({"thinkingBudget": 100}),
            "The thinking budget (100) is invalid.",
        ),
        (
            "gemini-3-flash-preview",
            json!({"thinkingBudget": 512, "thinkingLevel": "LOW"}),
            "You can only set one of thinking budget and thinking level.",
        ),
    ];
    for (model, config, message) in refused {
        let (status, v) = generate(&m, model, &with(config.clone())).await;
        assert_eq!(status, 400, "{model} {config}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(v["error"]["message"], message, "{model} {config}");
    }
    let accepted = [
        (
            "gemini-3-flash-preview",
            json!({"thinkingLevel": "minimal"}),
        ),
        ("gemini-3.1-pro-preview", json!({"thinkingLevel": "MEDIUM"})),
        ("gemini-2.5-flash", json!({"thinkingBudget": 0})),
        ("gemini-2.5-pro", json!({"thinkingBudget": 32768})),
        ("gemini-2.5-flash-lite", json!({"thinkingBudget": 512})),
        ("gemini-3-pro-preview", json!({"thinkingBudget": 2048})),
        ("gemini-4-hydrogen", json!({"thinkingLevel": "XHIGH"})),
        ("gemini-2.0-flash", json!({"thinkingLevel": "HIGH"})),
    ];
    for (model, config) in accepted {
        let (status, v) = generate(&m, model, &with(config.clone())).await;
        assert_eq!(status, 200, "{model} {config}: {v}");
    }
    let (_, minimal) = generate(
        &m,
        "gemini-3-flash-preview",
        &with(json!({"thinkingLevel": "MINIMAL"})),
    )
    .await;
    assert!(minimal["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert!(
        parts(&minimal)[0]["thoughtSignature"].is_string(),
        "MINIMAL still signs"
    );
    m.shutdown().await;
}

#[tokio::test]
async fn include_thoughts_shows_a_thought_part_and_counts_thinking() {
    let m = mock().await;
    let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"thinking_config": {"include_thoughts": true, "thinking_budget": 2048}}});
    let (status, v) = generate(&m, "gemini-2.5-flash", &body).await;
    assert_eq!(status, 200, "{v}");
    let p = parts(&v);
    assert_eq!(p[0]["thought"], true);
    assert!(p[0]["text"].as_str().unwrap().len() > 10);
    assert!(
        p[0]["thoughtSignature"].is_string(),
        "2.5 signs its first part"
    );
    assert!(p[1].get("thought").is_none() && p[1]["text"].is_string());
    let u = &v["usageMetadata"];
    let thoughts = u["thoughtsTokenCount"].as_u64().unwrap();
    assert!(thoughts > 0 && thoughts <= 2048);
    assert_eq!(
        u["totalTokenCount"].as_u64().unwrap(),
        u["promptTokenCount"].as_u64().unwrap()
            + u["candidatesTokenCount"].as_u64().unwrap()
            + thoughts
    );
    let (_, plain) = generate(
        &m,
        "gemini-2.5-flash",
        &json!({"contents": body["contents"]}),
    )
    .await;
    assert!(plain["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert!(
        parts(&plain)
            .iter()
            .all(|p| p.get("thoughtSignature").is_none())
    );
    m.shutdown().await;
}

#[tokio::test]
async fn the_catalogue_is_current() {
    let m = mock().await;
    for retired in [
        "gemini-1.5-flash",
        "gemini-1.5-pro",
        "gemini-2.0-flash-exp",
        "gemini-2.5-flash-preview-05-20",
    ] {
        let (status, v) = generate(
            &m,
            retired,
            &json!({"contents": [{"parts": [{"text": "x"}]}]}),
        )
        .await;
        assert_eq!(status, 404, "{retired}");
        assert_eq!(
            v["error"]["message"],
            format!(
                "models/{retired} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
            )
        );
    }
    let body = json!({"contents": [{"parts": [{"text": "Say hello"}]}]});
    let (status, image) = generate(&m, "gemini-3-pro-image", &body).await;
    assert_eq!(status, 200, "{image}");
    let p = parts(&image);
    assert!(p[0]["text"].is_string());
    let png = STANDARD
        .decode(p[1]["inlineData"]["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert!(
        p[1]["thoughtSignature"].is_string(),
        "Gemini 3 image answers are signed on the last part"
    );
    let speak = json!({"contents": body["contents"], "generationConfig": {"responseModalities": ["AUDIO"]}});
    let (status, speech) = generate(&m, "gemini-3.8-flash-tts", &speak).await;
    assert_eq!(status, 200, "{speech}");
    assert_eq!(
        parts(&speech)[0]["inlineData"]["mimeType"],
        "audio/L16;codec=pcm;rate=24000"
    );
    assert_eq!(
        speech["usageMetadata"]["candidatesTokensDetails"],
        json!([{"modality": "AUDIO", "tokenCount": 15}])
    );
    let (status, listing) = {
        let r = Client::new()
            .get(format!("{}/v1beta/models", m.gemini_base_url()))
            .header("x-goog-api-key", "k")
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(listing.get("nextPageToken").is_none());
    let names: Vec<&str> = listing["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for current in [
        "models/gemini-3.1-pro-preview",
        "models/gemini-3-flash-preview",
        "models/gemini-3.1-flash-lite",
        "models/gemini-3.8-flash",
        "models/gemini-3.1-flash-image",
        "models/gemini-3.1-flash-tts-preview",
        "models/gemini-3.1-flash-live-preview",
    ] {
        assert!(names.contains(&current), "{current}");
    }
    m.shutdown().await;
}
