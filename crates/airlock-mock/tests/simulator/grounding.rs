//! Grounded answers over real HTTP: Gemini's `googleSearch` and `urlContext`
//! tools in either spelling (metadata whole and on the last stream chunk,
//! deterministic from the prompt, byte offsets that hold, tool-use tokens),
//! Google's refusals, and OpenAI's hosted web search in the Responses API
//! (a `web_search_call` item, `url_citation` annotations, streamed too).

use airlock_mock::RunningMock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::http::{client, json_of, mock, openai};

async fn post(m: &RunningMock, model: &str, method: &str, body: &Value) -> (StatusCode, String) {
    let r = client()
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

async fn stream(m: &RunningMock, model: &str, body: &Value) -> Vec<Value> {
    let (status, text) = post(m, model, "streamGenerateContent?alt=sse", body).await;
    assert_eq!(status, 200, "{text}");
    text.split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

fn ask(text: &str, tools: Value) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}], "tools": tools})
}

fn answer_text(candidate: &Value) -> String {
    candidate["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// Every support's byte range holds its text, and cites a listed chunk.
fn assert_supports_hold(candidate: &Value) {
    let text = answer_text(candidate);
    let metadata = &candidate["groundingMetadata"];
    let chunks = metadata["groundingChunks"].as_array().unwrap().len();
    let supports = metadata["groundingSupports"].as_array().unwrap();
    assert!(!supports.is_empty());
    for support in supports {
        let segment = &support["segment"];
        let start = segment["startIndex"].as_u64().unwrap_or(0) as usize;
        let end = segment["endIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            text.get(start..end),
            segment["text"].as_str(),
            "{segment} in {text}"
        );
        for index in support["groundingChunkIndices"].as_array().unwrap() {
            assert!((index.as_u64().unwrap() as usize) < chunks);
        }
    }
}

#[tokio::test]
async fn google_search_grounds_the_answer_in_either_spelling() {
    let m = mock().await;
    let question = "Who won the Tour de France in 2024?";
    let (status, camel) = generate(
        &m,
        "gemini-2.5-flash",
        &ask(question, json!([{"googleSearch": {}}])),
    )
    .await;
    assert_eq!(status, 200, "{camel}");
    let candidate = &camel["candidates"][0];
    let metadata = &candidate["groundingMetadata"];
    assert_eq!(
        metadata["webSearchQueries"][0],
        "who won the tour de france in 2024"
    );
    assert!(
        metadata["searchEntryPoint"]["renderedContent"]
            .as_str()
            .unwrap()
            .contains("https://www.google.com/search?q=who+won+the+tour")
    );
    let chunks = metadata["groundingChunks"].as_array().unwrap();
    assert!((2..=4).contains(&chunks.len()));
    assert!(chunks.iter().all(|c| {
        c["web"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("https://vertexaisearch.cloud.google.com/grounding-api-redirect/")
    }));
    let text = answer_text(candidate);
    assert!(text.starts_with("On “who won the tour de france in 2024”: "));
    assert_supports_hold(candidate);
    let second = &metadata["groundingSupports"][1]["segment"];
    assert_ne!(
        second["startIndex"].as_u64().unwrap() as usize,
        text[..second["startIndex"].as_u64().unwrap() as usize]
            .chars()
            .count(),
        "offsets are bytes, not characters"
    );

    let (status, snake) = generate(
        &m,
        "gemini-2.5-flash",
        &ask(question, json!([{"google_search": {}}])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        snake["candidates"][0]["groundingMetadata"], *metadata,
        "same prompt, same search"
    );
    let (_, other) = generate(
        &m,
        "gemini-3-flash-preview",
        &ask("Who won the Giro in 2024?", json!([{"googleSearch": {}}])),
    )
    .await;
    assert_ne!(
        other["candidates"][0]["groundingMetadata"]["groundingChunks"],
        metadata["groundingChunks"]
    );
}

#[tokio::test]
async fn a_stream_sends_the_grounding_with_its_last_chunk() {
    let m = mock().await;
    let body = ask(
        "Latest news on the Mars sample return?",
        json!([{"googleSearch": {}}]),
    );
    let chunks = stream(&m, "gemini-3-flash-preview", &body).await;
    let (last, rest) = chunks.split_last().unwrap();
    assert!(
        rest.iter()
            .all(|c| c["candidates"][0].get("groundingMetadata").is_none())
    );
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let (_, whole) = generate(&m, "gemini-3-flash-preview", &body).await;
    assert_eq!(
        last["candidates"][0]["groundingMetadata"],
        whole["candidates"][0]["groundingMetadata"]
    );
    let streamed: String = chunks
        .iter()
        .map(|c| answer_text(&c["candidates"][0]))
        .collect();
    assert_eq!(streamed, answer_text(&whole["candidates"][0]));

    let (status, text) = post(&m, "gemini-3-flash-preview", "streamGenerateContent", &body).await;
    assert_eq!(status, 200);
    let array: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(
        array.last().unwrap()["candidates"][0]["groundingMetadata"],
        whole["candidates"][0]["groundingMetadata"]
    );
}

#[tokio::test]
async fn url_context_reads_the_prompts_pages_and_counts_them() {
    let m = mock().await;
    let body = ask(
        "Compare https://docs.example/pricing with https://gone.invalid/page.",
        json!([{"url_context": {}}]),
    );
    let (status, v) = generate(&m, "gemini-2.5-flash", &body).await;
    assert_eq!(status, 200, "{v}");
    let candidate = &v["candidates"][0];
    assert_eq!(
        candidate["urlContextMetadata"],
        json!({"urlMetadata": [
            {"retrievedUrl": "https://docs.example/pricing", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"},
            {"retrievedUrl": "https://gone.invalid/page", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_ERROR"}
        ]})
    );
    assert_eq!(
        candidate["groundingMetadata"]["groundingChunks"],
        json!([{"web": {"uri": "https://docs.example/pricing", "title": "docs.example"}}])
    );
    assert_supports_hold(candidate);
    let usage = &v["usageMetadata"];
    let tool_use = usage["toolUsePromptTokenCount"].as_u64().unwrap();
    assert!(tool_use >= 600, "{usage}");
    assert_eq!(
        usage["toolUsePromptTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": tool_use}])
    );
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        usage["promptTokenCount"].as_u64().unwrap()
            + usage["candidatesTokenCount"].as_u64().unwrap()
            + tool_use
    );
}

#[tokio::test]
async fn grounding_tools_are_refused_as_google_refuses_them() {
    let m = mock().await;
    let cases = [
        (
            "gemini-2.5-flash",
            ask("x", json!([{"googleSearchRetrieval": {}}])),
            "google_search_retrieval is not supported. Please use google_search tool instead.",
        ),
        (
            "gemini-2.5-flash",
            ask(
                "x",
                json!([{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]),
            ),
            "Tool use with function calling is unsupported by the model.",
        ),
        (
            "gemini-3-flash-preview",
            ask(
                "x",
                json!([{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]),
            ),
            "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with Function calling.",
        ),
        (
            "gemini-2.5-flash",
            ask("x", json!([{"googleSearch": {"freshness": "day"}}])),
            "Invalid JSON payload received. Unknown name \"freshness\" at 'tools[0].google_search': Cannot find field.",
        ),
        (
            "gemini-2.5-flash",
            ask("x", json!([{"urlContext": {"urls": []}}])),
            "Invalid JSON payload received. Unknown name \"urls\" at 'tools[0].url_context': Cannot find field.",
        ),
        (
            "gemini-2.5-flash",
            ask(
                &(0..21)
                    .map(|i| format!("https://e.example/{i}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                json!([{"urlContext": {}}]),
            ),
            "Number of urls to lookup exceeds the limit (21 > 20)",
        ),
    ];
    for (model, body, message) in cases {
        let (status, v) = generate(&m, model, &body).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(v["error"]["message"], message);
    }
    let mut allowed = ask(
        "Use f.",
        json!([{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]),
    );
    allowed["toolConfig"] = json!({"includeServerSideToolInvocations": true});
    let (status, v) = generate(&m, "gemini-3-flash-preview", &allowed).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|p| p.get("functionCall"))
            .unwrap()["name"],
        "f"
    );
}

async fn respond(m: &RunningMock, body: &Value) -> (StatusCode, Value) {
    json_of(openai(m, "responses", "k", body).await).await
}

#[tokio::test]
async fn openai_web_search_answers_with_a_search_and_citations() {
    let m = mock().await;
    let body = json!({"model": "gpt-4o", "input": "Who won the Euro 2024?",
                      "tools": [{"type": "web_search", "search_context_size": "low"}],
                      "include": ["web_search_call.action.sources"], "store": false});
    let (status, v) = respond(&m, &body).await;
    assert_eq!(status, 200, "{v}");
    let output = v["output"].as_array().unwrap();
    assert_eq!(output.len(), 2);
    let call = &output[0];
    assert_eq!(call["type"], "web_search_call");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["action"]["query"], "who won the euro 2024");
    let sources = call["action"]["sources"].as_array().unwrap();
    let part = &output[1]["content"][0];
    let text: Vec<char> = part["text"].as_str().unwrap().chars().collect();
    let annotations = part["annotations"].as_array().unwrap();
    assert!(!annotations.is_empty());
    for a in annotations {
        assert_eq!(a["type"], "url_citation");
        let (start, end) = (
            a["start_index"].as_u64().unwrap() as usize,
            a["end_index"].as_u64().unwrap() as usize,
        );
        let cited: String = text[start..end].iter().collect();
        assert!(cited.contains(a["url"].as_str().unwrap()), "{cited}");
        assert!(sources.iter().any(|s| s["url"] == a["url"]));
    }
    let (_, again) = respond(&m, &body).await;
    assert_eq!(again["output"][1]["content"], output[1]["content"]);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let r = openai(&m, "responses", "k", &streamed).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.split_once("\ndata: ").map(|(_, d)| d))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[2], "response.output_item.added");
    assert_eq!(events[2]["item"]["type"], "web_search_call");
    assert!(kinds.contains(&"response.web_search_call.completed"));
    let added: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.annotation.added")
        .map(|e| &e["annotation"])
        .collect();
    assert_eq!(added.len(), annotations.len());
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(
        completed["response"]["output"][1]["content"],
        output[1]["content"]
    );
}

#[tokio::test]
async fn an_earlier_search_can_be_given_back_as_input() {
    let m = mock().await;
    let first = json!({"model": "gpt-4o", "input": "Who won the Euro 2024?",
                       "tools": [{"type": "web_search_preview"}], "store": false});
    let (_, answer) = respond(&m, &first).await;
    let mut input = vec![json!({"role": "user", "content": "Who won the Euro 2024?"})];
    input.extend(answer["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"role": "user", "content": "And in 2020?"}));
    let (status, v) = respond(
        &m,
        &json!({"model": "gpt-4o", "input": input, "tools": [{"type": "web_search_preview"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["output"][0]["action"]["query"], "and in 2020");
}
