//! OpenAI's Conversations API on Airlock's state: a conversation made,
//! read, updated and deleted; its items listed, added, read and deleted; a
//! response naming it sends its items upstream and adds its own; and only
//! its project sees it.

use crate::common;

use common::{Harness, MASTER_KEY};
use reqwest::Method;
use serde_json::{Value, json};

/// A request with a client key, and its status and JSON body.
async fn send(
    h: &Harness,
    method: Method,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h.http.request(method, h.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The last `/v1/responses` body the simulator received.
fn last_upstream_turn(h: &Harness) -> Value {
    common::last_received(h, "/v1/responses")
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": text})
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_conversation_is_made_read_updated_and_deleted() {
    let h = Harness::start().await;
    let (status, made) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/conversations",
        Some(json!({"items": [user("Hello")], "metadata": {"topic": "demo"}})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("conv_") && id.len() == 5 + 32, "{id}");
    assert_eq!(made["object"], "conversation");
    assert_eq!(made["metadata"], json!({"topic": "demo"}));
    assert!(made["created_at"].as_i64().unwrap() > 1_700_000_000);
    let path = format!("/v1/conversations/{id}");
    let (status, got) = send(&h, Method::GET, MASTER_KEY, &path, None).await;
    assert_eq!((status, got.clone()), (200, made.clone()));
    let (status, updated) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        &path,
        Some(json!({"metadata": {"topic": "changed"}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["metadata"], json!({"topic": "changed"}));
    let (_, items) = send(&h, Method::GET, MASTER_KEY, &format!("{path}/items"), None).await;
    assert_eq!(items["object"], "list");
    assert_eq!(
        items["data"][0]["content"],
        json!([{"type": "input_text", "text": "Hello"}])
    );
    let (status, deleted) = send(&h, Method::DELETE, MASTER_KEY, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "conversation.deleted", "deleted": true})
    );
    let (status, gone) = send(&h, Method::GET, MASTER_KEY, &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        gone["error"]["message"],
        format!("Conversation with id '{id}' not found.")
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_conversation_requests_are_refused_by_name() {
    let h = Harness::start().await;
    let cases = [
        (
            json!({"colour": "red"}),
            "colour",
            "Unknown parameter: 'colour'.",
        ),
        (
            json!({"items": vec![user("x"); 21]}),
            "items",
            "array too long",
        ),
        (
            json!({"items": [{"role": "robot", "content": "x"}]}),
            "items[0]",
            "'role'",
        ),
        (json!({"items": [7]}), "items[0]", "expected an object"),
        (
            json!({"metadata": (0..17).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "metadata",
            "at most 16 properties",
        ),
        (
            json!({"metadata": {"k": 5}}),
            "metadata",
            "expected a string",
        ),
    ];
    for (body, param, message) in cases {
        let (status, refused) = send(
            &h,
            Method::POST,
            MASTER_KEY,
            "/v1/conversations",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["error"]["param"], param, "{body}");
        let said = refused["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{body}: {said}");
    }
    let (_, made) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/conversations",
        Some(json!({})),
    )
    .await;
    let id = made["id"].as_str().unwrap();
    let (status, refused) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        &format!("/v1/conversations/{id}/items"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"]["message"],
        "Missing required parameter: 'items'."
    );
    let (status, _) = send(
        &h,
        Method::GET,
        MASTER_KEY,
        &format!("/v1/conversations/{id}/items/msg_nope"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    h.stop().await;
}

#[tokio::test]
async fn items_are_added_listed_in_pages_read_and_deleted() {
    let h = Harness::start().await;
    let (_, made) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/conversations",
        Some(json!({})),
    )
    .await;
    let items_path = format!("/v1/conversations/{}/items", made["id"].as_str().unwrap());
    let (status, added) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        &items_path,
        Some(json!({"items": [user("one"), user("two"), user("three")]})),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let added_ids = ids(&added);
    assert_eq!(added_ids.len(), 3);
    assert!(added_ids.iter().all(|id| id.starts_with("msg_")));
    assert_eq!(added["has_more"], false);
    // Newest first by default, two at a time.
    let (_, page) = send(
        &h,
        Method::GET,
        MASTER_KEY,
        &format!("{items_path}?limit=2"),
        None,
    )
    .await;
    assert_eq!(ids(&page), [added_ids[2].clone(), added_ids[1].clone()]);
    assert_eq!(page["has_more"], true);
    let (_, rest) = send(
        &h,
        Method::GET,
        MASTER_KEY,
        &format!("{items_path}?limit=2&after={}", added_ids[1]),
        None,
    )
    .await;
    assert_eq!(ids(&rest), [added_ids[0].clone()]);
    let one = format!("{items_path}/{}", added_ids[0]);
    let (status, item) = send(&h, Method::GET, MASTER_KEY, &one, None).await;
    assert_eq!(status, 200);
    assert_eq!(item["content"][0]["text"], "one");
    let (status, conversation) = send(&h, Method::DELETE, MASTER_KEY, &one, None).await;
    assert_eq!(status, 200);
    assert_eq!(conversation["object"], "conversation");
    let (status, _) = send(&h, Method::DELETE, MASTER_KEY, &one, None).await;
    assert_eq!(status, 404);
    let (_, left) = send(
        &h,
        Method::GET,
        MASTER_KEY,
        &format!("{items_path}?order=asc"),
        None,
    )
    .await;
    assert_eq!(ids(&left), added_ids[1..]);
    h.stop().await;
}

#[tokio::test]
async fn a_response_naming_a_conversation_sends_its_items_and_adds_its_own() {
    let h = Harness::start().await;
    let (_, made) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/conversations",
        Some(json!({"items": [user("My name is Ada.")]})),
    )
    .await;
    let id = made["id"].as_str().unwrap().to_string();
    let (status, first) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "conversation": id, "input": "What is my name?"})),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["conversation"], json!({"id": id}));
    let upstream = last_upstream_turn(&h);
    assert_eq!(
        upstream["input"],
        json!([user("My name is Ada."), user("What is my name?")])
    );
    assert!(upstream.get("conversation").is_none(), "{upstream}");
    // The turn's input and output joined the conversation; a second turn
    // (naming it as an object) sends all of it.
    let (_, items) = send(
        &h,
        Method::GET,
        MASTER_KEY,
        &format!("/v1/conversations/{id}/items?order=asc"),
        None,
    )
    .await;
    assert_eq!(items["data"].as_array().unwrap().len(), 3, "{items}");
    assert_eq!(items["data"][2]["id"], first["output"][0]["id"]);
    let (status, second) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "conversation": {"id": id}, "input": "Thanks."})),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let upstream = last_upstream_turn(&h);
    assert_eq!(upstream["input"].as_array().unwrap().len(), 4, "{upstream}");
    assert_eq!(upstream["input"][2], first["output"][0]);
    // Naming both a conversation and a previous response is refused.
    let (status, refused) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "conversation": id, "previous_response_id": first["id"], "input": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Mutually exclusive parameters"),
        "{refused}"
    );
    let (status, refused) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "conversation": "conv_nope", "input": "x"})),
    )
    .await;
    assert_eq!(status, 404, "{refused}");
    // Each turn's record names its conversation.
    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses" && r.status == 200)
        .collect();
    assert_eq!(turns.len(), 2);
    for turn in turns {
        assert_eq!(turn.conversation_id.as_deref(), Some(id.as_str()));
        assert_eq!(turn.history_turns_dropped, Some(0));
    }
}

