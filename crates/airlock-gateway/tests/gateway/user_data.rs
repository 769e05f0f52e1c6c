//! One end user's data (GDPR), on SQLite and on PostgreSQL: a user's data
//! is seeded through the real surfaces in every kind of the inventory
//! (request records, logged content, transcripts, conversations, stored
//! responses, files, media, cached answers), exported as a job into a
//! signed, expiring zip that holds each kind, then erased everywhere (rows
//! and blobs), after their open realtime session is closed; a later export
//! finds nothing, another user's data stays, and the audit log says it
//! happened without naming the user. Project keys cannot reach any of it.

use std::io::Read;
use std::time::Duration;

use airlock_store::Store;
use serde_json::{Value, json};

use crate::common::end_user_tokens::{Signer, jwks_server, trusting};
use crate::common::live;
use crate::common::{self, Harness, Setup};

/// Every kind of the inventory, as exports and erasures name them.
const KINDS: [&str; 8] = [
    "request_log",
    "content",
    "transcripts",
    "conversations",
    "responses",
    "files",
    "media",
    "cache",
];

struct User<'a> {
    h: &'a Harness,
    key: &'a str,
    name: &'static str,
    token: String,
}

impl User<'_> {
    /// The bytes of the file the user uploads (found again in the export).
    fn notes(&self) -> Vec<u8> {
        format!(
            "{}'s private notes: the treasure is under the oak.\n",
            self.name
        )
        .into_bytes()
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.h
            .http
            .post(self.h.url(path))
            .bearer_auth(self.key)
            .header("x-airlock-user-token", &self.token)
    }

    async fn json(&self, path: &str, body: Value) -> Value {
        let response = self.post(path).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Data of every kind, through the surfaces a client uses.
    async fn seed(&self) {
        let chat = json!({"model": "gpt-4o-mini", "temperature": 0,
                          "messages": [{"role": "user", "content": format!("{}: remember my dog Rex.", self.name)}]});
        let cached = self
            .post("/v1/chat/completions")
            .header("x-airlock-cache", "use")
            .json(&chat)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), 200);
        cached.bytes().await.unwrap();
        let conversation = self
            .json("/v1/conversations", json!({"metadata": {"topic": "pets"}}))
            .await;
        self.json(
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "conversation": conversation["id"],
                   "input": "What is my dog's name?"}),
        )
        .await;
        self.json(
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "Hello", "store": true}),
        )
        .await;
        let form = reqwest::multipart::Form::new()
            .text("purpose", "user_data")
            .part(
                "file",
                reqwest::multipart::Part::bytes(self.notes()).file_name("notes.txt"),
            );
        let uploaded = self.post("/v1/files").multipart(form).send().await.unwrap();
        assert_eq!(uploaded.status(), 200);
        let image = self
            .post("/v1/images/generations")
            .header("x-airlock-media", "url")
            .json(&json!({"model": "gpt-image-1", "prompt": format!("{}'s dog Rex", self.name)}))
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), 200);
        image.bytes().await.unwrap();
    }

    /// A Gemini Live session with transcription, set up and answered once.
    async fn live_session(&self) -> live::Socket {
        let path = live::live_path("v1beta");
        let headers = [
            ("x-goog-api-key", self.key),
            ("x-airlock-user-token", self.token.as_str()),
        ];
        let mut socket = live::open(self.h, &path, &headers).await.unwrap();
        let setup = json!({"setup": {
            "model": format!("models/{}", live::LIVE_MODEL),
            "generationConfig": {"responseModalities": ["AUDIO"]},
            "outputAudioTranscription": {},
        }});
        live::send(&mut socket, &setup).await;
        assert!(
            live::next_json(&mut socket)
                .await
                .get("setupComplete")
                .is_some()
        );
        live::send(&mut socket, &live::user_turn("Say hi to Rex.")).await;
        live::read_until(&mut socket, live::turn_complete).await;
        socket
    }
}

async fn admin(h: &Harness, method: reqwest::Method, path: &str) -> (u16, Value) {
    common::admin_call(h, method, path, None).await
}

