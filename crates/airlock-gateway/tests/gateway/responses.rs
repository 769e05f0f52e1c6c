//! OpenAI's Responses API with Airlock's state: turns continued by
//! `previous_response_id` with the history sent upstream statelessly,
//! stored turns read, listed and deleted, streams given Airlock's ids, and
//! a turn readable only by its project and end user.

use crate::common;

use common::{Framing, Harness, MASTER_KEY, Setup};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Instant;

/// The last `/v1/responses` body the simulator received.
fn last_upstream_turn(h: &Harness) -> Value {
    common::last_received(h, "/v1/responses")
}

/// A GET or DELETE with a client key.
async fn call(h: &Harness, method: Method, key: &str, url: String) -> reqwest::Response {
    h.http
        .request(method, url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn create(h: &Harness, key: &str, body: Value) -> (u16, Value) {
    let response = h
        .http
        .post(h.url("/v1/responses"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

#[tokio::test]
async fn a_turn_continues_from_its_previous_response_with_the_history_sent_upstream() {
    let h = Harness::start().await;
    let (status, first) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "instructions": "Be brief.", "input": "My name is Ada."}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let first_id = first["id"].as_str().unwrap().to_string();
    assert!(
        first_id.starts_with("resp_") && first_id.len() == 5 + 32,
        "{first_id}"
    );
    assert_eq!(first["store"], true);
    assert!(!output_text(&first).is_empty());
    // Upstream, the provider keeps nothing.
    let upstream = last_upstream_turn(&h);
    assert_eq!(upstream["store"], false);
    assert_eq!(upstream["input"].as_array().unwrap().len(), 1);

    let (status, second) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "previous_response_id": first_id, "input": [{"role": "user", "content": "What is my name?"}]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_response_id"], first_id.as_str());
    assert_ne!(second["id"], first["id"]);
    let upstream = last_upstream_turn(&h);
    assert_eq!(upstream["store"], false);
    assert!(upstream.get("previous_response_id").is_none(), "{upstream}");
    assert_eq!(
        upstream["input"],
        json!([
            {"type": "message", "role": "user", "content": "My name is Ada."},
            first["output"][0],
            {"role": "user", "content": "What is my name?"},
        ])
    );
    // Instructions are not carried over, as OpenAI does not carry them.
    assert!(upstream.get("instructions").is_none(), "{upstream}");
    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses")
        .collect();
    assert_eq!(turns.len(), 2);
    assert!(
        turns
            .iter()
            .all(|r| r.status == 200 && r.tokens_in > Some(0))
    );
    assert!(
        turns[1].tokens_in > turns[0].tokens_in,
        "the second turn sent the history"
    );
}

#[tokio::test]
async fn a_stored_response_is_retrieved_listed_and_deleted() {
    let h = Harness::start().await;
    let (_, created) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": [
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hello"},
        ]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let got: Value = call(
        &h,
        Method::GET,
        MASTER_KEY,
        h.url(&format!("/v1/responses/{id}")),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(got, created);

    let list = |query: String| {
        let url = h.url(&format!("/v1/responses/{id}/input_items{query}"));
        let h = &h;
        async move {
            let listed = call(h, Method::GET, MASTER_KEY, url).await;
            listed.json::<Value>().await.unwrap()
        }
    };
    let newest_first = list(String::new()).await;
    assert_eq!(newest_first["object"], "list");
    let data = newest_first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(
        data[0]["content"],
        json!([{"type": "input_text", "text": "Hello"}])
    );
    assert_eq!(data[0]["type"], "message");
    assert_eq!(newest_first["has_more"], false);
    let page = list("?order=asc&limit=1".into()).await;
    assert_eq!(page["data"][0]["content"][0]["text"], "Answer in French.");
    assert_eq!(page["data"][0]["role"], "developer");
    assert_eq!(page["has_more"], true);
    let after = page["last_id"].as_str().unwrap();
    let rest = list(format!("?order=asc&after={after}")).await;
    assert_eq!(rest["data"][0]["content"][0]["text"], "Hello");
    assert_eq!(rest["has_more"], false);

    let deleted = call(
        &h,
        Method::DELETE,
        MASTER_KEY,
        h.url(&format!("/v1/responses/{id}")),
    )
    .await;
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(
        deleted,
        json!({"id": id, "object": "response.deleted", "deleted": true})
    );
    let gone = call(
        &h,
        Method::GET,
        MASTER_KEY,
        h.url(&format!("/v1/responses/{id}")),
    )
    .await;
    assert_eq!(gone.status(), 404);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(
        gone["error"]["message"],
        format!("Response with id '{id}' not found.")
    );
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "previous_response_id": id, "input": "again"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "previous_response_not_found");
    assert_eq!(refused["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn a_turn_the_client_does_not_store_cannot_be_continued() {
    let h = Harness::start().await;
    let (status, created) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "store": false}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(created["store"], false);
    let id = created["id"].as_str().unwrap();
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "previous_response_id": id}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"]["message"],
        format!("Previous response with id '{id}' not found.")
    );
}

#[tokio::test]
async fn another_projects_key_or_end_user_cannot_read_or_continue_a_response() {
    let h = Harness::start().await;
    let key_a = common::admin_project_key(&h, "alpha", json!({})).await;
    let key_b = common::admin_project_key(&h, "beta", json!({})).await;
    let (_, created) = create(
        &h,
        &key_a,
        json!({"model": "gpt-4o-mini", "input": "secret plans", "user": "u1"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for key in [&key_b, MASTER_KEY] {
        let got = call(&h, Method::GET, key, h.url(&format!("/v1/responses/{id}"))).await;
        assert_eq!(got.status(), 404);
        let body = got.text().await.unwrap();
        assert!(!body.contains("secret plans"), "{body}");
        let (status, refused) = create(
            &h,
            key,
            json!({"model": "gpt-4o-mini", "input": "go on", "previous_response_id": id}),
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["code"], "previous_response_not_found");
        let deleted = call(
            &h,
            Method::DELETE,
            key,
            h.url(&format!("/v1/responses/{id}")),
        )
        .await;
        assert_eq!(deleted.status(), 404);
    }
    // The same project naming another end user is refused too; naming the
    // same one, or none (the project's server), continues.
    let (status, _) = create(
        &h,
        &key_a,
        json!({"model": "gpt-4o-mini", "input": "go on", "previous_response_id": id, "user": "u2"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = create(
        &h,
        &key_a,
        json!({"model": "gpt-4o-mini", "input": "go on", "previous_response_id": id, "safety_identifier": "u1"}),
    )
    .await;
    assert_eq!(status, 200);
    let got = call(
        &h,
        Method::GET,
        &key_a,
        h.url(&format!("/v1/responses/{id}")),
    )
    .await;
    assert_eq!(got.status(), 200);
}

/// The SSE events of a streamed answer, as (type, data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let mut kind = String::new();
            let mut data = String::new();
            for line in event.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    kind = rest.to_string();
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data.push_str(rest);
                }
            }
            (kind, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_turn_carries_airlocks_id_and_is_continued() {
    let h = Harness::start().await;
    let response = h
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "Tell me a story.", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    for (kind, data) in &events {
        assert_eq!(data["type"], kind.as_str());
    }
    let created = &events[0].1["response"];
    let completed = &events.last().unwrap().1["response"];
    let id = completed["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id.len() == 5 + 32, "{id}");
    assert_eq!(created["id"], id);
    assert_eq!(completed["store"], true);
    let deltas: String = events
        .iter()
        .filter(|(kind, _)| kind == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, output_text(completed));
    // The streamed turn was kept: it continues, with its answer as history.
    let (status, next) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "And then?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let upstream = last_upstream_turn(&h);
    assert_eq!(upstream["input"][1], completed["output"][0]);
    let records = h.stop().await;
    let streamed = records
        .iter()
        .find(|r| r.operation == "responses" && r.streamed)
        .expect("the streamed turn is logged");
    assert!(streamed.tokens_out > Some(0), "usage read from the stream");
}

#[tokio::test]
async fn the_responses_api_refuses_what_it_does_not_serve_by_name() {
    let h = Harness::with(Setup::default()).await;
    // A built-in tool a Gemini model cannot run through this API (yet).
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gemini-2.5-flash", "input": "hi", "tools": [{"type": "file_search"}]}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "tools[0].type");
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "conversation": 7}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "conversation");
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "background": true}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "background");
    let (status, refused) =
        create(&h, MASTER_KEY, json!({"model": "gpt-4o-mini", "input": 42})).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "input");
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "previous_response_id": 7}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "previous_response_id");
    // The provider's own refusals come through in OpenAI's words.
    let (status, refused) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "hi", "frobnicate": true}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "unknown_parameter");
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

