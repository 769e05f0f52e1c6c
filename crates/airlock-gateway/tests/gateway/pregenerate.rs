//! Pre-generation jobs through the admin API: a job fills the cache so
//! every item is then a hit; bad lines, a spent budget, a cancel and a
//! failing provider each end as they should.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Harness, MASTER_KEY};

async fn submit(h: &Harness, query: &str, file: String) -> (u16, Value) {
    let response = h
        .http
        .post(h.url(&format!("/admin/v1/pregenerate?{query}")))
        .bearer_auth(MASTER_KEY)
        .header("content-type", "application/jsonl")
        .body(file)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn job(h: &Harness, id: &str) -> Value {
    h.http
        .get(h.url(&format!("/admin/v1/pregenerate/{id}")))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /admin/v1/pregenerate/{id}/{action}` (`cancel`, `resume`): the
/// status and the body (`null` when it is not JSON).
async fn act(h: &Harness, id: &str, action: &str) -> (u16, Value) {
    let response = h
        .http
        .post(h.url(&format!("/admin/v1/pregenerate/{id}/{action}")))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The job once it has ended (completed, stopped or cancelled).
async fn ended(h: &Harness, id: &str) -> Value {
    for _ in 0..600 {
        let job = job(h, id).await;
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never ended: {}", job(h, id).await);
}

fn line(url: &str, body: Value) -> String {
    json!({"method": "POST", "url": url, "body": body}).to_string()
}

/// The `n`th of four kinds of request: chat, Gemini text, an image, speech.
fn mixed(n: usize) -> (String, Value) {
    match n % 4 {
        0 => (
            "/v1/chat/completions".into(),
            json!({"model": "gpt-4o-mini", "temperature": 0,
                   "messages": [{"role": "user", "content": format!("Branch {n}.")}]}),
        ),
        1 => (
            "/v1beta/models/gemini-2.5-flash:generateContent".into(),
            json!({"contents": [{"role": "user", "parts": [{"text": format!("Branch {n}.")}]}],
                   "generationConfig": {"temperature": 0}}),
        ),
        2 => (
            "/v1/images/generations".into(),
            json!({"model": "dall-e-2", "prompt": format!("Scene {n}"), "size": "256x256",
                   "response_format": "b64_json"}),
        ),
        _ => (
            "/v1/audio/speech".into(),
            json!({"model": "tts-1", "voice": "alloy", "input": format!("Narration {n}.")}),
        ),
    }
}

#[tokio::test]
async fn a_job_of_200_mixed_items_completes_and_every_item_is_then_a_hit() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story", json!({})).await;
    let requests: Vec<(String, Value)> = (0..200).map(mixed).collect();
    let file: Vec<String> = requests
        .iter()
        .map(|(url, body)| line(url, body.clone()))
        .collect();
    let (status, created) = submit(&h, "project=story&concurrency=8", file.join("\n")).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["total"], 200);
    assert_eq!(created["project"], "story");
    assert_eq!(created["rejected"], json!([]));
    let done = ended(&h, created["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(
        (done["done"].as_u64(), done["failed"].as_u64()),
        (Some(200), Some(0))
    );
    assert!(done["spend_usd"].as_f64().unwrap() > 0.0, "{done}");
    assert_eq!(done["eta_secs"], Value::Null);

    for (url, body) in &requests {
        let mut request = h
            .http
            .post(h.url(url))
            .json(body)
            .header("x-airlock-cache", "use");
        request = match url.starts_with("/v1beta") {
            true => request.header("x-goog-api-key", &key),
            false => request.bearer_auth(&key),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["x-airlock-cache"], "hit", "{url} {body}");
    }
    let records = h.stop().await;
    let by_job: Vec<_> = records
        .iter()
        .filter(|r| r.api_key_id.as_deref() == done["id"].as_str())
        .collect();
    assert_eq!(
        by_job.len(),
        200,
        "the job's requests are on record as the job's"
    );
}

#[tokio::test]
async fn malformed_lines_are_reported_by_number_and_the_rest_still_run() {
    let h = Harness::start().await;
    common::admin_project_key(&h, "story", json!({})).await;
    let (url, body) = mixed(0);
    let file = [
        line(&url, body),
        "{not json".to_string(),
        line("/v1/files", json!({})),
        line(
            "/v1/chat/completions",
            json!({"model": "no-such-model", "messages": []}),
        ),
    ]
    .join("\n");
    let (status, created) = submit(&h, "project=story", file).await;
    assert_eq!(status, 202, "{created}");
    let rejected: Vec<u64> = created["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [2, 3]);
    assert!(
        created["rejected"][1]["error"]
            .as_str()
            .unwrap()
            .contains("/v1/files")
    );
    assert_eq!(created["total"], 2);
    let done = ended(&h, created["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(
        (done["done"].as_u64(), done["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let failure = &done["failures"][0];
    assert_eq!(failure["line"], 4, "{done}");
    assert!(
        failure["error"].as_str().unwrap().starts_with("404"),
        "{done}"
    );

    let (status, refused) = submit(&h, "project=story", "nothing here\n".into()).await;
    assert_eq!(status, 400);
    assert_eq!(refused["rejected"][0]["line"], 1);
    let (status, unknown) = submit(&h, "project=nobody", line(&url, json!({}))).await;
    assert_eq!(status, 404, "{unknown}");
}

#[tokio::test]
async fn a_job_over_the_projects_budget_stops_with_the_reason() {
    let h = Harness::start().await;
    let settings = json!({"limits": {"budget": {"usd": 0.000_001, "period": "day"}}});
    common::admin_project_key(&h, "thrifty", settings).await;
    let file: Vec<String> = (0..6)
        .map(|n| mixed(n * 4))
        .map(|(url, body)| line(&url, body))
        .collect();
    let (_, created) = submit(&h, "project=thrifty&concurrency=1", file.join("\n")).await;
    let stopped = ended(&h, created["id"].as_str().unwrap()).await;
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    let reason = stopped["stop_reason"].as_str().unwrap();
    assert!(reason.contains("budget"), "{reason}");
    assert!(stopped["pending"].as_u64().unwrap() > 0, "{stopped}");
}

#[tokio::test]
async fn a_cancelled_job_starts_no_more_items_and_can_be_resumed() {
    let h = Harness::start().await;
    common::admin_project_key(&h, "story", json!({})).await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::from_millis(200),
        per_chunk: Duration::ZERO,
    });
    let file: Vec<String> = (0..20)
        .map(|n| mixed(n * 4))
        .map(|(url, body)| line(&url, body))
        .collect();
    let (_, created) = submit(&h, "project=story&concurrency=1", file.join("\n")).await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, cancelled) = act(&h, id, "cancel").await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let still = job(&h, id).await;
    let ran = still["done"].as_u64().unwrap();
    assert!(
        ran < 20 && still["pending"].as_u64().unwrap() == 20 - ran,
        "{still}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        job(&h, id).await["done"].as_u64().unwrap(),
        ran,
        "no item ran after the cancel"
    );

    let (status, resumed) = act(&h, id, "resume").await;
    assert_eq!(status, 200, "{resumed}");
    h.mock.server.set_latency(airlock_mock::Latency::default());
    let done = ended(&h, id).await;
    assert_eq!(
        (done["state"].as_str(), done["done"].as_u64()),
        (Some("completed"), Some(20))
    );
}

#[tokio::test]
async fn an_upstream_failing_mid_job_is_retried_then_reported() {
    let h = Harness::start().await;
    common::admin_project_key(&h, "story", json!({})).await;
    h.mock
        .server
        .set_fault(Some(airlock_mock::Fault::Status(503)));
    let (url, body) = mixed(0);
    let (_, created) = submit(&h, "project=story", line(&url, body)).await;
    let done = ended(&h, created["id"].as_str().unwrap()).await;
    assert_eq!(done["failed"], 1, "{done}");
    let error = done["failures"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("503"), "{error}");
    let records = h.stop().await;
    let attempts = records
        .iter()
        .filter(|r| r.api_key_id.as_deref() == created["id"].as_str())
        .count();
    assert_eq!(attempts, 1, "one request, its retries inside it");
}

#[tokio::test]
async fn another_kinds_job_is_not_found_and_left_alone() {
    let h = Harness::start().await;
    let other = airlock_store::NewJob {
        id: "job_another_kind".into(),
        kind: "export".into(),
        project_id: None,
        params: json!({}),
    };
    h.store.job_create(&other, &[json!({})], 0).await.unwrap();
    for action in ["cancel", "resume"] {
        let (status, answer) = act(&h, &other.id, action).await;
        assert_eq!(status, 404, "{action}: {answer}");
        let kept = h.store.job_get(&other.id).await.unwrap().unwrap();
        assert_eq!(kept.state, airlock_store::JobState::Queued, "{action}");
    }
}
