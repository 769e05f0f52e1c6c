//! The simulator's shared state, its router, and the ways to run it.

use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Fault, Latency, MockConfig};
use crate::fault_rules::{self, FaultRule};
use crate::gate::Provider;
use crate::inspect::{self, Inspection, ReceivedRequest};
use crate::openai::responses::Store;
use crate::prng::Digest;
use crate::prompt_cache::PromptCache;
use crate::{live, openai, realtime, routes};

/// A simulated Gemini + OpenAI provider. Cloning shares the state.
#[derive(Debug, Clone)]
pub struct MockServer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    seed: u64,
    runtime: Mutex<Runtime>,
    requests_by_key: Mutex<HashMap<String, u64>>,
    requests_seen: AtomicU64,
    serial: AtomicU64,
    live_echo: bool,
    live_resumptions: live::Resumptions,
    prompt_cache: PromptCache,
    responses: Store,
    images: openai::images::Store,
    inspection: Inspection,
}

#[derive(Debug, Clone)]
struct Runtime {
    latency: Latency,
    fault: Option<Fault>,
    rules: Vec<FaultRule>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MockServer {
    pub fn new(config: MockConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                seed: config.seed,
                runtime: Mutex::new(Runtime {
                    latency: config.latency,
                    fault: config.fault,
                    rules: Vec::new(),
                }),
                requests_by_key: Mutex::new(HashMap::new()),
                requests_seen: AtomicU64::new(0),
                serial: AtomicU64::new(0),
                live_echo: config.live_echo,
                live_resumptions: live::Resumptions::default(),
                prompt_cache: PromptCache::default(),
                responses: Store::default(),
                images: openai::images::Store::default(),
                inspection: Inspection::default(),
            }),
        }
    }

    /// All routes, ready to be served or nested.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/v1/chat/completions", any(routes::openai_chat))
            .route("/v1/embeddings", any(routes::openai_embeddings))
            .route("/v1/responses", any(routes::openai_responses))
            .route("/v1/responses/{*rest}", any(routes::openai_responses))
            .route("/v1/images/generations", any(routes::openai_images))
            .route("/v1/images/edits", any(routes::openai_images))
            .route("/v1/audio/speech", any(routes::openai_audio))
            .route("/v1/audio/transcriptions", any(routes::openai_audio))
            .route("/blob/{name}", get(openai::images::store::serve))
            .route("/mock/requests", any(inspect::route))
            .route("/mock/faults", any(fault_rules::route))
            .route("/v1/realtime", any(realtime::route))
            .route("/ws/{rpc}", any(live::route))
            .route("/{version}/models", any(routes::models))
            .route("/{version}/models/{*rest}", any(routes::models))
            .fallback(routes::unknown)
            .with_state(self.clone())
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Chunks are written one by one: keep Nagle's algorithm from holding them.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.shared.runtime).fault = fault;
    }

    pub fn set_latency(&self, latency: Latency) {
        lock(&self.shared.runtime).latency = latency;
    }

    /// Requests seen per API key, as sent (requests without a key are only
    /// counted in [`MockServer::requests_seen`]).
    pub fn requests_by_key(&self) -> HashMap<String, u64> {
        lock(&self.shared.requests_by_key).clone()
    }

    /// Every provider request seen (not `/healthz`), accepted or not.
    pub fn requests_seen(&self) -> u64 {
        self.shared.requests_seen.load(Ordering::Relaxed)
    }

    /// The bodies of the last 64 requests read (every provider POST),
    /// oldest first; `GET /mock/requests` shows the same.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.inspection.received()
    }

    /// Forgets the received requests, as `DELETE /mock/requests` does.
    pub fn clear_received(&self) {
        self.shared.inspection.clear();
    }

    pub(crate) fn inspection(&self) -> &Inspection {
        &self.shared.inspection
    }

    /// Pictures answered as URLs.
    pub(crate) fn images(&self) -> &openai::images::Store {
        &self.shared.images
    }

    /// Stored Responses API responses.
    pub(crate) fn responses(&self) -> &Store {
        &self.shared.responses
    }

    pub(crate) fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// Whether realtime sessions run in echo mode.
    pub(crate) fn live_echo(&self) -> bool {
        self.shared.live_echo
    }

    pub(crate) fn live_resumptions(&self) -> &live::Resumptions {
        &self.shared.live_resumptions
    }

    /// Prompt prefixes seen, for implicit caching.
    pub(crate) fn prompt_cache(&self) -> &PromptCache {
        &self.shared.prompt_cache
    }

    /// The fault and latency for request number `serial` to `provider`'s
    /// side: the first rule for it with requests left whose rate the
    /// request's draw falls within (using one), else the server-wide fault.
    pub(crate) fn current(
        &self,
        provider: Option<Provider>,
        serial: u64,
    ) -> (Option<Fault>, Latency) {
        let seed = self.shared.seed;
        let mut live = lock(&self.shared.runtime);
        let ruled = live.rules.iter_mut().enumerate().find_map(|(place, rule)| {
            let draw = Digest::new(seed)
                .part("fault rule")
                .number(serial)
                .number(place as u64)
                .value();
            // The top 53 bits, as a fraction of 1.
            rule.take(provider, (draw >> 11) as f64 / (1u64 << 53) as f64)
        });
        (ruled.or(live.fault), live.latency)
    }

    /// Adds a fault rule (after those already there).
    pub fn add_fault_rule(&self, rule: FaultRule) {
        lock(&self.shared.runtime).rules.push(rule);
    }

    /// The rules still in force, with the requests they have left.
    pub fn fault_rules(&self) -> Vec<FaultRule> {
        lock(&self.shared.runtime).rules.clone()
    }

    /// Forgets every fault rule.
    pub fn clear_fault_rules(&self) {
        lock(&self.shared.runtime).rules.clear();
    }

    /// Counts a request; returns a serial number unique to it (for ids).
    pub(crate) fn record(&self, key: Option<&str>) -> u64 {
        if let Some(key) = key {
            *lock(&self.shared.requests_by_key)
                .entry(key.to_owned())
                .or_default() += 1;
        }
        self.shared.requests_seen.fetch_add(1, Ordering::Relaxed);
        self.shared.serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// A simulator running on a tokio task. Dropping it also shuts it down.
#[derive(Debug)]
pub struct RunningMock {
    pub addr: SocketAddr,
    pub server: MockServer,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `addr` (use `127.0.0.1:0` for a free port) and serves a new
/// [`MockServer`] on the current tokio runtime.
pub async fn spawn(addr: SocketAddr, config: MockConfig) -> std::io::Result<RunningMock> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let server = MockServer::new(config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.clone().serve(listener, async {
        // A dropped sender stops the server as well.
        let _ = stopped.await;
    }));
    tracing::debug!(%addr, "airlock-mock listening");
    Ok(RunningMock {
        addr,
        server,
        stop,
        task,
    })
}

impl RunningMock {
    /// The host root, as google-genai's `base_url` expects it.
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `/v1` root, as the OpenAI SDK's `base_url` expects it.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "airlock-mock server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "airlock-mock server task failed"),
        }
    }
}