/// Exports `user`'s data through the admin API and downloads the archive:
/// its manifest and its entries' names and bytes.
async fn export(h: &Harness, user: &str) -> (Value, Vec<(String, Vec<u8>)>) {
    let path = format!("/admin/v1/projects/voice/users/{user}/export");
    let done = common::exported(h, &path, None).await;
    assert_eq!(done["object"], "user_export");
    assert_eq!(
        done["progress"],
        json!({"done": 9, "failed": 0, "total": 9}),
        "{done}"
    );
    let url = done["download_url"]
        .as_str()
        .expect("a download URL")
        .to_string();
    // No key: the signature is the credential, and it covers the path.
    let tampered = url.replace("exp=", "exp=1");
    assert_eq!(h.http.get(&tampered).send().await.unwrap().status(), 403);
    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(done["bytes"], json!(bytes.len()));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut entries = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        entries.push((entry.name().unwrap().to_string(), content));
    }
    let manifest = entries
        .iter()
        .find(|(name, _)| name == "manifest.json")
        .map(|(_, bytes)| serde_json::from_slice(bytes).unwrap())
        .expect("a manifest");
    (manifest, entries)
}

fn rows(manifest: &Value, kind: &str) -> u64 {
    manifest["rows"][kind].as_u64().unwrap()
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries.iter().find(|(n, _)| n == name).unwrap().1
}

