//! The processes a scenario runs and how it talks to them: simulators
//! (`airlock mock`, one process per provider, so one can fail, be killed
//! and come back on its port while the other answers), the gateway
//! (`airlock serve` with the scenario's configuration), a client whose
//! every request has a deadline, `/metrics` read as numbers, and the
//! request log read back from the database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use airlock_store::{RequestRecord, Store};
use serde_json::{Value, json};

use crate::common::{airlock, send_sigterm, start_serve_logged};
use crate::metrics::Metrics;

/// The client key every request to the gateway carries.
pub const MASTER_KEY: &str = "faults-master-key";
/// The key the gateway calls the simulators with.
const PROVIDER_KEY: &str = "sim";
/// No answer may take longer: one that has not come by then is a hang.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// The model every route sends upstream.
pub const UPSTREAM_MODEL: &str = "gpt-4o-mini";

/// Keeps the last lines a child wrote to stderr, for failure messages.
#[derive(Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn follow(lines: mpsc::Receiver<String>) -> Tail {
        let tail = Tail::default();
        let kept = tail.clone();
        std::thread::spawn(move || {
            for line in lines {
                let mut kept = kept.0.lock().unwrap();
                if kept.len() == 200 {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        tail
    }

    pub fn text(&self) -> String {
        let kept = self.0.lock().unwrap();
        kept.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// A provider simulator in a process of its own.
pub struct Mock {
    child: Child,
    /// `127.0.0.1:PORT`, kept across restarts.
    pub addr: String,
    args: Vec<String>,
}

impl Mock {
    /// Starts `airlock mock` on a free port, with extra flags
    /// (`--per-chunk-ms`, ...).
    pub fn start(args: &[&str]) -> Mock {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, addr) = Self::spawn("127.0.0.1:0", &args);
        Mock { child, addr, args }
    }

    fn spawn(listen: &str, args: &[String]) -> (Child, String) {
        let (child, addr, _, lines) =
            start_serve_logged(airlock().args(["mock", "--listen", listen]).args(args));
        Tail::follow(lines);
        (child, addr)
    }

    /// SIGKILL: the provider is gone, its port refuses connections.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        // The port is free once the killed process is gone; bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpListener::bind(&self.addr).is_err() {
            assert!(Instant::now() < deadline, "{} stays taken", self.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
        let (child, addr) = Self::spawn(&self.addr, &self.args);
        assert_eq!(addr, self.addr);
        self.child = child;
    }

    /// Adds a fault rule (`POST /mock/faults`).
    pub async fn add_rule(&self, rule: Value) {
        let response = client()
            .post(format!("http://{}/mock/faults", self.addr))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            201,
            "{rule}: {:?}",
            response.text().await
        );
    }

    /// How many requests' bodies it has read (of the last 64 it keeps).
    pub async fn received(&self) -> usize {
        let listed: Value = client()
            .get(format!("http://{}/mock/requests", self.addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed["data"].as_array().unwrap().len()
    }

    /// Forgets every fault rule.
    pub async fn clear_rules(&self) {
        let response = client()
            .delete(format!("http://{}/mock/faults", self.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client with a deadline on every request.
pub fn client() -> reqwest::Client {
    // reqwest needs a process-wide crypto provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap()
}

/// The gateway's configuration: two OpenAI providers, each its own
/// simulator (`primary`, `backup`), and a Gemini provider on the primary's
/// simulator; routes with and without fallbacks.
///
/// Routes: `solo` (primary, no fallback), `smart` (primary, falls back to
/// `spare` on the default triggers), `smart-on-errors` (the same, on
/// errors only), `spare` (backup); `gemini-*` (the Gemini provider).
pub struct Setup {
    pub primary: String,
    pub backup: String,
    pub max_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub budget_percent: u32,
    pub failures_to_open: u32,
    pub open_secs: u64,
    pub upstream_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub database_url: Option<String>,
}

impl Setup {
    pub fn new(primary: &Mock, backup: &Mock) -> Setup {
        Setup {
            primary: primary.addr.clone(),
            backup: backup.addr.clone(),
            max_retries: 2,
            base_delay_ms: 10,
            max_delay_ms: 1500,
            budget_percent: 20,
            failures_to_open: 5,
            open_secs: 2,
            upstream_timeout_secs: 1,
            shutdown_grace_secs: 20,
            database_url: None,
        }
    }

    fn toml(&self) -> String {
        let Setup {
            primary,
            backup,
            max_retries,
            base_delay_ms,
            max_delay_ms,
            budget_percent,
            failures_to_open,
            open_secs,
            upstream_timeout_secs,
            shutdown_grace_secs,
            database_url,
        } = self;
        let database = database_url
            .as_ref()
            .map(|url| format!("database_url = \"{url}\"\n"))
            .unwrap_or_default();
        format!(
            r#"[server]
master_key = "env:FAULTS_MASTER_KEY"
upstream_timeout_secs = {upstream_timeout_secs}
shutdown_grace_secs = {shutdown_grace_secs}
workers = 2
{database}
[[providers]]
name = "primary"
kind = "openai"
base_url = "http://{primary}/v1"
keys = ["env:FAULTS_PROVIDER_KEY"]
default_routes = false

[[providers]]
name = "backup"
kind = "openai"
base_url = "http://{backup}/v1"
keys = ["env:FAULTS_PROVIDER_KEY"]
default_routes = false

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://{primary}"
keys = ["env:FAULTS_PROVIDER_KEY"]

[[routes]]
model = "solo"
provider = "primary"
upstream_model = "{UPSTREAM_MODEL}"

[[routes]]
model = "smart"
provider = "primary"
upstream_model = "{UPSTREAM_MODEL}"
fallbacks = ["spare"]

[[routes]]
model = "smart-on-errors"
provider = "primary"
upstream_model = "{UPSTREAM_MODEL}"
fallbacks = ["spare"]
fallback_on = ["errors"]

[[routes]]
model = "spare"
provider = "backup"
upstream_model = "{UPSTREAM_MODEL}"

[retries]
max_retries = {max_retries}
base_delay_ms = {base_delay_ms}
max_delay_ms = {max_delay_ms}
budget_percent = {budget_percent}

[circuit_breaker]
failures_to_open = {failures_to_open}
open_secs = {open_secs}
"#
        )
    }
}

/// What served an answer, as `x-airlock-served-by` says it.
pub const BY_PRIMARY: &str = "primary/gpt-4o-mini";
pub const BY_BACKUP: &str = "backup/gpt-4o-mini";

/// A running `airlock serve`.
pub struct Gateway {
    child: Mutex<Child>,
    pid: u32,
    pub addr: String,
    pub data_dir: PathBuf,
    tail: Tail,
    http: reqwest::Client,
}

/// One answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub id: String,
    pub status: u16,
    pub served_by: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
    /// The body was read to its end (a stream that broke off was not).
    pub complete: bool,
    pub took: Duration,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The error message of an error body, in either protocol.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no error message: {}", self.id, self.body))
            .to_string()
    }

    /// A chat completion answered whole: a 200 and a complete completion.
    pub fn is_acknowledged_completion(&self) -> bool {
        self.status == 200
            && self.complete
            && serde_json::from_str::<Value>(&self.body)
                .is_ok_and(|body| body["object"] == "chat.completion")
    }

    /// The `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<String> {
        self.body
            .split("\n\n")
            .flat_map(|event| event.split("\r\n\r\n"))
            .filter_map(|event| event.trim().strip_prefix("data:"))
            .map(|data| data.trim().to_string())
            .collect()
    }
}

impl Gateway {
    /// Serves `setup` with its state in `data_dir`, plus extra flags.
    pub fn start(setup: &Setup, data_dir: &Path, flags: &[&str]) -> Gateway {
        std::fs::create_dir_all(data_dir).unwrap();
        let config = data_dir.join("airlock.toml");
        std::fs::write(&config, setup.toml()).unwrap();
        Self::serve(&config, data_dir, flags)
    }

    /// Serves again with the configuration and state a gateway left in
    /// `data_dir`.
    pub fn restart_on(data_dir: &Path, flags: &[&str]) -> Gateway {
        Self::serve(&data_dir.join("airlock.toml"), data_dir, flags)
    }

    fn serve(config: &Path, data_dir: &Path, flags: &[&str]) -> Gateway {
        let mut command = airlock();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .args(flags)
            .env("FAULTS_MASTER_KEY", MASTER_KEY)
            .env("FAULTS_PROVIDER_KEY", PROVIDER_KEY);
        let (child, addr, _, lines) = start_serve_logged(&mut command);
        Gateway {
            pid: child.id(),
            child: Mutex::new(child),
            addr,
            data_dir: data_dir.to_path_buf(),
            tail: Tail::follow(lines),
            http: client(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its last stderr lines, for failure messages.
    pub fn log_tail(&self) -> String {
        self.tail.text()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A chat completion for `model` with request id `id`, answered whole
    /// or streamed; `Err` when no answer came (a refused connection, a cut
    /// one, or the deadline).
    pub async fn try_chat(&self, model: &str, id: &str, stream: bool) -> Result<Answer, String> {
        let body = json!({
            "model": model,
            "messages": [{"role": "user", "content": "Say something short."}],
            "stream": stream,
        });
        self.send(id, self.url("/v1/chat/completions"), body).await
    }

    /// [`Gateway::try_chat`], where no answer fails the test.
    pub async fn chat(&self, model: &str, id: &str) -> Answer {
        self.try_chat(model, id, false)
            .await
            .unwrap_or_else(|error| panic!("{id}: {error}\n{}", self.log_tail()))
    }

    /// A streamed chat completion; no answer fails the test.
    pub async fn chat_stream(&self, model: &str, id: &str) -> Answer {
        self.try_chat(model, id, true)
            .await
            .unwrap_or_else(|error| panic!("{id}: {error}\n{}", self.log_tail()))
    }

    /// A Gemini `streamGenerateContent` (SSE with `alt=sse`, else Google's
    /// JSON array); no answer fails the test.
    pub async fn gemini_stream(&self, model: &str, id: &str, sse: bool) -> Answer {
        let query = if sse { "?alt=sse" } else { "" };
        let url = self.url(&format!(
            "/v1beta/models/{model}:streamGenerateContent{query}"
        ));
        let body =
            json!({"contents": [{"role": "user", "parts": [{"text": "Say something short."}]}]});
        self.send(id, url, body)
            .await
            .unwrap_or_else(|error| panic!("{id}: {error}\n{}", self.log_tail()))
    }

    async fn send(&self, id: &str, url: String, body: Value) -> Result<Answer, String> {
        let started = Instant::now();
        let mut response = self
            .http
            .post(url)
            .bearer_auth(MASTER_KEY)
            .header("x-request-id", id)
            .json(&body)
            .send()
            .await
            .map_err(|error| format!("no answer after {:?}: {error:?}", started.elapsed()))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let (status, served_by, retry_after) = (
            response.status().as_u16(),
            header("x-airlock-served-by"),
            header("retry-after"),
        );
        let mut bytes = Vec::new();
        let complete = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break true,
                Err(error) if error.is_timeout() => {
                    return Err(format!(
                        "the body did not end within {CLIENT_TIMEOUT:?}: {}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                Err(_) => break false,
            }
        };
        Ok(Answer {
            id: id.to_string(),
            status,
            served_by,
            retry_after,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            complete,
            took: started.elapsed(),
        })
    }

    pub async fn metrics(&self) -> Metrics {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        Metrics::parse(&text)
    }

    /// `/readyz`: its status and body.
    pub async fn readyz(&self) -> (u16, Value) {
        let response = self.http.get(self.url("/readyz")).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// An admin API document (`/admin/v1/...`), with the master key.
    pub async fn admin(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(&format!("/admin/v1{path}")))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    pub fn sigterm(&self) {
        send_sigterm(&self.child.lock().unwrap());
    }

    /// SIGKILL: nothing is flushed.
    pub fn sigkill(&self) {
        let mut child = self.child.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits (bounded) for the process to end.
    pub async fn exited(&self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {within:?} after it was told to stop\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The request log as the database holds it now (SQLite in the data
    /// directory).
    pub async fn logged(&self) -> Vec<RequestRecord> {
        logged_in(Store::open_data_dir(&self.data_dir).await.unwrap()).await
    }

    /// The receipts log a stopped gateway left, checked whole: its tiles
    /// rebuild the tree of exactly the stored entries, and the latest
    /// checkpoint, signed by the key in the data directory, is that tree's
    /// root at its size. Gives the log's size and the checkpoint's.
    pub async fn receipts_checked(&self) -> (u64, u64) {
        use airlock_receipts::tiles::{NeededTiles, TileSet};
        let store = Store::open_data_dir(&self.data_dir).await.unwrap();
        let size = store.receipt_log_size().await.unwrap();
        let entries = store.receipt_entries(0, size).await.unwrap();
        assert_eq!(entries.len() as u64, size, "an entry for every leaf");
        let leaves: Vec<_> = entries
            .iter()
            .map(|e| airlock_receipts::leaf_hash(e))
            .collect();
        // The tree of the entries, built afresh, against the stored tiles.
        let mut fresh = TileSet::new();
        for (id, hashes) in airlock_receipts::append(0, &[], &leaves).unwrap() {
            fresh.insert(id, hashes);
        }
        let key = std::fs::read_to_string(self.data_dir.join("receipts-signing.key")).unwrap();
        let verifier = airlock_receipts::SignerKey::parse(key.trim())
            .unwrap()
            .verifier();
        let latest = store.latest_receipt_checkpoint().await.unwrap().unwrap();
        let checkpoint = airlock_receipts::open_checkpoint(&latest.note, &verifier).unwrap();
        assert!(checkpoint.size <= size);
        for tree in [size, checkpoint.size] {
            let mut needed = NeededTiles::new();
            airlock_receipts::root(tree, &mut needed);
            let mut stored = TileSet::new();
            for (id, hashes) in store.receipt_tiles(&needed.tiles()).await.unwrap() {
                stored.insert(id, hashes);
            }
            let root = airlock_receipts::root(tree, &mut stored);
            assert_eq!(stored.missing(), None);
            assert_eq!(
                root,
                airlock_receipts::root(tree, &mut fresh),
                "tree of {tree}"
            );
            if tree == checkpoint.size {
                assert_eq!(root, checkpoint.root, "the checkpoint is the tree's root");
            }
        }
        store.close().await;
        (size, checkpoint.size)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Every record a store holds.
pub async fn logged_in(store: Store) -> Vec<RequestRecord> {
    let records = store.recent_request_records(1_000_000).await.unwrap();
    store.close().await;
    records
}

/// Waits (bounded) until the log holds a record for each of `ids`, and
/// returns the log: records are written in the background.
pub async fn await_logged<F, Fut>(ids: &[String], read: F) -> Vec<RequestRecord>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<RequestRecord>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = read().await;
        let logged: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let missing = ids
            .iter()
            .filter(|id| !logged.contains(id.as_str()))
            .count();
        if missing == 0 || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every acknowledged request has exactly one record, and every record is
/// of a request that was sent.
pub fn assert_logged_once(
    records: &[RequestRecord],
    acknowledged: &[String],
    sent: &HashSet<String>,
) {
    let mut rows: HashMap<&str, usize> = HashMap::new();
    for record in records {
        *rows.entry(record.id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = rows.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "logged more than once: {twice:?}");
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !rows.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged answers have no record: {:?}",
        missing.len(),
        acknowledged.len(),
        &missing[..missing.len().min(10)]
    );
    let unknown: Vec<_> = rows.keys().filter(|id| !sent.contains(**id)).collect();
    assert!(
        unknown.is_empty(),
        "records of requests never sent: {unknown:?}"
    );
}

/// The record of request `id`.
pub fn record<'r>(records: &'r [RequestRecord], id: &str) -> &'r RequestRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `command` to success, or fails the test with its output.
pub fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
