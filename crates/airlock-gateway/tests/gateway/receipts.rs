//! Receipts: every answer names one, it verifies offline against the
//! bodies exchanged, projects read only their own, the log is served as
//! C2SP tiles and checkpoints, consistency proofs link checkpoints, and a
//! damaged log fails verification saying what is wrong.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_receipts::tiles::{TileId, TileSet};
use airlock_receipts::{
    Bodies, Checkpoint, Hash, VerifyError, leaf_hash, open_checkpoint, parse_entry_bundle,
    verify_consistency,
};
use airlock_store::{KeySettings, Limits};
use serde_json::{Value, json};

use crate::common::{
    self, Harness, MASTER_KEY, Setup, fetch_receipt as fetch, proven_receipt as proven,
};

fn chat_body(content: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
    })
}

/// A chat request with `key`: the body sent, the answer's body and its
/// receipt id.
async fn chat(h: &Harness, key: &str, content: &str) -> (Vec<u8>, Vec<u8>, String) {
    let body = serde_json::to_vec(&chat_body(content)).unwrap();
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.headers()["x-airlock-receipt"]
        .to_str()
        .unwrap()
        .to_string();
    let answer = response.bytes().await.unwrap().to_vec();
    (body, answer, receipt)
}

fn verifier(h: &Harness) -> airlock_receipts::VerifierKey {
    h.receipts.as_ref().unwrap().verifier()
}

#[tokio::test]
async fn an_answer_names_its_receipt_which_verifies_offline_against_the_bodies_exchanged() {
    let h = Harness::start().await;
    let (request, answer, id) = chat(&h, MASTER_KEY, "A story about a lighthouse.").await;
    assert!(id.starts_with("rcpt_"), "{id}");
    let bundle = proven(&h, MASTER_KEY, &id).await;
    assert_eq!(bundle.id, id);
    let bodies = Bodies {
        request: Some(&request),
        response: Some(&answer),
    };
    let verified = bundle.verify(&verifier(&h), bodies).unwrap();
    assert!(verified.request_checked && verified.response_checked);
    assert_eq!(verified.checkpoint.origin, common::RECEIPTS_ORIGIN);
    let entry = &verified.entry;
    assert_eq!(entry.surface, "openai");
    assert_eq!(entry.operation, "chat.completions");
    assert_eq!(entry.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(entry.provider.as_deref(), Some("openai"));
    assert_eq!((entry.status, entry.outcome.as_str()), (200, "ok"));
    assert!(entry.usage.output_tokens.unwrap() > 0, "{entry:?}");
    // Only digests: neither the prompt nor the answer is in the entry.
    let bytes = bundle.entry_bytes().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("lighthouse"), "{text}");

    // Another answer's body does not match.
    let other = Bodies {
        request: None,
        response: Some(b"{\"a different\":\"answer\"}"),
    };
    let error = bundle.verify(&verifier(&h), other).unwrap_err();
    assert!(
        matches!(error, VerifyError::BodyMismatch("response", _, _)),
        "{error}"
    );
    h.stop().await;
}

#[tokio::test]
async fn every_request_log_record_has_exactly_one_receipt() {
    let h = Harness::start().await;
    for turn in 0..5 {
        chat(&h, MASTER_KEY, &format!("turn {turn}")).await;
    }
    // Errors are records too: an unknown model, and a bad key.
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&chat_body("x").as_object().cloned().map(|mut body| {
            body.insert("model".into(), json!("no-such-model"));
            body
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-airlock-receipt"));
    let store = h.store.clone();
    let records = h.stop().await;
    let size = store.receipt_log_size().await.unwrap();
    assert_eq!(size, records.len() as u64, "{records:?}");
    // The final checkpoint at shutdown covers them all.
    let latest = store.latest_receipt_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, size);
}

#[tokio::test]
async fn a_project_key_reads_its_own_receipts_only() {
    let h = Harness::start().await;
    let story =
        common::project_key(&h, "story", Limits::default(), KeySettings::default(), None).await;
    let other =
        common::project_key(&h, "other", Limits::default(), KeySettings::default(), None).await;
    let (_, _, id) = chat(&h, &story, "mine").await;
    let bundle = proven(&h, &story, &id).await;
    let project = h.store.project_by_name("story").await.unwrap().unwrap();
    assert_eq!(bundle.entry.project.as_deref(), Some(project.id.as_str()));
    assert!(bundle.entry.key.is_some());
    let (status, body, _) = fetch(&h, &other, &id).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "receipt_not_found");
    let (status, _, _) = fetch(&h, MASTER_KEY, &id).await;
    assert_eq!(status, 200);
    let (status, body, _) = fetch(&h, &story, "rcpt_nothing").await;
    assert_eq!(status, 404, "{body}");
    h.stop().await;
}

