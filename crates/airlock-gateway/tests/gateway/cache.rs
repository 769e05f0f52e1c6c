//! The response cache: hits, streams replayed, single flight, what is and
//! is not kept, and what the request log says.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Harness};

const CHAT: &str = "/v1/chat/completions";

fn upstream_calls(h: &Harness, path: &str) -> usize {
    h.mock
        .server
        .received()
        .iter()
        .filter(|request| request.path == path)
        .count()
}

fn chat_body(content: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "temperature": 0,
        "messages": [{"role": "user", "content": content}],
    })
}

async fn chat(h: &Harness, body: &Value, cache: Option<&str>) -> (u16, String, String) {
    let mut request = h.openai_post("/v1/chat/completions").json(body);
    if let Some(cache) = cache {
        request = request.header("x-airlock-cache", cache);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let said = response
        .headers()
        .get("x-airlock-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, said, response.text().await.unwrap())
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_with_one_upstream_call() {
    let h = Harness::start().await;
    let body = chat_body("Tell me a story about a lighthouse.");
    let (status, said, first) = chat(&h, &body, Some("use")).await;
    assert_eq!((status, said.as_str()), (200, "miss"), "{first}");
    // Key order and the `user` field do not change the key.
    let reordered = json!({
        "messages": body["messages"],
        "user": "someone-else",
        "temperature": 0.0,
        "model": "gpt-4o-mini",
    });
    let (status, said, second) = chat(&h, &reordered, Some("use")).await;
    assert_eq!((status, said.as_str()), (200, "hit"));
    assert_eq!(first, second, "a hit is the answer as the miss got it");
    assert_eq!(upstream_calls(&h, CHAT), 1);

    let records = h.stop().await;
    let miss = records
        .iter()
        .find(|r| r.cache.as_deref() == Some("miss"))
        .unwrap();
    let hit = records
        .iter()
        .find(|r| r.cache.as_deref() == Some("hit"))
        .unwrap();
    assert_eq!(hit.tokens_in, miss.tokens_in);
    assert_eq!(hit.tokens_out, miss.tokens_out);
    assert!(miss.cost_usd.unwrap() > 0.0);
    assert_eq!(hit.cost_usd, Some(0.0), "a hit spends nothing");
    assert_eq!(hit.saved_usd, miss.cost_usd, "and saves what the miss cost");
}

#[tokio::test]
async fn a_streamed_answer_is_replayed_as_a_stream_on_a_hit() {
    let h = Harness::start().await;
    let mut body = chat_body("Stream me a haiku.");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, said, first) = chat(&h, &body, Some("use")).await;
    assert_eq!((status, said.as_str()), (200, "miss"));
    let events = common::sse_data(&first);
    assert!(events.len() > 3, "{first}");
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert!(
        events.iter().any(|e| e.contains("\"usage\":{")),
        "the usage chunk is part of the stream: {first}"
    );

    let (status, said, again) = chat(&h, &body, Some("use")).await;
    assert_eq!((status, said.as_str()), (200, "hit"));
    assert_eq!(
        again, first,
        "the same events, framing and usage chunk included"
    );
    assert_eq!(upstream_calls(&h, CHAT), 1);

    // A complete answer to the same messages is another entry.
    body["stream"] = json!(false);
    body.as_object_mut().unwrap().remove("stream_options");
    let (_, said, _) = chat(&h, &body, Some("use")).await;
    assert_eq!(said, "miss");
    assert_eq!(upstream_calls(&h, CHAT), 2);
}

#[tokio::test]
async fn a_hit_replays_a_stream_chunk_by_chunk() {
    let h = Harness::start().await;
    let mut body = chat_body("Stream me a limerick.");
    body["stream"] = json!(true);
    let (_, _, first) = chat(&h, &body, Some("use")).await;
    let response = h
        .openai_post("/v1/chat/completions")
        .header("x-airlock-cache", "use")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-airlock-cache"], "hit");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut chunks = 0;
    let mut replayed = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks += 1;
        replayed.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8(replayed).unwrap(), first);
    assert!(chunks > 1, "replayed as several chunks, not one body");
}

#[tokio::test]
async fn identical_requests_in_flight_make_one_upstream_call() {
    let h = Harness::start().await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::from_millis(500),
        per_chunk: Duration::ZERO,
    });
    let body = chat_body("One call for all of us.");
    let calls = (0..100).map(|_| chat(&h, &body, Some("use")));
    let answers = futures_util::future::join_all(calls).await;
    assert_eq!(upstream_calls(&h, CHAT), 1);
    let misses = answers.iter().filter(|(_, said, _)| said == "miss").count();
    let hits = answers.iter().filter(|(_, said, _)| said == "hit").count();
    assert_eq!((misses, hits), (1, 99));
    let first = &answers[0].2;
    assert!(
        answers
            .iter()
            .all(|(status, _, text)| *status == 200 && text == first)
    );
}

