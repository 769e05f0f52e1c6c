//! The Files APIs: OpenAI's `/v1/files` and `/v1/uploads`, Gemini's
//! resumable uploads and `/v1beta/files`, against Airlock's own file store.
//! Each bad input of the issue is here: a file over the limit, a disguised
//! type, an upload finalized twice, a resumable chunk at a wrong offset,
//! another project's file.

use serde_json::{Value, json};

use crate::common::*;

/// A one-page PDF, as uploads carry it.
fn pdf() -> Vec<u8> {
    pdf_with_text("Quarterly numbers")
}
/// An ELF header: 64 bytes, as a real program starts.
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\
    \0\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x40\0\x38\0\
    \x01\0\x40\0\0\0\0\0";

fn file_form(bytes: &[u8], name: &str, purpose: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("purpose", purpose.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
        )
}

async fn upload(h: &Harness, key: &str, bytes: &[u8], name: &str) -> reqwest::Response {
    h.http
        .post(h.url("/v1/files"))
        .bearer_auth(key)
        .multipart(file_form(bytes, name, "user_data"))
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

#[tokio::test]
async fn an_openai_file_is_uploaded_listed_read_and_deleted() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "docs", json!({})).await;
    let file = json_of(upload(&h, &key, &pdf(), "report.pdf").await, 200).await;
    let id = file["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("file-"), "{file}");
    assert_eq!(file["object"], "file");
    assert_eq!(file["bytes"], pdf().len());
    assert_eq!(file["filename"], "report.pdf");
    assert_eq!(file["purpose"], "user_data");
    assert_eq!(file["status"], "processed");
    assert_eq!(file["expires_at"], Value::Null);

    let got = h
        .http
        .get(h.url(&format!("/v1/files/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(got, 200).await, file);

    let content = h
        .http
        .get(h.url(&format!("/v1/files/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "application/pdf");
    assert_eq!(content.bytes().await.unwrap(), pdf());

    let listed = h
        .http
        .get(h.url("/v1/files?purpose=user_data"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let listed = json_of(listed, 200).await;
    assert_eq!(listed["object"], "list");
    assert_eq!(listed["data"], json!([file]));
    assert_eq!(listed["has_more"], false);

    let deleted = h
        .http
        .delete(h.url(&format!("/v1/files/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(deleted, 200).await,
        json!({"id": id, "object": "file", "deleted": true})
    );
    let gone = h
        .http
        .get(h.url(&format!("/v1/files/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let gone = json_of(gone, 404).await;
    assert_eq!(
        gone["error"]["message"],
        format!("No such File object: {id}")
    );
}

#[tokio::test]
async fn files_are_listed_newest_first_a_page_at_a_time() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "pages", json!({})).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let file = json_of(
            upload(&h, &key, format!("note {n}").as_bytes(), "n.txt").await,
            200,
        )
        .await;
        ids.push(file["id"].as_str().unwrap().to_string());
        // Creation times in milliseconds: one apart at least.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let page = |query: String| {
        let request = h
            .http
            .get(h.url(&format!("/v1/files?{query}")))
            .bearer_auth(&key);
        async move { json_of(request.send().await.unwrap(), 200).await }
    };
    let first = page("limit=2".into()).await;
    let listed: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["last_id"], ids[1].as_str());
    let second = page(format!("limit=2&after={}", ids[1])).await;
    assert_eq!(second["data"][0]["id"], ids[0].as_str());
    assert_eq!(second["has_more"], false);
    let oldest = page("order=asc&limit=1".into()).await;
    assert_eq!(oldest["data"][0]["id"], ids[0].as_str());

    let bad = h
        .http
        .get(h.url("/v1/files?limit=0"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(bad, 400).await["error"]["param"], "limit");
}

#[tokio::test]
async fn another_projects_file_is_not_found_anywhere() {
    let h = Harness::start().await;
    let owner = admin_project_key(&h, "owner", json!({})).await;
    let other = admin_project_key(&h, "other", json!({})).await;
    let file = json_of(upload(&h, &owner, &pdf(), "a.pdf").await, 200).await;
    let id = file["id"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/files/{id}")),
        (reqwest::Method::GET, format!("/v1/files/{id}/content")),
        (reqwest::Method::DELETE, format!("/v1/files/{id}")),
    ] {
        let response = h
            .http
            .request(method.clone(), h.url(&path))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        json_of(response, 404).await;
    }
    let gemini = h
        .http
        .get(h.url(&format!("/v1beta/files/{id}")))
        .header("x-goog-api-key", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(gemini, 404).await["error"]["status"], "NOT_FOUND");
    let listed = h
        .http
        .get(h.url("/v1/files"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed, 200).await["data"], json!([]));
    // Still the owner's.
    let mine = h
        .http
        .get(h.url(&format!("/v1/files/{id}")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    json_of(mine, 200).await;
}

#[tokio::test]
async fn an_executable_named_as_a_pdf_is_refused_and_nothing_is_stored() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "strict", json!({})).await;
    let refused = json_of(upload(&h, &key, ELF, "report.pdf").await, 400).await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("application/x-executable"), "{message}");
    assert_eq!(refused["error"]["param"], "file");
    let listed = h
        .http
        .get(h.url("/v1/files"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed, 200).await["data"], json!([]));
    let media_files = std::fs::read_dir(h.media_dir().join("files"))
        .map(|dir| dir.count())
        .unwrap_or(0);
    assert_eq!(media_files, 0, "the refused file's bytes were stored");
}

#[tokio::test]
async fn a_project_narrows_the_types_and_the_size_it_takes() {
    let h = Harness::start().await;
    let key = admin_project_key(
        &h,
        "narrow",
        json!({"files": {"max_bytes": 2048, "accepted_types": ["application/pdf"]}}),
    )
    .await;
    let text = json_of(upload(&h, &key, b"just text", "a.txt").await, 400).await;
    let message = text["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("text/plain") && message.contains("application/pdf"),
        "{message}"
    );
    let large = json_of(upload(&h, &key, &[b'%'; 3000], "a.pdf").await, 413).await;
    assert_eq!(large["error"]["code"], "file_too_large");
    json_of(
        upload(&h, &key, &pdf_with_text("Small."), "a.pdf").await,
        200,
    )
    .await;

    // Accepted types are checked when set.
    let refused = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"name": "broken", "files": {"accepted_types": ["pdf"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn bad_file_requests_get_errors_naming_the_problem() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "bad", json!({})).await;
    let send = |form: reqwest::multipart::Form| {
        h.http
            .post(h.url("/v1/files"))
            .bearer_auth(&key)
            .multipart(form)
            .send()
    };
    let no_purpose = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf()).file_name("a.pdf"),
    );
    assert_eq!(
        json_of(send(no_purpose).await.unwrap(), 400).await["error"]["param"],
        "purpose"
    );
    let wrong_purpose = file_form(&pdf(), "a.pdf", "wallpaper");
    assert_eq!(
        json_of(send(wrong_purpose).await.unwrap(), 400).await["error"]["param"],
        "purpose"
    );
    let no_file = reqwest::multipart::Form::new().text("purpose", "batch");
    assert_eq!(
        json_of(send(no_file).await.unwrap(), 400).await["error"]["param"],
        "file"
    );
    let short_expiry = file_form(&pdf(), "a.pdf", "user_data")
        .text("expires_after[anchor]", "created_at")
        .text("expires_after[seconds]", "60");
    assert_eq!(
        json_of(send(short_expiry).await.unwrap(), 400).await["error"]["param"],
        "expires_after.seconds"
    );
    let expiring = file_form(&pdf(), "a.pdf", "user_data")
        .text("expires_after[anchor]", "created_at")
        .text("expires_after[seconds]", "3600");
    let file = json_of(send(expiring).await.unwrap(), 200).await;
    assert_eq!(
        file["expires_at"].as_i64().unwrap() - file["created_at"].as_i64().unwrap(),
        3600
    );
    let batch = json_of(
        send(file_form(b"{\"a\": 1}\n", "b.jsonl", "batch"))
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        batch["expires_at"].as_i64().unwrap() - batch["created_at"].as_i64().unwrap(),
        30 * 86_400,
        "a batch file is kept 30 days by default"
    );
    let json_body = h
        .http
        .post(h.url("/v1/files"))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 415);
}

#[tokio::test]
async fn a_key_without_the_files_scope_cannot_touch_files() {
    let h = Harness::start().await;
    admin_project_key(&h, "scoped", json!({})).await;
    let created = admin_create(
        &h,
        "/admin/v1/projects/scoped/keys",
        json!({"operations": ["chat.completions"]}),
    )
    .await;
    let key = created["secret"].as_str().unwrap();
    let refused = json_of(upload(&h, key, &pdf(), "a.pdf").await, 403).await;
    assert_eq!(refused["error"]["code"], "operation_not_allowed");
}

/// Creates an OpenAI upload of `bytes` declared bytes.
async fn start_openai_upload(h: &Harness, key: &str, bytes: usize) -> Value {
    let response = h
        .http
        .post(h.url("/v1/uploads"))
        .bearer_auth(key)
        .json(&json!({"bytes": bytes, "filename": "big.pdf", "mime_type": "application/pdf", "purpose": "assistants"}))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

async fn add_openai_part(h: &Harness, key: &str, upload: &str, bytes: &[u8]) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("part"),
    );
    h.http
        .post(h.url(&format!("/v1/uploads/{upload}/parts")))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_upload_in_parts_becomes_one_file_in_the_listed_order_once() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "parts", json!({})).await;
    let upload = start_openai_upload(&h, &key, pdf().len()).await;
    assert_eq!(upload["status"], "pending");
    let id = upload["id"].as_str().unwrap();
    let whole = pdf();
    let (head, tail) = whole.split_at(20);
    // Sent tail first; listed head first.
    let second = json_of(add_openai_part(&h, &key, id, tail).await, 200).await;
    let first = json_of(add_openai_part(&h, &key, id, head).await, 200).await;
    assert_eq!(first["object"], "upload.part");
    assert_eq!(first["upload_id"], id);
    let complete = |parts: Value| {
        h.http
            .post(h.url(&format!("/v1/uploads/{id}/complete")))
            .bearer_auth(&key)
            .json(&json!({"part_ids": parts}))
            .send()
    };
    let done = json_of(
        complete(json!([first["id"], second["id"]])).await.unwrap(),
        200,
    )
    .await;
    assert_eq!(done["status"], "completed");
    let file_id = done["file"]["id"].as_str().unwrap();
    assert_eq!(done["file"]["bytes"], pdf().len());
    let content = h
        .http
        .get(h.url(&format!("/v1/files/{file_id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap(), pdf());
    // Completed once: not again, and no more parts.
    let again = json_of(
        complete(json!([first["id"], second["id"]])).await.unwrap(),
        400,
    )
    .await;
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{again}"
    );
    json_of(add_openai_part(&h, &key, id, b"x").await, 400).await;
}

#[tokio::test]
async fn parts_that_do_not_add_up_or_overflow_are_refused() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "sums", json!({})).await;
    let upload = start_openai_upload(&h, &key, 10).await;
    let id = upload["id"].as_str().unwrap();
    let part = json_of(add_openai_part(&h, &key, id, b"12345").await, 200).await;
    let overflow = json_of(add_openai_part(&h, &key, id, b"123456").await, 400).await;
    assert!(
        overflow["error"]["message"]
            .as_str()
            .unwrap()
            .contains("past its declared 10 bytes"),
        "{overflow}"
    );
    let short = h
        .http
        .post(h.url(&format!("/v1/uploads/{id}/complete")))
        .bearer_auth(&key)
        .json(&json!({"part_ids": [part["id"]]}))
        .send()
        .await
        .unwrap();
    let short = json_of(short, 400).await;
    assert!(
        short["error"]["message"]
            .as_str()
            .unwrap()
            .contains("declared as 10 bytes"),
        "{short}"
    );
    // A failed completion ends the upload and keeps nothing.
    let after = json_of(add_openai_part(&h, &key, id, b"12345").await, 400).await;
    assert!(
        after["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{after}"
    );
    let over_limit = h
        .http
        .post(h.url("/v1/uploads"))
        .bearer_auth(&key)
        .json(&json!({"bytes": 1u64 << 40, "filename": "huge.pdf", "mime_type": "application/pdf", "purpose": "assistants"}))
        .send()
        .await
        .unwrap();
    json_of(over_limit, 413).await;
}

#[tokio::test]
async fn an_upload_is_cancelled_and_its_parts_let_go() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "cancel", json!({})).await;
    let upload = start_openai_upload(&h, &key, 10).await;
    let id = upload["id"].as_str().unwrap();
    json_of(add_openai_part(&h, &key, id, b"12345").await, 200).await;
    let cancelled = h
        .http
        .post(h.url(&format!("/v1/uploads/{id}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(cancelled, 200).await["status"], "cancelled");
    let parts_left = std::fs::read_dir(h.media_dir().join("uploads").join(id))
        .map(|dir| dir.count())
        .unwrap_or(0);
    assert_eq!(parts_left, 0);
    // Another project cannot see it at all.
    let other = admin_project_key(&h, "elsewhere", json!({})).await;
    let hidden = h
        .http
        .post(h.url(&format!("/v1/uploads/{id}/cancel")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    json_of(hidden, 404).await;
}

/// Starts a Gemini resumable upload; the upload URL's path and query.
async fn start_resumable(h: &Harness, key: &str, size: usize, body: Value) -> String {
    let response = h
        .http
        .post(h.url("/upload/v1beta/files"))
        .header("x-goog-api-key", key)
        .header("x-goog-upload-protocol", "resumable")
        .header("x-goog-upload-command", "start")
        .header("x-goog-upload-header-content-length", size.to_string())
        .header("x-goog-upload-header-content-type", "application/pdf")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-goog-upload-status"], "active");
    let url = response.headers()["x-goog-upload-url"]
        .to_str()
        .unwrap()
        .to_string();
    let prefix = format!("http://{}", h.addr);
    assert!(url.starts_with(&prefix), "{url}");
    url[prefix.len()..].to_string()
}

/// Sends one chunk to an upload URL, with no key (as google-genai does).
async fn send_chunk(
    h: &Harness,
    url: &str,
    command: &str,
    offset: usize,
    bytes: &[u8],
) -> reqwest::Response {
    h.http
        .post(h.url(url))
        .header("x-goog-upload-command", command)
        .header("x-goog-upload-offset", offset.to_string())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_resumable_upload_in_chunks_becomes_an_active_gemini_file() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "gemini", json!({})).await;
    let url = start_resumable(
        &h,
        &key,
        pdf().len(),
        json!({"file": {"displayName": "Report", "name": "files/my-report"}}),
    )
    .await;
    let whole = pdf();
    let (head, tail) = whole.split_at(30);
    let first = send_chunk(&h, &url, "upload", 0, head).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-goog-upload-status"], "active");
    let last = send_chunk(&h, &url, "upload, finalize", head.len(), tail).await;
    assert_eq!(last.headers()["x-goog-upload-status"], "final");
    let file = json_of(last, 200).await["file"].clone();
    assert_eq!(file["name"], "files/my-report");
    assert_eq!(file["displayName"], "Report");
    assert_eq!(file["mimeType"], "application/pdf");
    assert_eq!(file["sizeBytes"], pdf().len().to_string());
    assert_eq!(file["state"], "ACTIVE");
    assert_eq!(file["source"], "UPLOADED");
    assert_eq!(file["uri"], h.url("/v1beta/files/my-report"));
    let created: jiff::Timestamp = file["createTime"].as_str().unwrap().parse().unwrap();
    let expires: jiff::Timestamp = file["expirationTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.duration_since(created).as_secs(), 48 * 3600);

    let got = h
        .http
        .get(h.url("/v1beta/files/my-report"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(got, 200).await, file);
    let listed = h
        .http
        .get(h.url("/v1beta/files"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed, 200).await, json!({"files": [file]}));
    // The same file through OpenAI's API.
    let content = h
        .http
        .get(h.url("/v1/files/my-report/content"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap(), pdf());

    // Finalized once.
    let twice = send_chunk(&h, &url, "finalize", pdf().len(), b"").await;
    assert_eq!(twice.headers()["x-goog-upload-status"], "final");
    let twice = json_of(twice, 400).await;
    assert!(
        twice["error"]["message"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{twice}"
    );

    let deleted = h
        .http
        .delete(h.url("/v1beta/files/my-report"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(deleted, 200).await, json!({}));
    let gone = h
        .http
        .get(h.url("/v1beta/files/my-report"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    json_of(gone, 404).await;
}

#[tokio::test]
async fn a_chunk_at_a_wrong_offset_is_refused_and_the_upload_goes_on() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "offsets", json!({})).await;
    let url = start_resumable(&h, &key, pdf().len(), json!({})).await;
    send_chunk(&h, &url, "upload", 0, &pdf()[..10]).await;
    let wrong = send_chunk(&h, &url, "upload", 5, &pdf()[5..20]).await;
    assert_eq!(wrong.headers()["x-goog-upload-status"], "active");
    assert_eq!(wrong.headers()["x-goog-upload-size-received"], "10");
    let wrong = json_of(wrong, 400).await;
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("offset 5"),
        "{wrong}"
    );
    let query = send_chunk(&h, &url, "query", 0, b"").await;
    assert_eq!(query.headers()["x-goog-upload-size-received"], "10");
    let done = send_chunk(&h, &url, "upload, finalize", 10, &pdf()[10..]).await;
    let file = json_of(done, 200).await;
    assert_eq!(file["file"]["sizeBytes"], pdf().len().to_string());
    let content = h
        .http
        .get(h.url(&format!(
                "/v1/files/{}/content",
                file["file"]["name"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("files/")
            )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap(), pdf());
}

#[tokio::test]
async fn resumable_uploads_refuse_what_they_cannot_keep() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "resumable-bad", json!({})).await;
    // An executable, declared a PDF: refused at finalize, nothing kept.
    let url = start_resumable(&h, &key, ELF.len(), json!({"file": {"name": "files/evil"}})).await;
    let refused = send_chunk(&h, &url, "upload, finalize", 0, ELF).await;
    assert_eq!(refused.headers()["x-goog-upload-status"], "final");
    let refused = json_of(refused, 400).await;
    assert_eq!(refused["error"]["status"], "INVALID_ARGUMENT");
    let missing = h
        .http
        .get(h.url("/v1beta/files/evil"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    json_of(missing, 404).await;
    // An upload id nobody was given.
    let unknown = send_chunk(
        &h,
        "/upload/v1beta/files?upload_id=upload_nope",
        "upload",
        0,
        b"x",
    )
    .await;
    json_of(unknown, 404).await;
    // A start without its protocol, or with a bad name.
    let plain = h
        .http
        .post(h.url("/upload/v1beta/files"))
        .header("x-goog-api-key", &key)
        .body(pdf())
        .send()
        .await
        .unwrap();
    json_of(plain, 400).await;
    let bad_name = h
        .http
        .post(h.url("/upload/v1beta/files"))
        .header("x-goog-api-key", &key)
        .header("x-goog-upload-protocol", "resumable")
        .header("x-goog-upload-command", "start")
        .header("x-goog-upload-header-content-length", "10")
        .json(&json!({"file": {"name": "files/Not_Valid"}}))
        .send()
        .await
        .unwrap();
    assert!(
        json_of(bad_name, 400).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("files/Not_Valid")
    );
    // A start needs a key (only chunks go without).
    let keyless = h
        .http
        .post(h.url("/upload/v1beta/files"))
        .header("x-goog-upload-protocol", "resumable")
        .header("x-goog-upload-command", "start")
        .header("x-goog-upload-header-content-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 401);
}

#[tokio::test]
async fn the_v1_files_paths_answer_each_sdk_in_its_own_shape() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "both", json!({})).await;
    let file = json_of(upload(&h, &key, &pdf(), "a.pdf").await, 200).await;
    let id = file["id"].as_str().unwrap();
    let path = format!("/v1/files/{id}");
    let google = h
        .http
        .get(h.url(&path))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    let google = json_of(google, 200).await;
    assert_eq!(google["name"], format!("files/{id}"));
    assert_eq!(google["uri"], h.url(&path));
    let by_query = h
        .http
        .get(h.url(&format!("/v1/files?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(by_query, 200).await["files"][0], google);
    let bearer = h
        .http
        .get(h.url(&path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(bearer, 200).await, file);
    let deleted = h
        .http
        .delete(h.url(&path))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(deleted, 200).await, json!({}));
    let gone = h
        .http
        .get(h.url(&path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    json_of(gone, 404).await;
    // Google's error shape for a Google client.
    let missing = h
        .http
        .get(h.url(&path))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(missing, 404).await["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn a_completion_with_an_md5_keeps_the_file_only_when_it_matches() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "md5", json!({})).await;
    let body = b"notes for the record\n";
    let complete = |id: String, part: Value, md5: &str| {
        h.http
            .post(h.url(&format!("/v1/uploads/{id}/complete")))
            .bearer_auth(&key)
            .json(&json!({"part_ids": [part], "md5": md5}))
            .send()
    };
    let wrong = start_openai_upload(&h, &key, body.len()).await;
    let wrong_id = wrong["id"].as_str().unwrap().to_string();
    let part = json_of(add_openai_part(&h, &key, &wrong_id, body).await, 200).await;
    let refused = complete(
        wrong_id,
        part["id"].clone(),
        "00000000000000000000000000000000",
    );
    let refused = json_of(refused.await.unwrap(), 400).await;
    assert_eq!(refused["error"]["param"], "md5");
    // md5(body), by Python's hashlib.
    let right = start_openai_upload(&h, &key, body.len()).await;
    let right_id = right["id"].as_str().unwrap().to_string();
    let part = json_of(add_openai_part(&h, &key, &right_id, body).await, 200).await;
    let kept = complete(
        right_id,
        part["id"].clone(),
        "099065A733844D2453103FF1AD9162A1",
    );
    assert_eq!(
        json_of(kept.await.unwrap(), 200).await["status"],
        "completed"
    );
}

#[tokio::test]
async fn a_documents_text_and_metadata_are_extracted_and_kept_beside_it() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "extract", json!({})).await;
    let pdf = pdf_with_text("Revenue grew twelve percent in the spring quarter of the year");
    let file = json_of(upload(&h, &key, &pdf, "report.pdf").await, 200).await;
    let id = file["id"].as_str().unwrap();
    let text = h
        .http
        .get(h.url(&format!("/v1/files/{id}/text")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let text = json_of(text, 200).await;
    assert_eq!(text["object"], "file.text");
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("Revenue grew twelve percent"),
        "{text}"
    );
    assert_eq!(text["pages"], 1);
    assert_eq!(text["title"], "Test document");
    assert_eq!(text["author"], "Airlock tests");
    assert_eq!(text["language"], "eng");
    assert_eq!(text["redacted"], false);

    let html = b"<html><body><script>steal()</script><p onclick=\"x()\">Visible &amp; kept</p></body></html>";
    let page = json_of(upload(&h, &key, html, "page.html").await, 200).await;
    let page_text = h
        .http
        .get(h.url(&format!("/v1/files/{}/text", page["id"].as_str().unwrap())))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    let page_text = json_of(page_text, 200).await;
    assert_eq!(page_text["text"].as_str().unwrap().trim(), "Visible & kept");

    // A picture has no text: a 400 naming what it is.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let picture = json_of(upload(&h, &key, png, "p.png").await, 200).await;
    let none = h
        .http
        .get(h.url(&format!(
            "/v1/files/{}/text",
            picture["id"].as_str().unwrap()
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(
        json_of(none, 400).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image/png")
    );

    // Deleting the file deletes its text.
    h.http
        .delete(h.url(&format!("/v1/files/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let text_files = std::fs::read_dir(h.media_dir().join("file-text"))
        .unwrap()
        .count();
    assert_eq!(text_files, 1, "only the HTML page's text is left");
}

#[tokio::test]
async fn a_project_that_asks_gets_personal_data_redacted_from_text() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "private", json!({"files": {"redact_pii": true}})).await;
    let notes =
        b"Call Ada at +44 20 7946 0958 or write to ada@example.com; card 4111 1111 1111 1111.";
    let file = json_of(upload(&h, &key, notes, "notes.txt").await, 200).await;
    let text = h
        .http
        .get(h.url(&format!("/v1/files/{}/text", file["id"].as_str().unwrap())))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let text = json_of(text, 200).await;
    assert_eq!(
        text["text"],
        "Call Ada at [phone] or write to [email]; card [card]."
    );
    assert_eq!(text["redacted"], true);
    // The file itself is kept as uploaded.
    let content = h
        .http
        .get(h.url(&format!(
            "/v1/files/{}/content",
            file["id"].as_str().unwrap()
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap(), &notes[..]);
}

#[tokio::test]
async fn corrupt_encrypted_bomb_and_over_deep_documents_are_refused_and_not_kept() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "hostile", json!({})).await;
    let pdf = pdf_with_text("whole");
    let corrupt = json_of(
        upload(&h, &key, &pdf[..pdf.len() / 2], "half.pdf").await,
        400,
    )
    .await;
    assert!(
        corrupt["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{corrupt}"
    );
    let encrypted = String::from_utf8(pdf.clone())
        .unwrap()
        .replace("/Info 6 0 R >>", "/Info 6 0 R /Encrypt << /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >> /ID [(a) (a)] >>");
    let refused = json_of(
        upload(&h, &key, encrypted.as_bytes(), "locked.pdf").await,
        400,
    )
    .await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("encrypted"),
        "{refused}"
    );
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let refused = json_of(upload(&h, &key, deep.as_bytes(), "deep.json").await, 400).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("levels deep"),
        "{refused}"
    );
    let listed = h
        .http
        .get(h.url("/v1/files"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed, 200).await["data"], json!([]));
    assert_eq!(
        std::fs::read_dir(h.media_dir().join("files"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

/// Uploads `bytes` as `name` for `key`; the file's id.
async fn uploaded(h: &Harness, key: &str, bytes: &[u8], name: &str) -> String {
    let file = json_of(upload(h, key, bytes, name).await, 200).await;
    file["id"].as_str().unwrap().to_string()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_chat_naming_a_file_sends_the_pdf_itself_or_its_text_when_asked() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "context", json!({})).await;
    let pdf = pdf_with_text("The launch date is the ninth of March");
    let id = uploaded(&h, &key, &pdf, "plan.pdf").await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "When is the launch?"},
        {"type": "file", "file": {"file_id": id}},
    ]}]});
    let answered = chat_with_key(&h, &key, &chat).await;
    json_of(answered, 200).await;
    let sent = last_received(&h, "/v1/chat/completions");
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"type": "file", "file": {"filename": "plan.pdf", "file_data": format!("data:application/pdf;base64,{}", base64_of(&pdf))}})
    );
    assert_eq!(
        sent["messages"][0]["content"][0]["text"],
        "When is the launch?"
    );

    let as_text = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-airlock-file-context", "text")
        .json(&chat)
        .send()
        .await
        .unwrap();
    json_of(as_text, 200).await;
    let sent = last_received(&h, "/v1/chat/completions");
    let part = &sent["messages"][0]["content"][1];
    assert_eq!(part["type"], "text");
    let text = part["text"].as_str().unwrap();
    assert!(text.starts_with("[plan.pdf]\n"), "{text}");
    assert!(
        text.contains("The launch date is the ninth of March"),
        "{text}"
    );
}

#[tokio::test]
async fn a_gemini_request_naming_a_file_uri_sends_the_file_inline() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "gemini-context", json!({})).await;
    let pdf = pdf_with_text("Chapter one begins");
    let id = uploaded(&h, &key, &pdf, "book.pdf").await;
    let body = json!({"contents": [{"role": "user", "parts": [
        {"text": "Summarise"},
        {"fileData": {"fileUri": h.url(&format!("/v1beta/files/{id}")), "mimeType": "application/pdf"}},
    ]}]});
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let answered = h
        .http
        .post(h.url(path))
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(answered, 200).await;
    let sent = last_received(&h, path);
    assert_eq!(
        sent["contents"][0]["parts"][1],
        json!({"inlineData": {"mimeType": "application/pdf", "data": base64_of(&pdf)}})
    );
    // An HTML page goes inline to Gemini too (it reads text of every kind),
    // and as its sanitised text to OpenAI's protocol.
    let page = uploaded(
        &h,
        &key,
        b"<html><body><script>x()</script><p>Menu of the day</p></body></html>",
        "menu.html",
    )
    .await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": page}},
    ]}]});
    let answered = chat_with_key(&h, &key, &chat).await;
    json_of(answered, 200).await;
    let sent = last_received(&h, "/v1/chat/completions");
    assert_eq!(
        sent["messages"][0]["content"][0],
        json!({"type": "text", "text": "[menu.html]\nMenu of the day\n"})
    );
}

#[tokio::test]
async fn a_chat_for_a_gemini_model_gets_the_pdf_as_inline_data() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "translated", json!({})).await;
    let pdf = pdf_with_text("Translated across");
    let id = uploaded(&h, &key, &pdf, "t.pdf").await;
    let chat = json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Read it"},
        {"type": "file", "file": {"file_id": id}},
    ]}]});
    let answered = chat_with_key(&h, &key, &chat).await;
    json_of(answered, 200).await;
    let sent = last_received(&h, "/v1beta/models/gemini-2.5-flash:generateContent");
    let parts = &sent["contents"][0]["parts"];
    assert!(
        parts
            .as_array()
            .unwrap()
            .iter()
            .any(|part| part["inlineData"]
                == json!({"mimeType": "application/pdf", "data": base64_of(&pdf)})),
        "{parts}"
    );
}

#[tokio::test]
async fn a_file_not_the_callers_or_without_a_usable_form_is_refused_before_any_call() {
    let h = Harness::start().await;
    let owner = admin_project_key(&h, "owner-ctx", json!({})).await;
    let other = admin_project_key(&h, "other-ctx", json!({})).await;
    let id = uploaded(&h, &owner, &pdf(), "mine.pdf").await;
    let calls_before = h.mock.server.received().len();
    let chat = |file: &str| {
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_id": file}},
        ]}]})
    };
    let stranger = chat_with_key(&h, &other, &chat(&id)).await;
    let stranger = json_of(stranger, 404).await;
    assert_eq!(
        stranger["error"]["message"],
        format!("No such File object: {id}")
    );
    // A sound file has no text, and OpenAI's chat does not read it inline.
    let mp3 = [b"ID3\x03\0\0\0\0\0\x0f".as_slice(), &[0u8; 64]].concat();
    let sound = uploaded(&h, &owner, &mp3, "a.mp3").await;
    let refused = chat_with_key(&h, &owner, &chat(&sound)).await;
    let refused = json_of(refused, 400).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("audio/mpeg"),
        "{refused}"
    );
    let bad_header = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&owner)
        .header("x-airlock-file-context", "sometimes")
        .json(&chat(&id))
        .send()
        .await
        .unwrap();
    json_of(bad_header, 400).await;
    assert_eq!(
        h.mock.server.received().len(),
        calls_before,
        "no call went upstream"
    );
}

#[tokio::test]
async fn a_responses_input_file_is_sent_inline_or_as_text() {
    let h = Harness::start().await;
    let key = admin_project_key(&h, "responses-files", json!({})).await;
    let pdf = pdf_with_text("Responses read files too");
    let pdf_id = uploaded(&h, &key, &pdf, "r.pdf").await;
    let notes_id = uploaded(&h, &key, b"# Notes\n\nBring an umbrella.\n", "notes.md").await;
    let body = json!({"model": "gpt-4o-mini", "store": false, "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "What do these say?"},
        {"type": "input_file", "file_id": pdf_id},
        {"type": "input_file", "file_id": notes_id},
    ]}]});
    let answered = h
        .http
        .post(h.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(answered, 200).await;
    let sent = last_received(&h, "/v1/responses");
    let content = &sent["input"][0]["content"];
    assert_eq!(
        content[1],
        json!({"type": "input_file", "filename": "r.pdf", "file_data": format!("data:application/pdf;base64,{}", base64_of(&pdf))})
    );
    assert_eq!(
        content[2],
        json!({"type": "input_text", "text": "[notes.md]\n# Notes\n\nBring an umbrella.\n"})
    );
}