#[tokio::test]
async fn a_receipt_no_checkpoint_covers_yet_is_pending_with_retry_after() {
    let h = Harness::with(Setup {
        receipts: Some(Duration::from_secs(3600)),
        ..Setup::default()
    })
    .await;
    // The first interval's tick is at once: let it pass with an empty log.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, _, id) = chat(&h, MASTER_KEY, "soon").await;
    let receipts = h.receipts.clone().unwrap();
    // Once the request log's writer has appended it, and until a
    // checkpoint covers it, the receipt is pending.
    for _ in 0..100 {
        if h.store.receipt_log_size().await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body, retry_after) = fetch(&h, MASTER_KEY, &id).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(retry_after.as_deref(), Some("1"));
    receipts.checkpoint().await.unwrap();
    let (status, _, _) = fetch(&h, MASTER_KEY, &id).await;
    assert_eq!(status, 200);
    h.stop().await;
}

/// GETs `path` without a key: status, body bytes, Cache-Control.
async fn public_get(h: &Harness, path: &str) -> (u16, Vec<u8>, Option<String>) {
    let response = h.http.get(h.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().unwrap().to_string());
    (status, response.bytes().await.unwrap().to_vec(), cache)
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|chunk| Hash::from_slice(chunk).unwrap())
        .collect()
}

#[tokio::test]
async fn the_log_is_served_as_c2sp_tiles_that_rebuild_the_signed_root() {
    let h = Harness::start().await;
    // 300 records: one full tile of leaves and a partial one.
    requests(&h, 300).await;
    let receipts = h.receipts.clone().unwrap();
    for _ in 0..200 {
        let signed = receipts.checkpoint().await.unwrap();
        if signed.is_some_and(|checkpoint| checkpoint.size >= 300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, note, cache) = public_get(&h, "/log/checkpoint").await;
    assert_eq!((status, cache.as_deref()), (200, Some("no-cache")));
    let note = String::from_utf8(note).unwrap();
    let checkpoint: Checkpoint = open_checkpoint(&note, &verifier(&h)).unwrap();
    assert!(checkpoint.size >= 300, "{note}");
    let size = checkpoint.size;

    // The tiles of that size, as a client of tlog-tiles reads them.
    let mut tiles = TileSet::new();
    let (status, full, cache) = public_get(&h, "/log/tile/0/000").await;
    assert_eq!(status, 200);
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(full.len(), 256 * 32);
    tiles.insert(TileId { level: 0, index: 0 }, hashes(&full));
    let width = size - 256;
    let (status, partial, _) = public_get(&h, &format!("/log/tile/0/001.p/{width}")).await;
    assert_eq!(status, 200);
    assert_eq!(partial.len() as u64, width * 32);
    tiles.insert(TileId { level: 0, index: 1 }, hashes(&partial));
    let (status, upper, _) = public_get(&h, "/log/tile/1/000.p/1").await;
    assert_eq!(status, 200);
    tiles.insert(TileId { level: 1, index: 0 }, hashes(&upper));
    let root = airlock_receipts::root(size, &mut tiles);
    assert_eq!(tiles.missing(), None);
    assert_eq!(root, checkpoint.root, "the tiles rebuild the signed root");

    // The entry bundle's entries hash to the tile's leaves.
    let (status, bundle, _) = public_get(&h, "/log/tile/entries/000").await;
    assert_eq!(status, 200);
    let entries = parse_entry_bundle(&bundle).unwrap();
    assert_eq!(entries.len(), 256);
    let leaves: Vec<Hash> = entries.iter().map(|entry| leaf_hash(entry)).collect();
    assert_eq!(leaves, hashes(&full));
    let first: Value = serde_json::from_slice(&entries[0]).unwrap();
    assert_eq!(first["operation"], "models.list");

    // A tile the tree does not have yet, and paths that are not tiles.
    let (status, _, _) = public_get(&h, "/log/tile/0/001").await;
    assert_eq!(status, 404, "the second leaf tile is not full");
    let (status, _, _) = public_get(&h, "/log/tile/0/005.p/3").await;
    assert_eq!(status, 404);
    for bad in [
        "/log/tile/0/1",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/x/000",
    ] {
        let (status, body, _) = public_get(&h, bad).await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "invalid_tile_path", "{bad}");
    }
    h.stop().await;
}

