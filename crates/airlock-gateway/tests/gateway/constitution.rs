//! Constitutional checks: a project's rules and judge hold each answer;
//! a rule that blocks turns the answer into a refusal in the client's
//! protocol (a stream is held until checked), one that flags is only
//! recorded, and every verdict is in the request's receipt beside the
//! constitution's digest.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use airlock_receipts::{Bodies, ReceiptEntry};
use serde_json::{Value, json};

use crate::common::{
    self, Framing, Harness, Setup, admin_call, admin_project_key, chat_with_key as chat,
    proven_receipt, sse_data, timed_events,
};

const PROMPT: &str = "Tell me a story about a lighthouse keeper.";

fn chat_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": PROMPT}]})
}

/// The answer text of a complete chat completion.
fn content(answer: &Value) -> String {
    answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("no content: {answer}"))
        .to_string()
}

/// A word of at least four letters in `text`.
fn a_word_of(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|word| word.len() >= 4)
        .unwrap_or_else(|| panic!("no word in {text:?}"))
        .to_lowercase()
}

/// Sets project `project`'s constitution through the admin API.
async fn set_constitution(h: &Harness, project: &str, constitution: &Value) {
    let (status, body) = admin_call(
        h,
        reqwest::Method::PATCH,
        &format!("/admin/v1/projects/{project}"),
        Some(json!({"constitution": constitution})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// SHA-256 (hex) of a constitution as receipts carry it.
fn policy_sha256(constitution: &Value) -> String {
    let parsed: airlock_store::Constitution = serde_json::from_value(constitution.clone()).unwrap();
    airlock_receipts::sha256_hex(&parsed.canonical_bytes())
}

/// The entry of receipt `receipt`, once proven and verified.
async fn receipt_entry(h: &Harness, key: &str, receipt: &str) -> ReceiptEntry {
    let bundle = proven_receipt(h, key, receipt).await;
    let none = Bodies {
        request: None,
        response: None,
    };
    let verifier = h.receipts.as_ref().unwrap().verifier();
    bundle.verify(&verifier, none).unwrap().entry
}

fn receipt_id(response: &reqwest::Response) -> String {
    response.headers()["x-airlock-receipt"]
        .to_str()
        .unwrap()
        .to_string()
}

/// Each result as (rule, result, action).
fn results(entry: &ReceiptEntry) -> Vec<(String, String, String)> {
    entry
        .checks
        .as_ref()
        .unwrap_or_else(|| panic!("the receipt has no checks: {entry:?}"))
        .results
        .iter()
        .map(|r| (r.rule.clone(), r.result.clone(), r.action.clone()))
        .collect()
}

/// The text of a chat stream's timed events, its content deltas joined.
fn streamed_text(events: &[(Instant, String)]) -> String {
    events
        .iter()
        .filter(|(_, data)| data != "[DONE]")
        .filter_map(|(_, data)| {
            let chunk: Value = serde_json::from_str(data).unwrap();
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

fn triple(rule: &str, result: &str, action: &str) -> (String, String, String) {
    (rule.into(), result.into(), action.into())
}

#[tokio::test]
async fn a_blocked_term_turns_a_chat_answer_into_a_refusal_that_its_receipt_records() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "story", json!({})).await;
    let body = chat_body("gpt-4o-mini", false);
    let free: Value = chat(&h, &key, &body).await.json().await.unwrap();
    let word = a_word_of(&content(&free));

    let constitution = json!({
        "text": "Stories for children: gentle words only, and short.",
        "rules": [
            {"id": "gentle", "blocked_terms": [word.to_uppercase()], "action": "block"},
            {"id": "short", "max_chars": 5},
            {"id": "no-numbers", "blocked_pattern": "[0-9]{6}"},
        ],
    });
    set_constitution(&h, "story", &constitution).await;
    let request = serde_json::to_vec(&body).unwrap();
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(request.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = receipt_id(&response);
    let sent = response.bytes().await.unwrap();
    let refused: Value = serde_json::from_slice(&sent).unwrap();
    let choice = &refused["choices"][0];
    assert_eq!(choice["finish_reason"], "content_filter", "{refused}");
    assert_eq!(choice["message"]["content"], Value::Null);
    let refusal = choice["message"]["refusal"].as_str().unwrap();
    assert!(refusal.contains("`gentle`"), "{refusal}");
    assert!(
        !sent
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    );
    // What was spent is still reported.
    assert_eq!(refused["usage"], free["usage"]);

    let bundle = proven_receipt(&h, &key, &receipt).await;
    let verified = bundle
        .verify(
            &h.receipts.as_ref().unwrap().verifier(),
            Bodies {
                request: Some(&request),
                response: Some(&sent),
            },
        )
        .unwrap();
    let entry = verified.entry;
    assert_eq!(entry.outcome, "blocked");
    assert_eq!(entry.policy_sha256, Some(policy_sha256(&constitution)));
    assert_eq!(entry.checks.as_ref().unwrap().verdict, "blocked");
    assert_eq!(
        results(&entry),
        vec![
            triple("gentle", "violated", "block"),
            triple("short", "violated", "flag"),
            triple("no-numbers", "pass", "flag"),
        ]
    );
    let records = h.stop().await;
    let record = records.iter().find(|r| r.outcome == "blocked").unwrap();
    assert_eq!(record.status, 200);
}

#[tokio::test]
async fn flagging_rules_only_record_and_leave_the_stream_live() {
    let h = Harness::start().await;
    let constitution = json!({"rules": [{"id": "ending", "required_phrase": "The End"}]});
    let key = admin_project_key(&h, "story", json!({"constitution": constitution})).await;
    common::pace_streams(&h);
    let response = chat(&h, &key, &chat_body("gpt-4o-mini", true)).await;
    assert_eq!(response.status(), 200);
    let receipt = receipt_id(&response);
    let (events, _) = timed_events(response, Framing::Sse).await;
    let arrivals: Vec<Instant> = events.iter().map(|(at, _)| *at).collect();
    common::assert_arrived_as_produced(&arrivals, "a stream under a flagging constitution");
    let text = streamed_text(&events);
    assert!(!text.is_empty());
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!(entry.outcome, "ok");
    assert_eq!(entry.checks.as_ref().unwrap().verdict, "flagged");
    assert_eq!(results(&entry), vec![triple("ending", "violated", "flag")]);
    assert_eq!(
        entry.response_sha256,
        Some(airlock_receipts::sha256_hex(text.as_bytes()))
    );
    h.stop().await;
}

#[tokio::test]
async fn a_held_stream_that_breaks_a_blocking_rule_is_replaced_by_a_refusal_in_each_protocol() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "story", json!({})).await;
    // The words each answer holds, unconstrained.
    let free: Value = chat(&h, &key, &chat_body("gpt-4o-mini", false))
        .await
        .json()
        .await
        .unwrap();
    let openai_word = a_word_of(&content(&free));
    let gemini_body = json!({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]});
    let gemini = |path: &str| {
        h.http
            .post(h.url(path))
            .header("x-goog-api-key", key.as_str())
            .json(&gemini_body)
    };
    let free: Value = gemini("/v1beta/models/gemini-2.5-flash:generateContent")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gemini_text = free["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    let gemini_word = a_word_of(gemini_text);
    set_constitution(
        &h,
        "story",
        &json!({"rules": [{"id": "gentle", "blocked_terms": [openai_word, gemini_word], "action": "block"}]}),
    )
    .await;

    // OpenAI chat: one refusal chunk, then [DONE]; nothing of the answer.
    let response = chat(&h, &key, &chat_body("gpt-4o-mini", true)).await;
    assert_eq!(response.status(), 200);
    let receipt = receipt_id(&response);
    let body = response.text().await.unwrap();
    assert!(!body.to_lowercase().contains(&openai_word), "{body}");
    let data = sse_data(&body);
    assert_eq!(data.len(), 2, "{body}");
    assert_eq!(data[1], "[DONE]");
    let chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(chunk["object"], "chat.completion.chunk");
    assert_eq!(chunk["choices"][0]["finish_reason"], "content_filter");
    assert!(
        chunk["choices"][0]["delta"]["refusal"]
            .as_str()
            .unwrap()
            .contains("`gentle`")
    );
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!((entry.outcome.as_str(), entry.streamed), ("blocked", true));
    // A withheld stream's digest is of the refusal as sent.
    assert_eq!(
        entry.response_sha256,
        Some(airlock_receipts::sha256_hex(body.as_bytes()))
    );
    assert_eq!(results(&entry), vec![triple("gentle", "violated", "block")]);

    // Gemini SSE, and Google's JSON array: a candidate that ends
    // PROHIBITED_CONTENT with the reason.
    let response = gemini("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(!body.to_lowercase().contains(&gemini_word), "{body}");
    let data = sse_data(&body);
    assert_eq!(data.len(), 1, "{body}");
    let chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(chunk["candidates"][0]["finishReason"], "PROHIBITED_CONTENT");
    assert!(
        chunk["candidates"][0]["finishMessage"]
            .as_str()
            .unwrap()
            .contains("`gentle`")
    );
    let array: Value = gemini("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(array.as_array().unwrap().len(), 1, "{array}");
    assert_eq!(
        array[0]["candidates"][0]["finishReason"],
        "PROHIBITED_CONTENT"
    );

    // A held stream that keeps the rules arrives whole, at its end.
    set_constitution(
        &h,
        "story",
        &json!({"rules": [{"id": "gentle", "blocked_terms": ["xylophone"], "action": "block"}]}),
    )
    .await;
    let expected = content(&free_chat(&h, &key).await);
    common::pace_streams(&h);
    let response = chat(&h, &key, &chat_body("gpt-4o-mini", true)).await;
    let (events, _) = timed_events(response, Framing::Sse).await;
    let first = events.first().unwrap().0;
    let last = events.last().unwrap().0;
    assert!(events.len() > 3, "{events:?}");
    assert!(
        last.duration_since(first) < common::PER_CHUNK / 2,
        "the simulator produced the chunks {:?} apart, and the held stream gave them together: {:?}",
        common::PER_CHUNK,
        last.duration_since(first)
    );
    let text = streamed_text(&events);
    assert_eq!(text, expected);
    let records = h.stop().await;
    let blocked = records.iter().filter(|r| r.outcome == "blocked").count();
    assert_eq!(blocked, 3);
}

/// The project's chat answer to [`PROMPT`] as a complete body.
async fn free_chat(h: &Harness, key: &str) -> Value {
    chat(h, key, &chat_body("gpt-4o-mini", false))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_model_the_constitution_does_not_allow_is_refused_before_it_is_called() {
    let h = Harness::start().await;
    let constitution =
        json!({"rules": [{"id": "vetted", "allowed_models": ["gemini-2.5-*"], "action": "block"}]});
    let key = admin_project_key(&h, "story", json!({"constitution": constitution})).await;
    let calls_before = h.mock.server.received().len();
    // `smart` routes to gpt-4o: refused, naming the rule; nothing sent upstream.
    let response = chat(&h, &key, &chat_body("smart", false)).await;
    assert_eq!(response.status(), 403);
    let receipt = receipt_id(&response);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "constitution_violation", "{error}");
    assert_eq!(error["error"]["param"], "model");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`vetted`")
    );
    assert_eq!(h.mock.server.received().len(), calls_before);
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!((entry.status, entry.outcome.as_str()), (403, "error"));
    assert_eq!(results(&entry), vec![triple("vetted", "violated", "block")]);
    // `fast` routes to gemini-2.5-flash: allowed.
    let response = chat(&h, &key, &chat_body("fast", false)).await;
    assert_eq!(response.status(), 200);
    let entry = receipt_entry(&h, &key, &receipt_id(&response)).await;
    assert_eq!(results(&entry), vec![triple("vetted", "pass", "block")]);
    h.stop().await;
}

/// An OpenAI-protocol judge that answers each chat completion with
/// `verdicts` (JSON text), and keeps the requests it was sent.
struct Judge {
    base_url: String,
    verdicts: Arc<Mutex<String>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Judge {
    async fn start() -> Judge {
        let verdicts = Arc::new(Mutex::new(String::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (said, kept) = (verdicts.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |axum::Json(request): axum::Json<Value>| {
                let (said, kept) = (said.clone(), kept.clone());
                async move {
                    kept.lock().unwrap().push(request.clone());
                    let content = said.lock().unwrap().clone();
                    axum::Json(json!({
                        "id": "chatcmpl-judge", "object": "chat.completion", "created": 0,
                        "model": request["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
                    }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Judge {
            base_url,
            verdicts,
            seen,
        }
    }

    fn will_say(&self, content: &str) {
        *self.verdicts.lock().unwrap() = content.to_string();
    }
}

#[tokio::test]
async fn the_judge_is_called_as_the_project_and_its_verdicts_decide_and_are_in_the_receipt() {
    let judge = Judge::start().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(judge.base_url.clone()),
        routes: vec![
            ("fast", "gemini", Some("gemini-2.5-flash")),
            ("reviewer", "openai", Some("gpt-4o-mini")),
        ],
        ..Setup::default()
    })
    .await;
    let constitution = json!({
        "text": "Kind and safe stories.",
        "judge": {"model": "reviewer", "principles": [
            {"id": "kind", "text": "The story is kind."},
            {"id": "safe", "text": "Nothing in it is dangerous to copy.", "action": "block"},
        ]},
    });
    let key = admin_project_key(&h, "story", json!({"constitution": constitution})).await;
    let ask = || async {
        h.http
            .post(h.url("/v1beta/models/fast:generateContent"))
            .header("x-goog-api-key", key.as_str())
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}))
            .send()
            .await
            .unwrap()
    };

    // Both upheld: the answer passes as it was.
    judge.will_say(r#"{"verdicts": [{"principle": "kind", "upheld": true}, {"principle": "safe", "upheld": true}]}"#);
    let response = ask().await;
    let receipt = receipt_id(&response);
    let answer: Value = response.json().await.unwrap();
    let text = answer["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = judge.seen.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "gpt-4o-mini");
    let shown = sent["messages"][1]["content"].as_str().unwrap();
    assert_eq!(shown, format!("<answer>\n{text}\n</answer>"));
    assert!(
        sent["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("- safe: Nothing in it is dangerous to copy.")
    );
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!(entry.checks.as_ref().unwrap().verdict, "passed");
    assert_eq!(
        results(&entry),
        vec![
            triple("kind", "pass", "flag"),
            triple("safe", "pass", "block")
        ]
    );

    // `safe` not upheld: the answer is withheld.
    judge.will_say(r#"{"verdicts": [{"principle": "kind", "upheld": true}, {"principle": "safe", "upheld": false}]}"#);
    let response = ask().await;
    let receipt = receipt_id(&response);
    let refused: Value = response.json().await.unwrap();
    assert_eq!(
        refused["candidates"][0]["finishReason"],
        "PROHIBITED_CONTENT"
    );
    assert!(
        refused["candidates"][0].get("content").is_none(),
        "{refused}"
    );
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!(entry.outcome, "blocked");
    assert_eq!(results(&entry)[1], triple("safe", "violated", "block"));

    // A judge that gives no verdict: its principles are unchecked, and
    // the one that blocks withholds the answer.
    judge.will_say("I would rather not say.");
    let response = ask().await;
    let receipt = receipt_id(&response);
    let refused: Value = response.json().await.unwrap();
    assert_eq!(
        refused["candidates"][0]["finishReason"],
        "PROHIBITED_CONTENT"
    );
    let entry = receipt_entry(&h, &key, &receipt).await;
    assert_eq!(
        results(&entry),
        vec![
            triple("kind", "unchecked", "flag"),
            triple("safe", "unchecked", "block")
        ]
    );

    // The judge's calls are the project's requests, under the judge's own
    // key, and are never judged themselves.
    let records = h.stop().await;
    let judged: Vec<_> = records
        .iter()
        .filter(|r| r.api_key_id.as_deref() == Some("constitution-judge"))
        .collect();
    assert_eq!(judged.len(), 3);
    assert_eq!(judge.seen.lock().unwrap().len(), 3);
    for record in judged {
        assert_eq!(record.project_id, records.last().unwrap().project_id);
        assert_eq!(record.operation, "chat.completions");
        assert!(record.cost_usd.is_some_and(|cost| cost > 0.0), "{record:?}");
    }
}

#[tokio::test]
async fn a_constitution_that_cannot_be_checked_is_refused_saying_why() {
    let h = Harness::start().await;
    let cases = [
        (
            json!({"rules": [{"id": "a", "max_chars": 3}, {"id": "a", "min_chars": 1}]}),
            "`a` is used twice",
        ),
        (
            json!({"rules": [{"id": "p", "blocked_pattern": "(open"}]}),
            "not a regular expression",
        ),
        (
            json!({"rules": [{"id": "two", "max_chars": 3, "min_chars": 1}]}),
            "exactly one of",
        ),
        (
            json!({"rules": [{"id": "x", "max_chars": 3, "action": "delete"}]}),
            "unknown variant",
        ),
        (
            json!({"judge": {"model": "m", "principles": []}}),
            "at least one principle",
        ),
        (
            json!({"rules": [{"id": "x", "max_chars": 3, "colour": "red"}]}),
            "unknown field",
        ),
    ];
    for (constitution, expected) in cases {
        let (status, body) = admin_call(
            &h,
            reqwest::Method::POST,
            "/admin/v1/projects",
            Some(json!({"name": "story", "constitution": constitution})),
        )
        .await;
        assert_eq!(status, 400, "{constitution}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{constitution}: {message}");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_answer_of_tool_calls_alone_has_no_text_for_the_rules_to_refuse() {
    let h = Harness::start().await;
    let constitution =
        json!({"rules": [{"id": "ending", "required_phrase": "The End", "action": "block"}]});
    let key = admin_project_key(&h, "story", json!({"constitution": constitution})).await;
    let tools = json!([{"type": "function", "function": {"name": "next_scene", "parameters": {"type": "object", "properties": {"scene": {"type": "string"}}, "required": ["scene"]}}}]);
    for stream in [false, true] {
        let mut body = chat_body("gpt-4o-mini", stream);
        body["tools"] = tools.clone();
        body["tool_choice"] = json!("required");
        let response = chat(&h, &key, &body).await;
        assert_eq!(response.status(), 200);
        let receipt = receipt_id(&response);
        let text = response.text().await.unwrap();
        assert!(text.contains("next_scene"), "{text}");
        assert!(!text.contains("withheld"), "{text}");
        let entry = receipt_entry(&h, &key, &receipt).await;
        assert_eq!((entry.outcome.as_str(), entry.checks), ("ok", None));
    }
    // A text answer without the phrase is refused: the rule is in force.
    let refused: Value = chat(&h, &key, &chat_body("gpt-4o-mini", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refused["choices"][0]["finish_reason"], "content_filter");
    h.stop().await;
}