#[tokio::test]
async fn identical_streams_in_flight_share_one_upstream_stream_as_it_arrives() {
    let h = Harness::start().await;
    common::pace_streams(&h);
    let mut body = chat_body("Share this stream.");
    body["stream"] = json!(true);
    let start = |h: &Harness| {
        h.openai_post("/v1/chat/completions")
            .header("x-airlock-cache", "use")
            .json(&body)
            .send()
    };
    let (leader, follower) = tokio::join!(start(&h), start(&h));
    let (leader, follower) = (leader.unwrap(), follower.unwrap());
    let said: Vec<String> = [&leader, &follower]
        .iter()
        .map(|r| r.headers()["x-airlock-cache"].to_str().unwrap().to_string())
        .collect();
    assert!(said.contains(&"miss".to_string()) && said.contains(&"hit".to_string()));
    let (led, followed) = tokio::join!(
        common::timed_events(leader, common::Framing::Sse),
        common::timed_events(follower, common::Framing::Sse),
    );
    assert_eq!(led.1, followed.1);
    let arrivals: Vec<_> = followed.0.iter().map(|(at, _)| *at).collect();
    common::assert_arrived_as_produced(&arrivals, "the follower's stream");
    assert_eq!(upstream_calls(&h, CHAT), 1);
}

#[tokio::test]
async fn a_failed_call_reaches_every_follower_and_nothing_is_kept() {
    let h = Harness::start().await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::from_millis(300),
        per_chunk: Duration::ZERO,
    });
    h.mock
        .server
        .set_fault(Some(airlock_mock::Fault::Status(400)));
    let body = chat_body("This one fails.");
    let calls = (0..5).map(|_| chat(&h, &body, Some("use")));
    let answers = futures_util::future::join_all(calls).await;
    assert!(
        answers.iter().all(|(status, _, _)| *status == 400),
        "{answers:?}"
    );
    let first = &answers[0].2;
    assert!(answers.iter().all(|(_, _, text)| text == first));
    h.mock.server.set_fault(None);
    let (status, said, _) = chat(&h, &body, Some("use")).await;
    assert_eq!(
        (status, said.as_str()),
        (200, "miss"),
        "the failure was not kept"
    );
    // The simulator does not record a request it faults: the provider key
    // on the records says which requests went upstream.
    let records = h.stop().await;
    let sent = |status: u16| {
        records
            .iter()
            .filter(|r| r.status == status && r.key_id.is_some())
            .count()
    };
    assert_eq!((sent(400), sent(200)), (1, 1));
    assert_eq!(records.iter().filter(|r| r.status == 400).count(), 5);
}

#[tokio::test]
async fn random_answers_are_kept_only_when_the_project_says_so() {
    let h = Harness::start().await;
    let random = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Surprise me."}],
    });
    for _ in 0..2 {
        let (status, said, _) = chat(&h, &random, Some("use")).await;
        assert_eq!((status, said.as_str()), (200, "bypass"));
    }
    assert_eq!(upstream_calls(&h, CHAT), 2);
    // A seed makes it repeatable.
    let mut seeded = random.clone();
    seeded["seed"] = json!(7);
    chat(&h, &seeded, Some("use")).await;
    let (_, said, _) = chat(&h, &seeded, Some("use")).await;
    assert_eq!(said, "hit");

    let key = common::admin_project_key(&h, "story", json!({"cache": {"random": true}})).await;
    let ask = || {
        h.http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&random)
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(
        first.headers()["x-airlock-cache"],
        "miss",
        "the project turns it on"
    );
    let second = ask().await.unwrap();
    assert_eq!(second.headers()["x-airlock-cache"], "hit");
}