#[tokio::test]
async fn a_conversation_moves_from_a_gpt_model_to_a_gemini_model() {
    let h = Harness::start().await;
    let (_, first) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "My name is Ada."}),
    )
    .await;
    let first_answer = output_text(&first);
    let (status, second) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gemini-2.5-flash", "instructions": "Be brief.", "input": "What is my name?", "previous_response_id": first["id"]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["object"], "response");
    assert_eq!(second["model"], "gemini-2.5-flash");
    assert_eq!(second["previous_response_id"], first["id"]);
    assert!(!output_text(&second).is_empty());
    assert!(
        second["usage"]["input_tokens"].as_u64() > Some(0),
        "{second}"
    );
    // Gemini got the whole conversation in its own terms.
    let upstream = last_upstream_gemini(&h);
    let contents = upstream["contents"].as_array().unwrap();
    let texts: Vec<(&str, &str)> = contents
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
    assert_eq!(
        upstream["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    // And back to GPT: the Gemini answer is history like any other.
    let (status, third) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "Thanks.", "previous_response_id": second["id"]}),
    )
    .await;
    assert_eq!(status, 200, "{third}");
    let upstream = last_upstream_turn(&h);
    assert_eq!(upstream["input"].as_array().unwrap().len(), 5);
    assert_eq!(
        upstream["input"][3]["content"][0]["text"],
        output_text(&second).as_str()
    );
}

