//! Blobs: one suite run against a local folder and against a real
//! S3-compatible server (SeaweedFS, started once for this binary by
//! `airlock_store::testing::SeaweedS3`), then what only one of them does:
//! pre-signed URLs (S3), failing fast when the endpoint is dead (S3), and a
//! write killed midway (a local folder).
//!
//! The S3 tests need SeaweedFS: `AIRLOCK_TEST_WEED` or `weed` on PATH
//! (`source scripts/lib/seaweedfs.sh` installs it); without it they fail.

use std::ops::Range;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::TryStreamExt;

use airlock_store::testing::SeaweedS3;
use airlock_store::{BlobError, BlobMeta, Blobs, BlobsConfig, S3Config};

/// A backend under test, and the key prefix this test owns on it (the S3
/// server is shared by every test of the binary).
struct Backend {
    blobs: Blobs,
    prefix: String,
    /// A local folder's root, removed when the test ends.
    root: Option<tempfile::TempDir>,
}

impl Backend {
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// The content type the backend gives back for one it was given.
    fn kept<'a>(&self, content_type: &'a str) -> Option<&'a str> {
        (self.blobs.backend() != "local").then_some(content_type)
    }
}

async fn local() -> Backend {
    let root = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(&BlobsConfig::Local {
        root: root.path().join("created/on/open"),
        sync: true,
    })
    .unwrap();
    Backend {
        blobs,
        prefix: "t".into(),
        root: Some(root),
    }
}

async fn s3() -> Backend {
    let server = SeaweedS3::shared().await;
    Backend {
        blobs: Blobs::open(&server.config()).unwrap(),
        prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
        root: None,
    }
}

/// Bytes whose every position holds a different-looking value, so a
/// shifted range shows.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect::<Vec<_>>()
        .into()
}

async fn read(blobs: &Blobs, key: &str, range: Option<Range<u64>>) -> Bytes {
    blobs.get(key, range).await.unwrap().bytes().await.unwrap()
}

async fn streamed(blobs: &Blobs, key: &str, range: Option<Range<u64>>) -> Vec<u8> {
    let object = blobs.get(key, range).await.unwrap();
    let chunks: Vec<Bytes> = object.into_stream().try_collect().await.unwrap();
    chunks.concat()
}

/// A test per behaviour and backend: `local::NAME` and `s3::NAME`.
macro_rules! on_both_backends {
    ($($behaviour:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test]
            async fn $behaviour() {
                super::$behaviour(super::local().await).await;
            })*
        }
        mod s3 {
            $(#[tokio::test]
            async fn $behaviour() {
                super::$behaviour(super::s3().await).await;
            })*
        }
    };
}

on_both_backends!(
    put_then_get_gives_back_the_bytes_and_content_type,
    ranges_give_the_bytes_asked_for,
    a_range_starting_at_or_past_the_end_is_not_satisfiable,
    head_gives_size_and_content_type,
    delete_removes_the_object_and_may_be_repeated,
    a_missing_key_is_not_found,
    a_key_prefix_is_not_an_object,
    invalid_keys_are_refused,
    overwriting_replaces_the_whole_object,
    a_five_megabyte_object_round_trips,
    an_empty_object_round_trips,
    a_listing_names_every_object_under_a_whole_segment_prefix,
);

async fn put_then_get_gives_back_the_bytes_and_content_type(backend: Backend) {
    let key = backend.key("scene/1.png");
    let body = pattern(1000);
    backend
        .blobs
        .put(&key, body.clone(), "image/png")
        .await
        .unwrap();
    let object = backend.blobs.get(&key, None).await.unwrap();
    assert_eq!(object.size, 1000);
    assert_eq!(object.range, 0..1000);
    assert_eq!(object.content_type.as_deref(), backend.kept("image/png"));
    assert_eq!(object.bytes().await.unwrap(), body);
    assert_eq!(streamed(&backend.blobs, &key, None).await, body);
}

async fn ranges_give_the_bytes_asked_for(backend: Backend) {
    let key = backend.key("narration.wav");
    let body = pattern(1000);
    backend
        .blobs
        .put(&key, body.clone(), "audio/wav")
        .await
        .unwrap();
    // The first bytes, the middle, the last ones (a suffix), one byte.
    for range in [0..10, 100..200, 990..1000, 999..1000] {
        let object = backend.blobs.get(&key, Some(range.clone())).await.unwrap();
        assert_eq!(object.size, 1000, "{range:?}");
        assert_eq!(object.range, range, "{range:?}");
        let expected = &body[range.start as usize..range.end as usize];
        assert_eq!(object.bytes().await.unwrap(), expected, "{range:?}");
        let streamed = streamed(&backend.blobs, &key, Some(range.clone())).await;
        assert_eq!(streamed, expected, "{range:?}");
    }
    // An end past the object is clamped to it, as an HTTP range is.
    let object = backend.blobs.get(&key, Some(995..5000)).await.unwrap();
    assert_eq!(object.range, 995..1000);
    assert_eq!(object.bytes().await.unwrap(), &body[995..]);
}

