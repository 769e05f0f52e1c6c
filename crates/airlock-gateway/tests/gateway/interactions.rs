//! Google's Interactions API on Airlock's conversation engine: interactions
//! created and continued by `previous_interaction_id` with the history sent
//! upstream statelessly, streamed as step events, read back and deleted,
//! readable only by their project, a function call and its result across
//! two turns, and every refusal in the Interactions API's error shape.

use crate::common;

use common::{Framing, Harness, MASTER_KEY};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Instant;

const GEMINI: &str = "gemini-2.5-flash";

/// A create with `key`, as google-genai sends it; the status and body.
async fn create(h: &Harness, key: &str, body: Value) -> (u16, Value) {
    let response = h
        .http
        .post(h.url("/v1/interactions"))
        .header("x-goog-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A GET or DELETE of `/v1/interactions/{id}{query}` with `key`.
async fn call(h: &Harness, method: Method, key: &str, id: &str, query: &str) -> (u16, Value) {
    let response = h
        .http
        .request(method, h.url(&format!("/v1/interactions/{id}{query}")))
        .header("x-goog-api-key", key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The text of an interaction's `model_output` steps.
fn output_text(interaction: &Value) -> String {
    interaction["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|step| step["type"] == "model_output")
        .flat_map(|step| step["content"].as_array().into_iter().flatten())
        .filter_map(|content| content["text"].as_str())
        .collect()
}

/// The last Gemini `generateContent` or `streamGenerateContent` body the
/// simulator received.
fn last_upstream_gemini(h: &Harness) -> Value {
    h.mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|request| {
            request.path.contains(":generateContent")
                || request.path.contains(":streamGenerateContent")
        })
        .expect("a turn reached the simulator's Gemini API")
        .body
}

/// An error in the Interactions API's shape: `code` and `message` only.
fn assert_interactions_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(
        body["error"].as_object().map(|error| error.len()),
        Some(2),
        "{body}"
    );
}

#[tokio::test]
async fn an_interaction_is_continued_with_its_history_sent_upstream() {
    let h = Harness::start().await;
    let (status, first) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "system_instruction": "Be brief.", "input": "My name is Ada."}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let first_id = first["id"].as_str().unwrap().to_string();
    assert!(
        first_id.starts_with("resp_") && first_id.len() == 5 + 32,
        "{first_id}"
    );
    assert_eq!(first["object"], "interaction");
    assert_eq!(first["model"], GEMINI);
    assert_eq!(first["status"], "completed");
    assert_eq!(first["system_instruction"], "Be brief.");
    assert!(first["created"].as_str().unwrap().ends_with('Z'), "{first}");
    // A create answers with its output steps only.
    assert_eq!(first["steps"].as_array().unwrap().len(), 1, "{first}");
    let first_answer = output_text(&first);
    assert!(!first_answer.is_empty());
    assert!(first["usage"]["total_input_tokens"].as_u64() > Some(0));
    assert!(first["usage"]["total_tokens"].as_u64() > Some(0));

    let (status, second) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": [{"type": "text", "text": "What is my name?"}], "previous_interaction_id": first_id}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_interaction_id"], first_id.as_str());
    assert_ne!(second["id"], first["id"]);
    // Gemini got the whole conversation, statelessly, in its own terms.
    let upstream = last_upstream_gemini(&h);
    let texts: Vec<(&str, &str)> = upstream["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["role"].as_str().unwrap(),
                c["parts"][0]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("user", "My name is Ada."),
            ("model", first_answer.as_str()),
            ("user", "What is my name?"),
        ]
    );
    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses")
        .collect();
    assert_eq!(turns.len(), 2);
    assert!(turns.iter().all(|r| r.status == 200));
    assert!(
        turns[1].tokens_in > turns[0].tokens_in,
        "the history was sent"
    );
}