#[tokio::test]
async fn a_streamed_gemini_turn_arrives_as_responses_events_as_they_are_produced() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let response = h
        .openai_post("/v1/responses")
        .json(
            &json!({"model": "gemini-2.5-flash", "input": "Tell me a long story.", "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (timed, _) = common::timed_events(response, Framing::Sse).await;
    let arrivals: Vec<Instant> = timed.iter().map(|(at, _)| *at).collect();
    let events: Vec<Value> = timed
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    let deltas: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["type"] == "response.output_text.delta")
        .map(|(i, _)| i)
        .collect();
    assert!(deltas.len() >= 2, "{events:?}");
    let delta_arrivals: Vec<_> = deltas.iter().map(|&i| arrivals[i]).collect();
    common::assert_arrived_as_produced(&delta_arrivals, "Responses deltas from Gemini");
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    let id = completed["response"]["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id.len() == 5 + 32, "{id}");
    assert_eq!(events[0]["response"]["id"], id);
    let text: String = deltas
        .iter()
        .map(|&i| events[i]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, output_text(&completed["response"]));
    let records = h.stop().await;
    let turn = records.iter().find(|r| r.operation == "responses").unwrap();
    assert!(turn.streamed && turn.tokens_out > Some(0), "{turn:?}");
}

#[tokio::test]
async fn a_projects_history_policy_bounds_what_is_sent_and_when_it_expires() {
    let h = Harness::start().await;
    let key = common::admin_project_key(
        &h,
        "bounded",
        json!({"conversations": {"max_items": 10, "idle_ttl_secs": 1}}),
    )
    .await;
    let mut previous = Value::Null;
    let mut truncated = Vec::new();
    for turn in 0..8 {
        let response = h
            .http
            .post(h.url("/v1/responses"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "input": format!("turn {turn}"), "previous_response_id": previous}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        truncated.push(
            response
                .headers()
                .get("x-airlock-history-truncated")
                .map(|v| v.to_str().unwrap().to_string()),
        );
        previous = response.json::<Value>().await.unwrap()["id"].clone();
    }
    // Turn 8 has 7 before it (14 items): 4 whole turns and its input fit in 10.
    let upstream = last_upstream_turn(&h);
    let input = upstream["input"].as_array().unwrap();
    assert_eq!(input.len(), 9, "{upstream}");
    assert_eq!(input[0]["content"], "turn 3");
    assert_eq!(input[8]["content"], "turn 7");
    assert_eq!(truncated[4], None, "turn 5: 4 turns and the input fit");
    assert_eq!(truncated[5].as_deref(), Some("1"));
    assert_eq!(truncated[7].as_deref(), Some("3"));
    // More new items than the policy allows is refused by name.
    let (status, refused) = create(
        &h,
        &key,
        json!({"model": "gpt-4o-mini", "input": vec![json!({"role": "user", "content": "x"}); 11]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "input");
    // Idle for longer than the policy's TTL: the conversation is gone.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, refused) = create(
        &h,
        &key,
        json!({"model": "gpt-4o-mini", "input": "still there?", "previous_response_id": previous}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "previous_response_not_found");
    // A bound of zero is refused when the project is set up.
    let refused = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"name": "zero", "conversations": {"max_items": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn a_key_without_the_responses_scope_cannot_read_or_delete_stored_responses() {
    let h = Harness::start().await;
    common::admin_project_key(&h, "scoped", json!({})).await;
    let full = common::admin_key(&h, "scoped").await;
    let created = common::admin_create(
        &h,
        "/admin/v1/projects/scoped/keys",
        json!({"operations": ["chat.completions"]}),
    )
    .await;
    let chat_only = created["secret"].as_str().unwrap();
    let (_, response) = create(&h, &full, json!({"model": "gpt-4o-mini", "input": "hi"})).await;
    let url = h.url(&format!(
        "/v1/responses/{}",
        response["id"].as_str().unwrap()
    ));
    for method in [Method::GET, Method::DELETE] {
        let refused = call(&h, method.clone(), chat_only, url.clone()).await;
        assert_eq!(refused.status(), 403, "{method}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "operation_not_allowed");
    }
    let (status, _) = create(
        &h,
        chat_only,
        json!({"model": "gpt-4o-mini", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(call(&h, Method::GET, &full, url).await.status(), 200);
}

#[tokio::test]
async fn a_stream_the_client_leaves_is_kept_as_incomplete_and_can_be_continued() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let mut response = h
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "Tell me a long story.", "stream": true}))
        .send()
        .await
        .unwrap();
    // Read up to the first text delta (the created event names the turn),
    // then leave.
    let mut body = String::new();
    while !body.contains("response.output_text.delta") {
        let chunk = response.chunk().await.unwrap().expect("more of the stream");
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    drop(response);
    let created: Value = body
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .unwrap();
    assert_eq!(created["type"], "response.created");
    let id = created["response"]["id"].as_str().unwrap().to_string();
    // The gateway finds the client gone at its next write; the turn is then
    // stored. Bounded polling, not a timing assertion.
    let url = h.url(&format!("/v1/responses/{id}"));
    let mut stored = None;
    for _ in 0..100 {
        let got = call(&h, Method::GET, MASTER_KEY, url.clone()).await;
        if got.status() == 200 {
            stored = Some(got.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stored = stored.expect("the interrupted turn is stored");
    assert_eq!(stored["status"], "incomplete");
    assert_eq!(stored["incomplete_details"]["reason"], "interrupted");
    assert_eq!(stored["id"], id.as_str());
    let (status, next) = create(
        &h,
        MASTER_KEY,
        json!({"model": "gpt-4o-mini", "input": "Go on.", "previous_response_id": id}),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let records = h.stop().await;
    assert!(
        records
            .iter()
            .any(|r| r.operation == "responses" && r.outcome == "client_disconnected"),
        "the cut stream is logged"
    );
}

#[tokio::test]
async fn a_turn_still_being_answered_cannot_be_continued_yet() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let mut streaming = h
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "Tell me a story.", "stream": true}))
        .send()
        .await
        .unwrap();
    // The first event names the turn while the rest is still to come.
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = streaming.chunk().await.unwrap().expect("an event");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let id = events(&seen)[0].1["response"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let continuation =
        json!({"model": "gpt-4o-mini", "input": "And then?", "previous_response_id": id});
    let (status, refused) = create(&h, MASTER_KEY, continuation.clone()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        format!("Previous response with id '{id}' is still in progress.")
    );
    // Another project is not told it exists.
    let other = common::admin_project_key(&h, "other", json!({})).await;
    let (status, refused) = create(&h, &other, continuation.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "previous_response_not_found");
    // Once answered, it continues.
    while streaming.chunk().await.unwrap().is_some() {}
    let (status, next) = create(&h, MASTER_KEY, continuation).await;
    assert_eq!(status, 200, "{next}");
    h.stop().await;
}

#[tokio::test]
async fn an_openai_compatible_server_answers_a_turn_through_chat_completions() {
    let h = Harness::with(Setup {
        routes: vec![("local-llama", "local", Some("gpt-4o-mini"))],
        ..Setup::default()
    })
    .await;
    let (status, first) = create(
        &h,
        MASTER_KEY,
        json!({"model": "local-llama", "instructions": "Be brief.", "input": "My name is Ada."}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["object"], "response");
    assert_eq!(first["status"], "completed");
    assert!(!output_text(&first).is_empty());
    assert!(first["usage"]["input_tokens"].as_u64().unwrap() > 0);
    // The continuation goes as a chat completion with the history as
    // messages; the server's Responses API is never called.
    let response = h
        .openai_post("/v1/responses")
        .json(&json!({"model": "local-llama", "input": "And my name?", "previous_response_id": first["id"], "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let streamed = events(&response.text().await.unwrap());
    assert_eq!(streamed.first().unwrap().0, "response.created");
    assert_eq!(streamed.last().unwrap().0, "response.completed");
    let received = h.mock.server.received();
    assert!(received.iter().all(|r| r.path != "/v1/responses"));
    let chat = received
        .iter()
        .rev()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("a chat completion upstream")
        .body
        .clone();
    assert_eq!(chat["model"], "gpt-4o-mini");
    // Each message's text, said as a string or as text parts.
    let contents: Vec<String> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match &m["content"] {
            Value::String(text) => text.clone(),
            parts => parts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .collect(),
        })
        .collect();
    assert_eq!(contents[0], "My name is Ada.");
    assert_eq!(contents[1], output_text(&first), "{chat}");
    assert_eq!(contents[2], "And my name?");
    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses")
        .collect();
    assert_eq!(turns.len(), 2);
    assert!(
        turns
            .iter()
            .all(|r| r.status == 200 && r.tokens_out > Some(0)),
        "usage read from both"
    );
}