async fn a_range_starting_at_or_past_the_end_is_not_satisfiable(backend: Backend) {
    let key = backend.key("short.bin");
    backend
        .blobs
        .put(&key, pattern(100), "application/octet-stream")
        .await
        .unwrap();
    for range in [100..101, 100..200, 5000..6000, 10..10] {
        let result = backend.blobs.get(&key, Some(range.clone())).await;
        assert!(
            matches!(result, Err(BlobError::RangeNotSatisfiable { size: 100 })),
            "{range:?}: {result:?}"
        );
    }
    // A range of a missing object is a missing object.
    let result = backend.blobs.get(&backend.key("nope"), Some(0..10)).await;
    assert!(matches!(result, Err(BlobError::NotFound)), "{result:?}");
}

async fn head_gives_size_and_content_type(backend: Backend) {
    let key = backend.key("meta.webp");
    backend
        .blobs
        .put(&key, pattern(4321), "image/webp")
        .await
        .unwrap();
    let meta = backend.blobs.head(&key).await.unwrap();
    assert_eq!(
        meta,
        BlobMeta {
            size: 4321,
            content_type: backend.kept("image/webp").map(str::to_string),
        }
    );
}

async fn delete_removes_the_object_and_may_be_repeated(backend: Backend) {
    let key = backend.key("gone/soon.png");
    backend
        .blobs
        .put(&key, pattern(10), "image/png")
        .await
        .unwrap();
    backend.blobs.delete(&key).await.unwrap();
    assert!(matches!(
        backend.blobs.get(&key, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        backend.blobs.head(&key).await,
        Err(BlobError::NotFound)
    ));
    backend.blobs.delete(&key).await.unwrap();
}

async fn a_listing_names_every_object_under_a_whole_segment_prefix(backend: Backend) {
    let before_ms = jiff::Timestamp::now().as_millisecond() - 60_000;
    for (name, len) in [("cache/a", 3), ("cache/deeper/b", 5), ("cached/c", 7)] {
        backend
            .blobs
            .put(&backend.key(name), pattern(len), "application/octet-stream")
            .await
            .unwrap();
    }
    let mut listed = backend.blobs.list(&backend.key("cache")).await.unwrap();
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    let named: Vec<(&str, u64)> = listed.iter().map(|b| (b.key.as_str(), b.size)).collect();
    let (a, b) = (backend.key("cache/a"), backend.key("cache/deeper/b"));
    assert_eq!(named, [(a.as_str(), 3), (b.as_str(), 5)]);
    for blob in &listed {
        assert!(blob.modified_at_ms > before_ms, "{blob:?}");
    }
    assert!(
        backend
            .blobs
            .list(&backend.key("none"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        backend.blobs.list("../up").await,
        Err(BlobError::InvalidKey(_))
    ));
}

async fn a_missing_key_is_not_found(backend: Backend) {
    let key = backend.key("never/written.png");
    assert!(matches!(
        backend.blobs.get(&key, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        backend.blobs.head(&key).await,
        Err(BlobError::NotFound)
    ));
}

async fn a_key_prefix_is_not_an_object(backend: Backend) {
    backend
        .blobs
        .put(&backend.key("dir/inside.png"), pattern(10), "image/png")
        .await
        .unwrap();
    let dir = backend.key("dir");
    let result = backend.blobs.get(&dir, None).await;
    assert!(matches!(result, Err(BlobError::NotFound)), "{result:?}");
    let result = backend.blobs.head(&dir).await;
    assert!(matches!(result, Err(BlobError::NotFound)), "{result:?}");
}

async fn invalid_keys_are_refused(backend: Backend) {
    let escape = backend.key("../../escaped");
    for key in ["../x", "/etc/passwd", "", "a//b", escape.as_str()] {
        let put = backend.blobs.put(key, pattern(3), "image/png").await;
        assert!(matches!(put, Err(BlobError::InvalidKey(_))), "{key:?}");
        let get = backend.blobs.get(key, None).await;
        assert!(matches!(get, Err(BlobError::InvalidKey(_))), "{key:?}");
        let head = backend.blobs.head(key).await;
        assert!(matches!(head, Err(BlobError::InvalidKey(_))), "{key:?}");
        let delete = backend.blobs.delete(key).await;
        assert!(matches!(delete, Err(BlobError::InvalidKey(_))), "{key:?}");
        let signed = backend
            .blobs
            .presigned_get(key, Duration::from_secs(60))
            .await;
        assert!(matches!(signed, Err(BlobError::InvalidKey(_))), "{key:?}");
    }
    if let Some(root) = &backend.root {
        // Nothing was written anywhere under the temporary directory.
        let files = walk(root.path());
        assert!(files.is_empty(), "{files:?}");
    }
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn overwriting_replaces_the_whole_object(backend: Backend) {
    let key = backend.key("replaced");
    backend
        .blobs
        .put(&key, pattern(5000), "image/png")
        .await
        .unwrap();
    let newer = Bytes::from_static(b"short and new");
    backend
        .blobs
        .put(&key, newer.clone(), "image/jpeg")
        .await
        .unwrap();
    let object = backend.blobs.get(&key, None).await.unwrap();
    assert_eq!(object.size, newer.len() as u64);
    assert_eq!(object.content_type.as_deref(), backend.kept("image/jpeg"));
    assert_eq!(object.bytes().await.unwrap(), newer);
}

async fn a_five_megabyte_object_round_trips(backend: Backend) {
    let key = backend.key("big/narration.pcm");
    let body = pattern(5 * 1024 * 1024);
    backend
        .blobs
        .put(&key, body.clone(), "audio/pcm")
        .await
        .unwrap();
    assert_eq!(read(&backend.blobs, &key, None).await, body);
    assert_eq!(streamed(&backend.blobs, &key, None).await, body);
    // Across the boundary of a local file's read chunks (256 KiB).
    let range = 262_000..263_000;
    assert_eq!(
        streamed(&backend.blobs, &key, Some(range.clone())).await,
        &body[262_000..263_000]
    );
    let tail = 5 * 1024 * 1024 - 10..5 * 1024 * 1024;
    assert_eq!(
        read(&backend.blobs, &key, Some(tail.clone())).await,
        &body[tail.start as usize..]
    );
}

async fn an_empty_object_round_trips(backend: Backend) {
    let key = backend.key("empty.txt");
    backend
        .blobs
        .put(&key, Bytes::new(), "text/plain")
        .await
        .unwrap();
    let object = backend.blobs.get(&key, None).await.unwrap();
    assert_eq!((object.size, object.range.clone()), (0, 0..0));
    assert!(object.bytes().await.unwrap().is_empty());
    assert!(streamed(&backend.blobs, &key, None).await.is_empty());
    assert_eq!(backend.blobs.head(&key).await.unwrap().size, 0);
    // No byte of it can be asked for.
    let result = backend.blobs.get(&key, Some(0..1)).await;
    assert!(
        matches!(result, Err(BlobError::RangeNotSatisfiable { size: 0 })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_local_folder_has_no_presigned_urls() {
    let backend = local().await;
    let key = backend.key("a.png");
    backend
        .blobs
        .put(&key, pattern(10), "image/png")
        .await
        .unwrap();
    let url = backend
        .blobs
        .presigned_get(&key, Duration::from_secs(60))
        .await;
    assert!(matches!(url, Ok(None)), "{url:?}");
}

#[tokio::test]
async fn an_s3_presigned_url_serves_the_object_until_it_expires_and_not_when_tampered() {
    let backend = s3().await;
    let key = backend.key("shared/scene.png");
    let body = pattern(2048);
    backend
        .blobs
        .put(&key, body.clone(), "image/png")
        .await
        .unwrap();
    // reqwest's rustls has no built-in crypto provider (Blobs installed ring's too).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let fetch = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, content_type, response.bytes().await.unwrap())
        }
    };

    let url = backend
        .blobs
        .presigned_get(&key, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("S3 signs URLs");
    let (status, content_type, bytes) = fetch(url.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(bytes, body);

    // Without the signature, with another object's path, with the
    // signature changed: refused.
    let mut unsigned = url.clone();
    unsigned.set_query(None);
    assert_eq!(fetch(unsigned.to_string()).await.0, 403);
    let other = url.to_string().replace("scene.png", "other.png");
    assert_eq!(fetch(other).await.0, 403);
    let mut tampered = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "X-Amz-Signature" {
                let first = if value.starts_with('0') { '1' } else { '0' };
                format!("{first}{}", &value[1..])
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(&pairs);
    assert_ne!(tampered, url);
    assert_eq!(fetch(tampered.to_string()).await.0, 403);

    // Expired.
    let short = backend
        .blobs
        .presigned_get(&key, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(fetch(short.to_string()).await.0, 403);
}

/// An endpoint where nothing listens.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn s3_config(endpoint: String, secret: &str) -> BlobsConfig {
    BlobsConfig::S3(S3Config {
        endpoint: Some(endpoint),
        bucket: "airlock-test".into(),
        region: "us-east-1".into(),
        access_key_id: "airlock-test".into(),
        secret_access_key: secret.into(),
        path_style: true,
        allow_http: true,
    })
}

#[tokio::test]
async fn a_dead_s3_endpoint_fails_fast_as_unavailable() {
    let secret = "dead-endpoint-secret";
    let blobs = Blobs::open(&s3_config(dead_endpoint(), secret)).unwrap();
    let started = Instant::now();
    let errors = [
        blobs
            .put("a.png", pattern(10), "image/png")
            .await
            .unwrap_err(),
        blobs.get("a.png", None).await.unwrap_err(),
        blobs.get("a.png", Some(0..5)).await.unwrap_err(),
        blobs.head("a.png").await.unwrap_err(),
        blobs.delete("a.png").await.unwrap_err(),
    ];
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    for error in errors {
        assert!(
            matches!(error, BlobError::Unavailable { backend: "s3", .. }),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn wrong_s3_credentials_are_unavailable_and_never_shown() {
    let server = SeaweedS3::shared().await;
    let secret = "not-the-right-secret";
    let blobs = Blobs::open(&s3_config(server.endpoint().to_string(), secret)).unwrap();
    let errors = [
        blobs
            .put("a.png", pattern(10), "image/png")
            .await
            .unwrap_err(),
        blobs.get("a.png", None).await.unwrap_err(),
        blobs.head("a.png").await.unwrap_err(),
    ];
    for error in errors {
        assert!(
            matches!(error, BlobError::Unavailable { backend: "s3", .. }),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn an_s3_server_gone_away_is_unavailable() {
    let server = SeaweedS3::start().await;
    let blobs = Blobs::open(&server.config()).unwrap();
    blobs
        .put("kept.png", pattern(10), "image/png")
        .await
        .unwrap();
    assert_eq!(read(&blobs, "kept.png", None).await, pattern(10));
    drop(server);
    let result = blobs.get("kept.png", None).await;
    assert!(
        matches!(result, Err(BlobError::Unavailable { backend: "s3", .. })),
        "{result:?}"
    );
}

/// Set in the child process of the test below: the local root it writes to.
const KILLED_WRITER_ROOT: &str = "AIRLOCK_TEST_KILLED_WRITER_ROOT";
/// SIGXFSZ on Linux: a write past the file-size limit.
const SIGXFSZ: i32 = 25;
const KILLED_WRITE_BYTES: usize = 8 * 1024 * 1024;

/// This test runs itself again in a child process whose files may not
/// pass 1 or 2 MiB (`ulimit -f`): the kernel kills the child partway
/// through writing an 8 MiB object, as a crash would. Nothing is at the
/// key afterwards, and the key can be written again.
#[tokio::test]
async fn a_local_write_killed_midway_leaves_nothing_at_the_key() {
    let key = "media/killed.bin";
    if let Some(root) = std::env::var_os(KILLED_WRITER_ROOT) {
        let blobs = Blobs::open(&BlobsConfig::Local {
            root: root.into(),
            sync: true,
        })
        .unwrap();
        let _ = blobs
            .put(key, pattern(KILLED_WRITE_BYTES), "application/octet-stream")
            .await;
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -c 0 && ulimit -f 2048 && exec "$0" "$@""#)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_local_write_killed_midway_leaves_nothing_at_the_key",
            "--test-threads=1",
        ])
        .env(KILLED_WRITER_ROOT, root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(SIGXFSZ), "{status:?}");

    // The write was under way: its staging file holds part of the bytes.
    let staged: Vec<u64> = walk(root.path())
        .iter()
        .map(|path| path.metadata().unwrap().len())
        .collect();
    assert!(
        staged.len() == 1 && staged[0] > 0 && staged[0] < KILLED_WRITE_BYTES as u64,
        "{staged:?}"
    );

    let blobs = Blobs::open(&BlobsConfig::Local {
        root: root.path().into(),
        sync: false,
    })
    .unwrap();
    assert!(matches!(
        blobs.get(key, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(blobs.head(key).await, Err(BlobError::NotFound)));
    let body = pattern(1000);
    blobs
        .put(key, body.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(read(&blobs, key, None).await, body);
}