#[tokio::test]
async fn turns_of_a_chain_share_one_conversation_in_the_request_log() {
    let h = Harness::start().await;
    let key =
        common::admin_project_key(&h, "chained", json!({"conversations": {"max_items": 4}})).await;
    let mut previous = Value::Null;
    for turn in 0..4 {
        let (status, answered) = send(
            &h,
            Method::POST,
            &key,
            "/v1/responses",
            Some(json!({"model": "gpt-4o-mini", "input": format!("turn {turn}"), "previous_response_id": previous})),
        )
        .await;
        assert_eq!(status, 200, "{answered}");
        previous = answered["id"].clone();
    }
    let records = h.stop().await;
    let turns: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "responses")
        .collect();
    let conversation = turns[0].conversation_id.clone().expect("a conversation id");
    assert!(conversation.starts_with("conv_"), "{conversation}");
    assert!(
        turns
            .iter()
            .all(|r| r.conversation_id.as_ref() == Some(&conversation))
    );
    // Four items allowed: turn 2 leaves out turn 0; turn 3 leaves out two.
    let dropped: Vec<_> = turns.iter().map(|r| r.history_turns_dropped).collect();
    assert_eq!(dropped, [Some(0), Some(0), Some(1), Some(2)]);
}

#[tokio::test]
async fn another_projects_key_cannot_reach_a_conversation() {
    let h = Harness::start().await;
    let key_a = common::admin_project_key(&h, "alpha", json!({})).await;
    let key_b = common::admin_project_key(&h, "beta", json!({})).await;
    let (_, made) = send(
        &h,
        Method::POST,
        &key_a,
        "/v1/conversations",
        Some(json!({"items": [user("secret plans")], "metadata": {"k": "secret"}})),
    )
    .await;
    let id = made["id"].as_str().unwrap();
    let (_, items) = send(
        &h,
        Method::GET,
        &key_a,
        &format!("/v1/conversations/{id}/items"),
        None,
    )
    .await;
    let item = ids(&items)[0].clone();
    for key in [key_b.as_str(), MASTER_KEY] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/conversations/{id}"), None),
            (
                Method::POST,
                format!("/v1/conversations/{id}"),
                Some(json!({"metadata": {}})),
            ),
            (Method::GET, format!("/v1/conversations/{id}/items"), None),
            (
                Method::POST,
                format!("/v1/conversations/{id}/items"),
                Some(json!({"items": [user("x")]})),
            ),
            (
                Method::GET,
                format!("/v1/conversations/{id}/items/{item}"),
                None,
            ),
            (
                Method::DELETE,
                format!("/v1/conversations/{id}/items/{item}"),
                None,
            ),
            (Method::DELETE, format!("/v1/conversations/{id}"), None),
            (
                Method::POST,
                "/v1/responses".to_string(),
                Some(json!({"model": "gpt-4o-mini", "conversation": id, "input": "go on"})),
            ),
        ] {
            let (status, body) = send(&h, method.clone(), key, &path, body).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert!(!body.to_string().contains("secret"), "{body}");
        }
    }
    let (status, _) = send(
        &h,
        Method::GET,
        &key_a,
        &format!("/v1/conversations/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn a_keys_own_history_bounds_replace_its_projects() {
    let h = Harness::start().await;
    let project_key =
        common::admin_project_key(&h, "bounded", json!({"conversations": {"max_items": 10}})).await;
    let created = common::admin_create(
        &h,
        "/admin/v1/projects/bounded/keys",
        json!({"name": "tight", "conversations": {"max_items": 3}}),
    )
    .await;
    assert_eq!(
        created["key"]["settings"]["conversations"],
        json!({"max_items": 3})
    );
    let tight_key = created["secret"].as_str().unwrap().to_string();
    let (status, refused) = send(
        &h,
        Method::POST,
        MASTER_KEY,
        "/admin/v1/projects/bounded/keys",
        Some(json!({"conversations": {"idle_ttl_secs": 0}})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    // The same three-turn chain through each key: the project's ten items
    // hold all of it, the key's three leave out the first turn.
    for (key, sent) in [(&project_key, 5), (&tight_key, 3)] {
        let mut previous = Value::Null;
        for turn in 0..3 {
            let (status, answered) = send(
                &h,
                Method::POST,
                key,
                "/v1/responses",
                Some(json!({"model": "gpt-4o-mini", "input": format!("turn {turn}"), "previous_response_id": previous})),
            )
            .await;
            assert_eq!(status, 200, "{answered}");
            previous = answered["id"].clone();
        }
        let upstream = last_upstream_turn(&h);
        assert_eq!(
            upstream["input"].as_array().unwrap().len(),
            sent,
            "{upstream}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn the_admin_api_lists_a_projects_conversations_and_shows_one() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "listed", json!({})).await;
    let (_, first) = send(
        &h,
        Method::POST,
        &key,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "input": "one", "user": "u1"})),
    )
    .await;
    send(
        &h,
        Method::POST,
        &key,
        "/v1/responses",
        Some(json!({"model": "gpt-4o-mini", "input": "two", "previous_response_id": first["id"]})),
    )
    .await;
    let (_, object) = send(
        &h,
        Method::POST,
        &key,
        "/v1/conversations",
        Some(json!({"items": [user("kept")], "metadata": {"k": "v"}})),
    )
    .await;
    let (status, listed) = admin(&h, "/admin/v1/projects/listed/conversations").await;
    assert_eq!(status, 200, "{listed}");
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{listed}");
    assert_eq!(data[0]["id"], object["id"], "most recently active first");
    assert_eq!(
        (data[0]["api"].clone(), data[0]["items"].clone()),
        (json!("conversations"), json!(1))
    );
    assert_eq!(
        (data[1]["api"].clone(), data[1]["turns"].clone()),
        (json!("responses"), json!(2))
    );
    assert_eq!(data[1]["end_user"], "u1");
    // A page at a time.
    let (_, page) = admin(&h, "/admin/v1/projects/listed/conversations?limit=1").await;
    let after = page["next_after"].as_str().unwrap().to_string();
    let (_, rest) = admin(
        &h,
        &format!("/admin/v1/projects/listed/conversations?limit=1&after={after}"),
    )
    .await;
    assert_eq!(rest["data"][0]["id"], data[1]["id"]);
    let (status, _) = admin(&h, "/admin/v1/projects/listed/conversations?after=junk").await;
    assert_eq!(status, 400);
    // One conversation, with its turns' input and output.
    let (status, shown) = admin(
        &h,
        &format!(
            "/admin/v1/conversations/{}",
            data[1]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    let turns = shown["turns"].as_array().unwrap();
    assert_eq!(turns[0]["id"], first["id"]);
    assert_eq!(turns[1]["input"][0]["content"], "two");
    assert_eq!(turns[1]["previous_response_id"], first["id"]);
    assert!(turns[1]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let (status, _) = admin(&h, "/admin/v1/conversations/conv_nope").await;
    assert_eq!(status, 404);
    // Not for a project key.
    let (status, _) = send(
        &h,
        Method::GET,
        &key,
        "/admin/v1/projects/listed/conversations",
        None,
    )
    .await;
    assert_eq!(status, 401);
    h.stop().await;
}

async fn admin(h: &Harness, path: &str) -> (u16, Value) {
    send(h, Method::GET, MASTER_KEY, path, None).await
}