#[tokio::test]
async fn refresh_calls_again_and_bypass_neither_reads_nor_keeps() {
    let h = Harness::start().await;
    let body = chat_body("Refresh me.");
    chat(&h, &body, Some("use")).await;
    let (_, said, _) = chat(&h, &body, Some("refresh")).await;
    assert_eq!(said, "miss");
    let (_, said, _) = chat(&h, &body, Some("bypass")).await;
    assert_eq!(said, "bypass");
    assert_eq!(upstream_calls(&h, CHAT), 3);
    let (_, said, _) = chat(&h, &body, Some("use")).await;
    assert_eq!(said, "hit");
    // Nothing asked, nothing configured: the cache plays no part.
    let (_, said, _) = chat(&h, &body, None).await;
    assert_eq!(said, "");
    assert_eq!(upstream_calls(&h, CHAT), 4);
}

#[tokio::test]
async fn a_bad_cache_header_is_a_400_naming_it() {
    let h = Harness::start().await;
    let body = chat_body("Bad header.");
    let (status, _, text) = chat(&h, &body, Some("sometimes")).await;
    assert_eq!(status, 400);
    assert!(text.contains("x-airlock-cache"), "{text}");
    let response = h
        .openai_post("/v1/chat/completions")
        .header("x-airlock-cache-ttl", "forever")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("x-airlock-cache-ttl")
    );
    assert_eq!(upstream_calls(&h, CHAT), 0);
}

#[tokio::test]
async fn gemini_bodies_in_snake_case_and_camel_case_share_an_entry() {
    let h = Harness::start().await;
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let ask = |body: Value| {
        h.gemini_post(path)
            .header("x-airlock-cache", "use")
            .json(&body)
            .send()
    };
    let contents = json!([{"role": "user", "parts": [{"text": "A scene in a forest."}]}]);
    let camel = json!({"contents": contents, "generationConfig": {"temperature": 0}});
    let snake = json!({"contents": contents, "generation_config": {"temperature": 0.0}});
    let first = ask(camel).await.unwrap();
    assert_eq!(first.headers()["x-airlock-cache"], "miss");
    let first = first.text().await.unwrap();
    let second = ask(snake).await.unwrap();
    assert_eq!(second.headers()["x-airlock-cache"], "hit");
    assert_eq!(second.text().await.unwrap(), first);
    assert_eq!(
        upstream_calls(&h, "/v1beta/models/gemini-2.5-flash:generateContent"),
        1
    );
}

#[tokio::test]
async fn one_projects_entries_are_not_anothers() {
    let h = Harness::start().await;
    let body = chat_body("Private to a project.");
    let first = common::admin_project_key(&h, "one", json!({"cache": {}})).await;
    let second = common::admin_project_key(&h, "two", json!({"cache": {}})).await;
    for key in [&first, &second] {
        let response = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-airlock-cache"], "miss");
    }
    assert_eq!(upstream_calls(&h, CHAT), 2);
}

#[tokio::test]
async fn operators_see_what_the_cache_saved_and_can_clear_a_project() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story", json!({"cache": {"ttl_secs": 600}})).await;
    let body = chat_body("Count me.");
    for _ in 0..3 {
        h.http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    let admin = |method: reqwest::Method| {
        h.http
            .request(method, h.url("/admin/v1/cache?project=story"))
            .bearer_auth(common::MASTER_KEY)
    };
    // Entries and hit counts are written in the background.
    let mut stats = Value::Null;
    for _ in 0..100 {
        stats = admin(reqwest::Method::GET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["entries"] == 1 && stats["hits"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stats["entries"], 1, "{stats}");
    assert_eq!(stats["hits"], 2, "{stats}");
    assert!(stats["saved_usd"].as_f64().unwrap() > 0.0, "{stats}");
    assert!(stats["bytes"].as_u64().unwrap() > 0, "{stats}");

    // The metrics recorder is the process's: other tests count too.
    let metrics = h.metrics_text().await;
    let hits: f64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(
                r#"airlock_cache_requests_total{operation="chat.completions",result="hit"} "#,
            )
        })
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no hit count: {metrics}"));
    assert!(hits >= 2.0, "{metrics}");
    assert!(metrics.contains("airlock_cache_saved_usd "), "{metrics}");
    assert!(metrics.contains("airlock_cache_entries 1"), "{metrics}");

    let cleared: Value = admin(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["deleted"], 1);
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-airlock-cache"], "miss", "cleared");
    let audit: Value = h
        .http
        .get(h.url("/admin/v1/audit"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "cache.clear" && e["target"] == "story"),
        "{audit}"
    );
}