/// An object of the log's copy in the harness's media store, if written.
fn mirrored(h: &Harness, path: &str) -> Option<Vec<u8>> {
    std::fs::read(h.media_dir().join("receipts").join(path)).ok()
}

/// `count` requests, each a record with a receipt.
async fn requests(h: &Harness, count: usize) {
    for _ in 0..count {
        let response = h
            .http
            .get(h.url("/v1/models"))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// The copy's checkpoint once it covers at least `size` leaves.
async fn mirrored_checkpoint(h: &Harness, size: u64) -> Checkpoint {
    for _ in 0..500 {
        if let Some(note) = mirrored(h, "checkpoint") {
            let note = String::from_utf8(note).unwrap();
            let checkpoint = open_checkpoint(&note, &verifier(h)).unwrap();
            if checkpoint.size >= size {
                return checkpoint;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the object store's copy never reached {size} leaves");
}

#[tokio::test]
async fn the_log_is_copied_to_the_object_store_as_tiles_that_rebuild_its_checkpoint() {
    let h = Harness::with(Setup {
        receipts_mirror: true,
        ..Setup::default()
    })
    .await;
    requests(&h, 300).await;
    let checkpoint = mirrored_checkpoint(&h, 300).await;
    let size = checkpoint.size;

    // A tlog-tiles client reading the bucket alone rebuilds the signed root.
    let mut tiles = TileSet::new();
    let full = mirrored(&h, "tile/0/000").expect("the full leaf tile");
    assert_eq!(full.len(), 256 * 32);
    tiles.insert(TileId { level: 0, index: 0 }, hashes(&full));
    let partial = mirrored(&h, &format!("tile/0/001.p/{}", size - 256)).expect("the partial tile");
    tiles.insert(TileId { level: 0, index: 1 }, hashes(&partial));
    let upper = mirrored(&h, "tile/1/000.p/1").expect("the level-1 tile");
    tiles.insert(TileId { level: 1, index: 0 }, hashes(&upper));
    let root = airlock_receipts::root(size, &mut tiles);
    assert_eq!(tiles.missing(), None);
    assert_eq!(
        root, checkpoint.root,
        "the copy's tiles rebuild the signed root"
    );
    // The same bytes the gateway serves, and entry bundles that hash to them.
    let (_, served, _) = public_get(&h, "/log/tile/0/000").await;
    assert_eq!(served, full);
    let bundle = mirrored(&h, "tile/entries/000").expect("the entry bundle");
    let leaves: Vec<Hash> = parse_entry_bundle(&bundle)
        .unwrap()
        .iter()
        .map(|entry| leaf_hash(entry))
        .collect();
    assert_eq!(leaves, hashes(&full));
    let partial_bundle = mirrored(&h, &format!("tile/entries/001.p/{}", size - 256)).unwrap();
    assert_eq!(
        parse_entry_bundle(&partial_bundle).unwrap().len() as u64,
        size - 256
    );
    assert_eq!(
        mirrored(&h, "mirrored-size"),
        Some(size.to_string().into_bytes())
    );

    // As the log grows, the copy follows: the new partial tile, the new
    // checkpoint; the full tile is left as it was.
    requests(&h, 10).await;
    let grown = mirrored_checkpoint(&h, size + 10).await;
    let width = grown.size - 256;
    let partial = mirrored(&h, &format!("tile/0/001.p/{width}")).expect("the grown partial tile");
    tiles.insert(TileId { level: 0, index: 1 }, hashes(&partial));
    assert_eq!(airlock_receipts::root(grown.size, &mut tiles), grown.root);
    assert_eq!(mirrored(&h, "tile/0/000"), Some(full));
    h.stop().await;
}

#[tokio::test]
async fn consistency_proofs_link_an_older_checkpoint_to_the_latest() {
    let h = Harness::start().await;
    let receipts = h.receipts.clone().unwrap();
    let checkpoint_after = |count: u64| {
        let receipts = receipts.clone();
        let store = h.store.clone();
        async move {
            for _ in 0..200 {
                if store.receipt_log_size().await.unwrap() >= count {
                    return receipts.checkpoint().await.unwrap().unwrap();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("the log never reached {count} entries");
        }
    };
    for turn in 0..3 {
        chat(&h, MASTER_KEY, &format!("first {turn}")).await;
    }
    let old = checkpoint_after(3).await;
    for turn in 0..7 {
        chat(&h, MASTER_KEY, &format!("second {turn}")).await;
    }
    let new = checkpoint_after(old.size + 7).await;
    let response = h
        .http
        .get(h.url(&format!(
            "/log/proof/consistency?from={}&to={}",
            old.size, new.size
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let proof: Vec<Hash> = body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| Hash::from_base64(hash.as_str().unwrap()).unwrap())
        .collect();
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).unwrap();
    // A root that is not the old tree's does not verify.
    let forged = Hash([7; 32]);
    assert!(verify_consistency(old.size, new.size, &forged, &new.root, &proof).is_err());

    for (query, code) in [
        (
            format!("from={}&to={}", new.size, old.size),
            "invalid_tree_size",
        ),
        (
            format!("from=0&to={}", new.size + 1000),
            "invalid_tree_size",
        ),
        ("from=a&to=3".to_string(), "invalid_tree_size"),
        ("to=3".to_string(), "invalid_tree_size"),
    ] {
        let response = h
            .http
            .get(h.url(&format!("/log/proof/consistency?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{query}");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_edited_entry_fails_verification_saying_it_is_not_in_the_log() {
    let h = Harness::start().await;
    let (_, _, id) = chat(&h, MASTER_KEY, "the original").await;
    let bundle = proven(&h, MASTER_KEY, &id).await;
    bundle.verify(&verifier(&h), Bodies::default()).unwrap();
    // Someone with the database rewrites the entry's status.
    let edited = String::from_utf8(bundle.entry_bytes().unwrap())
        .unwrap()
        .replace("\"status\":200", "\"status\":201");
    let sql = format!(
        "UPDATE receipt_entries SET entry = X'{}' WHERE receipt_id = '{id}'",
        hex::encode(edited.as_bytes())
    );
    assert_eq!(
        airlock_store::testing::execute_sql(&h.store, &sql)
            .await
            .unwrap(),
        1
    );
    let tampered = proven(&h, MASTER_KEY, &id).await;
    assert_eq!(tampered.entry.status, 201);
    let error = tampered
        .verify(&verifier(&h), Bodies::default())
        .unwrap_err();
    assert!(matches!(error, VerifyError::Inclusion(_)), "{error}");
    assert!(
        error.to_string().contains("not in the log"),
        "the message says what is wrong: {error}"
    );
    // A receipt edited by hand after it was given fails the same way; one
    // whose readable entry disagrees with its bytes is refused as such.
    let mut readable = bundle.clone();
    readable.entry.status = 500;
    let error = readable
        .verify(&verifier(&h), Bodies::default())
        .unwrap_err();
    assert_eq!(error, VerifyError::EntryMismatch);
    h.stop().await;
}

/// The text deltas of an SSE stream, concatenated as an SDK accumulates
/// them: OpenAI's `delta.content`, or Gemini's text parts.
fn streamed_text(body: &str) -> String {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .map(|chunk| {
            let openai = chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string);
            let gemini = chunk["candidates"][0]["content"]["parts"]
                .as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<String>()
                });
            openai.or(gemini).unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_answer_receipt_carries_the_digest_of_its_text() {
    let h = Harness::start().await;
    let mut body = chat_body("Stream me a story.");
    body["stream"] = json!(true);
    let openai = h
        .openai_post("/v1/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap();
    let gemini = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Stream me a poem."}]}]}))
        .send()
        .await
        .unwrap();
    for response in [openai, gemini] {
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-airlock-receipt"]
            .to_str()
            .unwrap()
            .to_string();
        let text = streamed_text(&response.text().await.unwrap());
        assert!(text.len() > 10, "{text}");
        let bundle = proven(&h, MASTER_KEY, &id).await;
        assert!(bundle.entry.streamed);
        let bodies = Bodies {
            request: None,
            response: Some(text.as_bytes()),
        };
        let verified = bundle.verify(&verifier(&h), bodies).unwrap();
        assert!(verified.response_checked);
    }
    h.stop().await;
}

#[tokio::test]
async fn an_image_answer_given_as_a_url_has_its_pictures_digest_in_the_receipt() {
    let h = Harness::start().await;
    let response = h
        .openai_post("/v1/images/generations")
        .header("x-airlock-media", "url")
        .json(&json!({"model": "gpt-image-1", "prompt": "a lighthouse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-airlock-receipt"]
        .to_str()
        .unwrap()
        .to_string();
    let answer: Value = response.json().await.unwrap();
    let url = answer["data"][0]["url"].as_str().unwrap();
    let picture = h.http.get(url).send().await.unwrap().bytes().await.unwrap();
    assert!(!picture.is_empty());
    let bundle = proven(&h, MASTER_KEY, &id).await;
    assert_eq!(bundle.entry.operation, "images.generations");
    assert_eq!(
        bundle.entry.media_sha256,
        vec![airlock_receipts::sha256_hex(&picture)],
        "the picture behind the URL is the one the receipt names"
    );
    bundle.verify(&verifier(&h), Bodies::default()).unwrap();
    h.stop().await;
}

/// What an anchor webhook received: each body and its signature header.
type Anchored = Arc<Mutex<Vec<(String, Value)>>>;

async fn anchor_receiver() -> (String, Anchored) {
    let received: Anchored = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/anchor",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let signature = headers["x-airlock-signature"].to_str().unwrap().to_string();
                assert!(
                    airlock_gateway::webhook::verify(
                        common::ANCHOR_SECRET,
                        &signature,
                        body.as_bytes(),
                        airlock_gateway::clock::unix_secs(),
                        300
                    ),
                    "every publication is signed"
                );
                kept.lock()
                    .unwrap()
                    .push((signature, serde_json::from_str(&body).unwrap()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/anchor"), received)
}

#[tokio::test]
async fn a_witness_cosigns_each_checkpoint_and_the_anchor_webhook_receives_them_signed() {
    let (url, received) = anchor_receiver().await;
    let (witness, _) = airlock_receipts::SignerKey::generate("witness.example/w1").unwrap();
    let h = Harness::with(Setup {
        receipts_witness: Some(witness.clone()),
        receipts_anchor: Some((url, Duration::from_millis(100))),
        ..Setup::default()
    })
    .await;
    let witness = airlock_receipts::CosignerKey::parse(&witness)
        .unwrap()
        .verifier();
    let (_, _, id) = chat(&h, MASTER_KEY, "witnessed").await;
    let bundle = proven(&h, MASTER_KEY, &id).await;
    // The receipt's checkpoint carries the witness's cosignature beside
    // the log's signature: both verify.
    bundle.verify(&verifier(&h), Bodies::default()).unwrap();
    let cosigned_at = airlock_receipts::verify_cosignature(&bundle.checkpoint, &witness).unwrap();
    let now = airlock_gateway::clock::unix_secs();
    assert!(
        cosigned_at <= now && now - cosigned_at < 60,
        "{cosigned_at} {now}"
    );

    // The anchor received a checkpoint covering the receipt, signed.
    let covering = bundle.leaf_index + 1;
    let mut published = None;
    for _ in 0..200 {
        published = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| body.clone())
            .find(|body| body["size"].as_u64().is_some_and(|size| size >= covering));
        if published.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let published = published.expect("the anchor never received a covering checkpoint");
    assert_eq!(published["type"], "receipts.checkpoint");
    assert_eq!(published["origin"], common::RECEIPTS_ORIGIN);
    let note = published["checkpoint"].as_str().unwrap();
    let checkpoint = open_checkpoint(note, &verifier(&h)).unwrap();
    assert_eq!(checkpoint.root.to_base64(), published["root_hash"]);
    airlock_receipts::verify_cosignature(note, &witness).unwrap();
    // Each size is published once.
    let sizes: Vec<u64> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|pair| pair[0] < pair[1]), "{sizes:?}");
    h.stop().await;
}