#[tokio::test]
async fn a_streamed_interaction_arrives_as_step_events_as_they_are_produced() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let response = h
        .gemini_post("/v1/interactions")
        .json(&json!({"model": GEMINI, "input": "Tell me a long story.", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (timed, body) = common::timed_events(response, Framing::Sse).await;
    let events: Vec<Value> = timed
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    // Each event is named as its data says.
    for (event, block) in events.iter().zip(body.split("\n\n")) {
        assert_eq!(
            block.lines().next(),
            Some(format!("event: {}", event["event_type"].as_str().unwrap()).as_str())
        );
    }
    let deltas: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event_type"] == "step.delta")
        .map(|(i, _)| i)
        .collect();
    assert!(deltas.len() >= 2, "{events:?}");
    let arrivals: Vec<Instant> = deltas.iter().map(|&i| timed[i].0).collect();
    common::assert_arrived_as_produced(&arrivals, "Interactions step deltas from Gemini");
    assert_eq!(events[0]["event_type"], "interaction.created");
    assert_eq!(events[0]["interaction"]["status"], "in_progress");
    let start = events
        .iter()
        .find(|e| e["event_type"] == "step.start")
        .unwrap();
    assert_eq!(start["step"]["type"], "model_output");
    let completed = events.last().unwrap();
    assert_eq!(completed["event_type"], "interaction.completed");
    assert_eq!(completed["interaction"]["status"], "completed");
    assert!(completed["interaction"]["usage"]["total_output_tokens"].as_u64() > Some(0));
    let id = completed["interaction"]["id"].as_str().unwrap();
    assert_eq!(events[0]["interaction"]["id"], id);
    let text: String = deltas
        .iter()
        .map(|&i| events[i]["delta"]["text"].as_str().unwrap())
        .collect();
    // The streamed turn was kept: read back, it holds what was streamed.
    let (status, stored) = call(&h, Method::GET, MASTER_KEY, id, "").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(output_text(&stored), text);
    let records = h.stop().await;
    let turn = records.iter().find(|r| r.operation == "responses").unwrap();
    assert!(turn.streamed && turn.tokens_out > Some(0), "{turn:?}");
}

#[tokio::test]
async fn a_stored_interaction_is_read_and_deleted() {
    let h = Harness::start().await;
    let (_, created) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "Hello", "labels": {"team": "docs"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (status, got) = call(&h, Method::GET, MASTER_KEY, id, "?stream=false").await;
    assert_eq!(status, 200, "{got}");
    // Read back, the interaction lists its input first.
    assert_eq!(
        got["steps"][0],
        json!({"type": "user_input", "content": [{"type": "text", "text": "Hello"}]})
    );
    assert_eq!(got["steps"][1], created["steps"][0]);
    assert_eq!(got["labels"], json!({"team": "docs"}));
    assert!(got.get("input").is_none());
    let (_, with_input) = call(&h, Method::GET, MASTER_KEY, id, "?include_input=true").await;
    assert_eq!(with_input["input"], json!([got["steps"][0]]));

    let (status, deleted) = call(&h, Method::DELETE, MASTER_KEY, id, "").await;
    assert_eq!((status, deleted), (200, json!({})));
    let (status, gone) = call(&h, Method::GET, MASTER_KEY, id, "").await;
    assert_eq!(status, 404);
    assert_interactions_error(&gone, "not_found");
    assert_eq!(
        gone["error"]["message"],
        format!("Interaction with id '{id}' not found.")
    );
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "again", "previous_interaction_id": id}),
    )
    .await;
    assert_eq!(status, 404);
    assert_interactions_error(&refused, "not_found");
    let (status, _) = call(&h, Method::DELETE, MASTER_KEY, id, "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_projects_key_cannot_read_continue_or_delete_an_interaction() {
    let h = Harness::start().await;
    let owner = common::admin_project_key(&h, "alpha", json!({})).await;
    let stranger = common::admin_project_key(&h, "beta", json!({})).await;
    let (_, created) = create(
        &h,
        &owner,
        json!({"model": GEMINI, "input": "Our secret plan."}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (status, got) = call(&h, Method::GET, &stranger, id, "").await;
    assert_eq!(status, 404);
    assert!(!got.to_string().contains("secret plan"), "{got}");
    let (status, refused) = create(
        &h,
        &stranger,
        json!({"model": GEMINI, "input": "Go on.", "previous_interaction_id": id}),
    )
    .await;
    assert_eq!(status, 404);
    assert_interactions_error(&refused, "not_found");
    assert_eq!(call(&h, Method::DELETE, &stranger, id, "").await.0, 404);
    assert_eq!(
        call(&h, Method::POST, &stranger, &format!("{id}/cancel"), "")
            .await
            .0,
        404
    );
    let (status, continued) = create(
        &h,
        &owner,
        json!({"model": GEMINI, "input": "Go on.", "previous_interaction_id": id}),
    )
    .await;
    assert_eq!(status, 200, "{continued}");
    assert_eq!(call(&h, Method::GET, &owner, id, "").await.0, 200);
}

#[tokio::test]
async fn refusals_answer_in_the_interactions_error_shape() {
    let h = Harness::start().await;
    let (status, missing) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "hi", "previous_interaction_id": "resp_0123456789abcdef0123456789abcdef"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_interactions_error(&missing, "not_found");
    assert_eq!(
        missing["error"]["message"],
        "Previous interaction with id 'resp_0123456789abcdef0123456789abcdef' not found."
    );
    let (status, malformed) = create(&h, MASTER_KEY, json!({"model": GEMINI, "input": 42})).await;
    assert_eq!(status, 400);
    assert_interactions_error(&malformed, "invalid_request");
    let (status, unknown) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "hi", "frobnicate": true}),
    )
    .await;
    assert_eq!(status, 400);
    assert_interactions_error(&unknown, "parameter_unknown");
    let (status, agent) = create(
        &h,
        MASTER_KEY,
        json!({"agent": "deep-research-pro-preview-12-2025", "input": "Research tides."}),
    )
    .await;
    assert_eq!(status, 400);
    assert_interactions_error(&agent, "invalid_request");
    assert!(
        agent["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Agent interactions ('deep-research-pro-preview-12-2025') are not served"),
        "{agent}"
    );
    let (status, tool) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "hi", "tools": [{"type": "url_context"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        tool["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'url_context'"),
        "{tool}"
    );
    let (status, model) = create(
        &h,
        MASTER_KEY,
        json!({"model": "no-such-model", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_interactions_error(&model, "model_not_found");
    // Not JSON at all.
    let response = h
        .gemini_post("/v1/interactions")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_interactions_error(&response.json().await.unwrap(), "invalid_request");
    // The provider's own refusal (a thinking level for a model that does
    // not think) comes through in the same shape.
    let (status, upstream) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "generation_config": {"thinking_level": "low"}}),
    )
    .await;
    assert_eq!(status, 400, "{upstream}");
    assert_interactions_error(&upstream, "invalid_request");
    // Streams are not replayed, and nothing runs in the background.
    let (_, created) = create(&h, MASTER_KEY, json!({"model": GEMINI, "input": "hi"})).await;
    let id = created["id"].as_str().unwrap();
    let (status, replay) = call(&h, Method::GET, MASTER_KEY, id, "?stream=true").await;
    assert_eq!(status, 400);
    assert_interactions_error(&replay, "invalid_request");
    let (status, cancel) = call(&h, Method::POST, MASTER_KEY, &format!("{id}/cancel"), "").await;
    assert_eq!(status, 400);
    assert_interactions_error(&cancel, "invalid_request");
}

#[tokio::test]
async fn a_function_call_and_its_result_span_two_turns() {
    let h = Harness::start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let (status, first) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "What is the weather in Paris?", "tools": tools,
               "generation_config": {"tool_choice": "any"}}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "requires_action");
    let call = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["type"] == "function_call")
        .expect("a function call step")
        .clone();
    assert_eq!(call["name"], "get_weather");
    assert!(call["arguments"]["city"].is_string(), "{call}");
    let call_id = call["id"].as_str().unwrap();
    assert!(!call_id.is_empty());

    let (status, second) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "previous_interaction_id": first["id"], "tools": tools,
               "input": [{"type": "function_result", "call_id": call_id, "name": "get_weather", "result": "18 C, sunny"}]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "completed");
    assert!(!output_text(&second).is_empty());
    // Upstream, the call and its result closed the history.
    let upstream = last_upstream_gemini(&h);
    let contents = upstream["contents"].as_array().unwrap();
    let call_part = contents[contents.len() - 2]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part.get("functionCall").is_some())
        .expect("the call in the history");
    assert_eq!(call_part["functionCall"]["name"], "get_weather");
    let result = &contents[contents.len() - 1]["parts"][0]["functionResponse"];
    assert_eq!(result["name"], "get_weather");
}

#[tokio::test]
async fn a_chain_started_on_the_responses_api_continues_as_an_interaction() {
    let h = Harness::start().await;
    let first: Value = h
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "My name is Ada."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, second) = create(
        &h,
        MASTER_KEY,
        json!({"model": GEMINI, "input": "What is my name?", "previous_interaction_id": first["id"]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_interaction_id"], first["id"]);
    let contents = last_upstream_gemini(&h)["contents"].clone();
    assert_eq!(contents.as_array().unwrap().len(), 3, "{contents}");
    assert_eq!(contents[0]["parts"][0]["text"], "My name is Ada.");
    // And the interaction reads back through the Responses API.
    let id = second["id"].as_str().unwrap();
    let got = h
        .http
        .get(h.url(&format!("/v1/responses/{id}")))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
}
