//! The Batch APIs: OpenAI's `/v1/batches` from an uploaded input file, and
//! Gemini's `batchGenerateContent` with inline requests or a file, run by
//! Airlock's job runner at the batch price. Each bad input of the issue is
//! here: malformed lines (reported per line, the rest run), a batch over
//! budget, another project's batch id, and refused parameters.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Harness};

fn chat_line(custom_id: &str, text: &str) -> String {
    json!({
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "temperature": 0,
                 "messages": [{"role": "user", "content": text}]},
    })
    .to_string()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Uploads `lines` as a JSONL file for `purpose`; its id.
async fn upload_lines(h: &Harness, key: &str, lines: &[String], purpose: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("purpose", purpose.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(lines.join("\n").into_bytes())
                .file_name("requests.jsonl"),
        );
    let response = h
        .http
        .post(h.url("/v1/files"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_of(response, 200).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn create_batch(h: &Harness, key: &str, body: Value) -> reqwest::Response {
    h.http
        .post(h.url("/v1/batches"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn openai_batch(h: &Harness, key: &str, lines: &[String]) -> Value {
    let file = upload_lines(h, key, lines, "batch").await;
    let body = json!({"input_file_id": file, "endpoint": "/v1/chat/completions",
                      "completion_window": "24h", "metadata": {"run": "nightly"}});
    json_of(create_batch(h, key, body).await, 200).await
}

async fn get(h: &Harness, key: &str, path: &str) -> reqwest::Response {
    h.http
        .get(h.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// The batch once its status is one of `statuses`.
async fn batch_when(h: &Harness, key: &str, id: &str, statuses: &[&str]) -> Value {
    for _ in 0..600 {
        let batch = json_of(get(h, key, &format!("/v1/batches/{id}")).await, 200).await;
        if statuses.contains(&batch["status"].as_str().unwrap_or_default()) {
            return batch;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("batch {id} never reached {statuses:?}");
}

/// A file's lines, parsed.
async fn file_lines(h: &Harness, key: &str, id: &Value) -> Vec<Value> {
    let path = format!("/v1/files/{}/content", id.as_str().unwrap());
    let response = get(h, key, &path).await;
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn an_openai_batch_runs_to_a_completed_output_file_at_half_the_list_price() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    let lines: Vec<String> = (0..3)
        .map(|n| chat_line(&format!("req-{n}"), &format!("Summarise chapter {n}.")))
        .collect();
    let created = openai_batch(&h, &key, &lines).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("batch_"), "{created}");
    assert_eq!(created["object"], "batch");
    assert_eq!(created["endpoint"], "/v1/chat/completions");
    assert_eq!(created["completion_window"], "24h");
    assert_eq!(created["metadata"], json!({"run": "nightly"}));
    assert_eq!(created["request_counts"]["total"], 3);
    assert_eq!(
        created["expires_at"].as_i64().unwrap() - created["created_at"].as_i64().unwrap(),
        86_400
    );

    let done = batch_when(&h, &key, &id, &["completed"]).await;
    assert_eq!(
        done["request_counts"],
        json!({"total": 3, "completed": 3, "failed": 0})
    );
    assert_eq!(done["error_file_id"], Value::Null, "{done}");
    assert!(done["completed_at"].as_i64().is_some(), "{done}");
    let output = file_lines(&h, &key, &done["output_file_id"]).await;
    let ids: Vec<&str> = output
        .iter()
        .map(|line| line["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["req-0", "req-1", "req-2"]);
    for line in &output {
        assert_eq!(line["response"]["status_code"], 200, "{line}");
        assert_eq!(line["response"]["body"]["object"], "chat.completion");
        assert_eq!(line["error"], Value::Null);
        assert!(line["id"].as_str().unwrap().starts_with("batch_req_"));
    }
    // The output file is a file of the project's, of purpose batch_output.
    let path = format!("/v1/files/{}", done["output_file_id"].as_str().unwrap());
    let file = json_of(get(&h, &key, &path).await, 200).await;
    assert_eq!(file["purpose"], "batch_output");

    let records = h.stop().await;
    let runs: Vec<_> = records
        .iter()
        .filter(|record| record.operation == "chat.completions")
        .collect();
    assert_eq!(runs.len(), 3);
    for record in runs {
        let model = record.upstream_model.as_deref().unwrap();
        let tokens = |n: Option<i64>| n.unwrap_or(0) as u64;
        let list = common::list_price_usd(
            model,
            tokens(record.tokens_in),
            tokens(record.tokens_cached),
            tokens(record.tokens_out),
        );
        assert!(list > 0.0);
        common::assert_cost(record.cost_usd, list / 2.0);
    }
}

#[tokio::test]
async fn malformed_lines_are_reported_by_line_and_the_rest_still_run() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    let lines = vec![
        chat_line("good-1", "One."),
        "this is not json".to_string(),
        json!({"custom_id": "elsewhere", "method": "POST", "url": "/v1/embeddings",
               "body": {"model": "text-embedding-3-small", "input": "x"}})
        .to_string(),
        chat_line("good-2", "Two."),
        chat_line("good-1", "A repeated custom_id."),
    ];
    let created = openai_batch(&h, &key, &lines).await;
    let id = created["id"].as_str().unwrap();
    let errors: Vec<(u64, &str)> = created["errors"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            (
                error["line"].as_u64().unwrap(),
                error["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (2, "invalid_json_line"),
            (3, "mismatched_endpoint"),
            (5, "duplicate_custom_id")
        ]
    );

    let done = batch_when(&h, &key, id, &["completed"]).await;
    assert_eq!(
        done["request_counts"],
        json!({"total": 5, "completed": 2, "failed": 3})
    );
    let output = file_lines(&h, &key, &done["output_file_id"]).await;
    let ran: Vec<&str> = output
        .iter()
        .map(|line| line["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["good-1", "good-2"]);
    let failed = file_lines(&h, &key, &done["error_file_id"]).await;
    let codes: Vec<(&Value, &str)> = failed
        .iter()
        .map(|line| (&line["custom_id"], line["error"]["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (&Value::Null, "invalid_json_line"),
            (&json!("elsewhere"), "mismatched_endpoint"),
            (&json!("good-1"), "duplicate_custom_id"),
        ]
    );
    assert!(failed.iter().all(|line| line["response"].is_null()));
}

#[tokio::test]
async fn a_batch_over_the_projects_budget_lists_each_refused_request_in_its_error_file() {
    let h = Harness::start().await;
    let settings = json!({"limits": {"budget": {"usd": 0.000_001, "period": "day"}}});
    let key = common::admin_project_key(&h, "thrifty", settings).await;
    let lines: Vec<String> = (0..6)
        .map(|n| {
            chat_line(
                &format!("req-{n}"),
                &format!("Write a long story, part {n}."),
            )
        })
        .collect();
    let created = openai_batch(&h, &key, &lines).await;
    let done = batch_when(&h, &key, created["id"].as_str().unwrap(), &["completed"]).await;
    let failed = done["request_counts"]["failed"].as_u64().unwrap();
    assert!(failed >= 1, "{done}");
    let errors = file_lines(&h, &key, &done["error_file_id"]).await;
    assert_eq!(errors.len() as u64, failed);
    for line in &errors {
        assert_eq!(line["response"]["status_code"], 429, "{line}");
        let error = &line["response"]["body"]["error"];
        assert_eq!(error["code"], "insufficient_quota", "{line}");
        assert!(
            error["message"].as_str().unwrap().contains("budget"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_cancelled_batch_starts_no_more_requests_and_reports_the_rest_as_cancelled() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::from_millis(200),
        per_chunk: Duration::ZERO,
    });
    let lines: Vec<String> = (0..20)
        .map(|n| chat_line(&format!("req-{n}"), &format!("Part {n}.")))
        .collect();
    let created = openai_batch(&h, &key, &lines).await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = h
        .http
        .post(h.url(&format!("/v1/batches/{id}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let cancelling = json_of(response, 200).await;
    assert!(
        matches!(
            cancelling["status"].as_str(),
            Some("cancelling" | "cancelled")
        ),
        "{cancelling}"
    );
    let cancelled = batch_when(&h, &key, id, &["cancelled"]).await;
    let completed = cancelled["request_counts"]["completed"].as_u64().unwrap();
    assert!(completed < 20, "{cancelled}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = batch_when(&h, &key, id, &["cancelled"]).await;
    assert_eq!(
        later["request_counts"]["completed"], completed,
        "no request ran after"
    );
    let errors = file_lines(&h, &key, &cancelled["error_file_id"]).await;
    assert_eq!(errors.len() as u64, 20 - completed);
    assert!(
        errors
            .iter()
            .all(|line| line["error"]["code"] == "batch_cancelled"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn another_projects_batch_is_not_found_in_either_api() {
    let h = Harness::start().await;
    let owner = common::admin_project_key(&h, "owner", json!({})).await;
    let other = common::admin_project_key(&h, "other", json!({})).await;
    let created = openai_batch(&h, &owner, &[chat_line("a", "Hi.")]).await;
    let id = created["id"].as_str().unwrap();
    let key = id.strip_prefix("batch_").unwrap();

    let seen = get(&h, &other, &format!("/v1/batches/{id}")).await;
    let body = json_of(seen, 404).await;
    assert_eq!(body["error"]["param"], "batch_id");
    let cancel = h
        .http
        .post(h.url(&format!("/v1/batches/{id}/cancel")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    json_of(cancel, 404).await;
    let listed = json_of(get(&h, &other, "/v1/batches").await, 200).await;
    assert_eq!(listed["data"], json!([]));
    // Nor is an OpenAI batch a Gemini one, even to its own project.
    let as_gemini = h
        .http
        .get(h.url(&format!("/v1beta/batches/{key}")))
        .header("x-goog-api-key", &owner)
        .send()
        .await
        .unwrap();
    let body = json_of(as_gemini, 404).await;
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    // Its owner lists it.
    let listed = json_of(get(&h, &owner, "/v1/batches").await, 200).await;
    assert_eq!(listed["data"][0]["id"], id);
}

#[tokio::test]
async fn bad_batch_parameters_are_refused_naming_the_parameter() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    let batch_file = upload_lines(&h, &key, &[chat_line("a", "Hi.")], "batch").await;
    let user_file = upload_lines(&h, &key, &[chat_line("a", "Hi.")], "user_data").await;
    let broken_file = upload_lines(&h, &key, &["{".to_string()], "batch").await;
    let base = json!({"input_file_id": batch_file, "endpoint": "/v1/chat/completions",
                      "completion_window": "24h"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, param) in [
        (with("endpoint", json!("/v1/moderations")), "endpoint"),
        (with("completion_window", json!("1h")), "completion_window"),
        (with("input_file_id", json!(user_file)), "input_file_id"),
        (with("input_file_id", json!(broken_file)), "input_file_id"),
        (with("metadata", json!({"n": 1})), "metadata"),
        (with("colour", json!("blue")), "colour"),
    ] {
        let refused = json_of(create_batch(&h, &key, body.clone()).await, 400).await;
        assert_eq!(refused["error"]["param"], param, "{body}: {refused}");
    }
    let missing = json_of(
        create_batch(&h, &key, with("input_file_id", json!("file-missing"))).await,
        404,
    )
    .await;
    assert_eq!(missing["error"]["param"], "id");
    // A key scoped to chat alone makes no batches.
    let scoped = common::admin_create(
        &h,
        "/admin/v1/projects/nightly/keys",
        json!({"operations": ["chat.completions", "files"]}),
    )
    .await;
    let scoped = scoped["secret"].as_str().unwrap();
    let refused = json_of(create_batch(&h, scoped, base.clone()).await, 403).await;
    assert_eq!(refused["error"]["code"], "operation_not_allowed");
}

fn gemini_request(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

async fn gemini_batch_when_done(h: &Harness, key: &str, name: &str) -> Value {
    for _ in 0..600 {
        let response = h
            .http
            .get(h.url(&format!("/v1beta/{name}")))
            .header("x-goog-api-key", key)
            .send()
            .await
            .unwrap();
        let operation = json_of(response, 200).await;
        if operation["done"] == true {
            return operation;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("batch {name} never finished");
}

#[tokio::test]
async fn a_gemini_batch_of_inline_requests_answers_each_in_order_with_its_metadata() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    let body = json!({"batch": {
        "display_name": "chapters",
        "input_config": {"requests": {"requests": [
            {"request": gemini_request("Chapter one."), "metadata": {"chapter": "1"}},
            {"metadata": {"chapter": "2"}},
            {"request": gemini_request("Chapter three."), "metadata": {"chapter": "3"}},
        ]}},
    }});
    let response = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:batchGenerateContent"))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let created = json_of(response, 200).await;
    let name = created["name"].as_str().unwrap();
    assert!(name.starts_with("batches/"), "{created}");
    assert_eq!(created["metadata"]["displayName"], "chapters");
    assert_eq!(created["metadata"]["model"], "models/gemini-2.5-flash");

    let done = gemini_batch_when_done(&h, &key, name).await;
    let metadata = &done["metadata"];
    assert_eq!(metadata["state"], "BATCH_STATE_SUCCEEDED", "{done}");
    assert_eq!(
        metadata["batchStats"],
        json!({"requestCount": "3", "successfulRequestCount": "2",
               "failedRequestCount": "1", "pendingRequestCount": "0"})
    );
    let responses = metadata["output"]["inlinedResponses"]["inlinedResponses"]
        .as_array()
        .unwrap();
    assert_eq!(responses.len(), 3);
    let chapters: Vec<&Value> = responses
        .iter()
        .map(|r| &r["metadata"]["chapter"])
        .collect();
    assert_eq!(chapters, [&json!("1"), &json!("2"), &json!("3")]);
    for answered in [&responses[0], &responses[2]] {
        assert!(
            answered["response"]["candidates"][0]["content"]["parts"][0]["text"].is_string(),
            "{answered}"
        );
    }
    assert_eq!(responses[1]["error"]["status"], "INVALID_ARGUMENT");
    // Each request reached the simulator as its own generateContent (in
    // either order: they run at once).
    let mut sent: Vec<String> = h
        .mock
        .server
        .received()
        .into_iter()
        .filter(|request| request.path == "/v1beta/models/gemini-2.5-flash:generateContent")
        .map(|request| request.body["contents"][0]["parts"][0]["text"].to_string())
        .collect();
    sent.sort();
    assert_eq!(sent, [r#""Chapter one.""#, r#""Chapter three.""#]);
}

#[tokio::test]
async fn a_gemini_batch_from_a_file_writes_a_responses_file_and_can_be_listed_and_deleted() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "nightly", json!({})).await;
    let lines: Vec<String> = ["a", "b"]
        .iter()
        .map(|k| json!({"key": k, "request": gemini_request(&format!("Request {k}."))}).to_string())
        .collect();
    let file = upload_lines(&h, &key, &lines, "batch").await;
    let body = json!({"batch": {"displayName": "from a file",
                                "inputConfig": {"fileName": format!("files/{file}")}}});
    let response = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:batchGenerateContent"))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let name = json_of(response, 200).await["name"]
        .as_str()
        .unwrap()
        .to_string();
    let done = gemini_batch_when_done(&h, &key, &name).await;
    let responses_file = done["metadata"]["output"]["responsesFile"]
        .as_str()
        .unwrap();
    let id = responses_file.strip_prefix("files/").unwrap();
    let answers = file_lines(&h, &key, &json!(id)).await;
    let keys: Vec<&str> = answers.iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert!(
        answers
            .iter()
            .all(|a| a["response"]["candidates"].is_array())
    );

    let listed = h
        .http
        .get(h.url("/v1beta/batches?pageSize=10"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    let listed = json_of(listed, 200).await;
    assert_eq!(listed["operations"][0]["name"], name.as_str());
    let deleted = h
        .http
        .delete(h.url(&format!("/v1beta/{name}")))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    json_of(deleted, 200).await;
    let gone = h
        .http
        .get(h.url(&format!("/v1beta/{name}")))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    json_of(gone, 404).await;
}