/// Every file under the media folder.
fn blob_files(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

async fn exported_then_erased_everywhere(store: Option<Store>) {
    let signer = Signer::new();
    let h = Harness::with(Setup {
        store,
        end_users: Some(trusting(jwks_server(signer.jwk()).await)),
        ..Setup::default()
    })
    .await;
    let key = common::admin_project_key(&h, "voice", json!({"log_content": true})).await;
    let alice = User {
        h: &h,
        key: &key,
        name: "alice",
        token: signer.token("alice"),
    };
    let bob = User {
        h: &h,
        key: &key,
        name: "bob",
        token: signer.token("bob"),
    };
    alice.seed().await;
    bob.seed().await;
    let mut finished = alice.live_session().await;
    finished.close(None).await.unwrap();
    live::sessions(&h.store, 1).await;
    // Logs are written off the request path: wait until every kind is in.
    let mut manifest = Value::Null;
    let mut entries = Vec::new();
    for _ in 0..50 {
        (manifest, entries) = export(&h, "alice").await;
        if KINDS.iter().all(|kind| rows(&manifest, kind) > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for kind in KINDS {
        assert!(rows(&manifest, kind) > 0, "no {kind} exported: {manifest}");
    }
    assert_eq!(manifest["end_user"], "alice");
    assert_eq!(manifest["project"], "voice");
    let records = String::from_utf8_lossy(entry(&entries, "request_log.jsonl")).into_owned();
    assert!(records.contains("\"end_user\":\"alice\"") && !records.contains("bob"));
    let content = String::from_utf8_lossy(entry(&entries, "content.jsonl")).into_owned();
    assert!(content.contains("alice: remember my dog Rex."), "{content}");
    let transcripts = String::from_utf8_lossy(entry(&entries, "transcripts.jsonl")).into_owned();
    assert!(transcripts.contains("\"role\":\"model\""), "{transcripts}");
    let conversations =
        String::from_utf8_lossy(entry(&entries, "conversations.jsonl")).into_owned();
    assert!(
        conversations.contains("What is my dog's name?"),
        "{conversations}"
    );
    // The uploaded file's bytes, and the generated image, are in `blobs/`.
    let notes = alice.notes();
    assert!(
        entries
            .iter()
            .any(|(name, bytes)| name.starts_with("blobs/files/") && *bytes == notes)
    );
    assert!(
        entries
            .iter()
            .any(|(name, bytes)| name.starts_with("blobs/media/") && bytes.starts_with(b"\x89PNG"))
    );

    // Erasure: the open session is closed first, with its own code.
    let mut open = alice.live_session().await;
    let before = blob_files(h.media_dir());
    let (status, erased) = admin(
        &h,
        reqwest::Method::DELETE,
        "/admin/v1/projects/voice/users/alice",
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["realtime_sessions_closed"], 1);
    for kind in KINDS {
        assert!(
            erased["rows"][kind].as_u64().unwrap() > 0,
            "{kind}: {erased}"
        );
    }
    assert!(erased["blobs"].as_u64().unwrap() >= 2, "{erased}");
    assert_eq!(live::closed(&mut open).await.0, 4004);
    let after = blob_files(h.media_dir());
    assert!(after.len() < before.len(), "blobs were not deleted");
    let upload_left = after
        .iter()
        .filter(|path| std::fs::read(path).is_ok_and(|bytes| bytes == notes))
        .count();
    assert_eq!(upload_left, 0, "the uploaded file's blob is still there");
    // The finished session went with the erasure; the one it closed is
    // recorded without its end user or its transcript.
    let sessions = live::sessions(&h.store, 1).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].close_reason, "erased");
    assert_eq!(sessions[0].end_user, None);
    assert!(sessions[0].transcript.is_empty());

    // A later export finds nothing; bob's data is all there.
    let (manifest, entries) = export(&h, "alice").await;
    for kind in KINDS {
        assert_eq!(rows(&manifest, kind), 0, "{kind} left: {manifest}");
    }
    assert!(!entries.iter().any(|(name, _)| name.starts_with("blobs/")));
    let (manifest, _) = export(&h, "bob").await;
    for kind in [
        "request_log",
        "content",
        "conversations",
        "responses",
        "files",
        "media",
    ] {
        assert!(rows(&manifest, kind) > 0, "bob's {kind} went: {manifest}");
    }

    // Audited, without the user's id in the clear.
    let (_, audit) = admin(&h, reqwest::Method::GET, "/admin/v1/audit").await;
    let audit = audit.to_string();
    assert!(audit.contains("user_data.erase"), "{audit}");
    assert!(audit.contains("projects/voice/users/sha256:"), "{audit}");
    assert!(!audit.contains("alice"), "{audit}");
}

#[tokio::test]
async fn sqlite_a_users_data_is_exported_then_erased_everywhere() {
    exported_then_erased_everywhere(None).await;
}

#[tokio::test]
async fn postgres_a_users_data_is_exported_then_erased_everywhere() {
    let url = airlock_store::testing::fresh_postgres_database().await;
    exported_then_erased_everywhere(Some(Store::open(&url).await.unwrap())).await;
}

#[tokio::test]
async fn an_unknown_user_exports_an_empty_archive_and_project_keys_reach_nothing() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "voice", json!({})).await;
    let (manifest, entries) = export(&h, "nobody").await;
    for kind in KINDS {
        assert_eq!(rows(&manifest, kind), 0);
        assert!(
            entries
                .iter()
                .any(|(name, _)| *name == format!("{kind}.jsonl"))
        );
    }
    let paths = [
        (
            reqwest::Method::POST,
            "/admin/v1/projects/voice/users/u/export",
        ),
        (reqwest::Method::DELETE, "/admin/v1/projects/voice/users/u"),
        (reqwest::Method::DELETE, "/admin/v1/projects/voice/data"),
    ];
    for (method, path) in paths {
        let response = h
            .http
            .request(method, h.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let (status, body) = admin(
        &h,
        reqwest::Method::DELETE,
        "/admin/v1/projects/nope/users/u",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let long = "u".repeat(300);
    let (status, body) = admin(
        &h,
        reqwest::Method::POST,
        &format!("/admin/v1/projects/voice/users/{long}/export"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_whole_projects_data_is_erased_and_the_project_and_its_keys_stay() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "voice", json!({})).await;
    for user in ["u1", "u2"] {
        let response = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "user": user,
                          "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Both records, each naming its end user by the request's `user` field.
    let mut users = Vec::new();
    for _ in 0..100 {
        let records = h.store.recent_request_records(100).await.unwrap();
        users = records
            .into_iter()
            .filter_map(|r| r.end_user)
            .collect::<Vec<_>>();
        if users.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    users.sort();
    assert_eq!(users, ["u1", "u2"]);
    let (status, erased) =
        admin(&h, reqwest::Method::DELETE, "/admin/v1/projects/voice/data").await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["rows"]["request_log"], 2, "{erased}");
    assert!(
        h.store
            .recent_request_records(100)
            .await
            .unwrap()
            .is_empty()
    );
    // The project and its key still work.
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
