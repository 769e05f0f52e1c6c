//! Prometheus metrics: the recorder, the names, and `GET /metrics`.
//!
//! The gateway's metrics are named here (base units, `_total` for counters);
//! `airlock-providers` records the upstream ones (`airlock_upstream_*`,
//! `airlock_provider_key_events_total`) where the calls happen. Label values are bounded: surfaces, operations, providers and
//! statuses come from fixed sets, and model names are capped at
//! [`MAX_MODEL_LABELS`] distinct values (then `other`), and are `none` for a
//! request that never reached a provider or named an unknown model.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use airlock_providers::Provider;
use airlock_store::RequestLog;
use axum::response::IntoResponse;
use hashbrown::{Equivalent, HashMap};
use http::{HeaderValue, header};
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::cache::ResponseCache;

pub const REQUESTS: &str = "airlock_requests_total";
pub const REQUEST_DURATION: &str = "airlock_request_duration_seconds";
pub const TIME_TO_FIRST_TOKEN: &str = "airlock_time_to_first_token_seconds";
pub const TOKENS: &str = "airlock_tokens_total";
pub const ACTIVE_STREAMS: &str = "airlock_active_streams";
pub const PROVIDER_KEYS: &str = "airlock_provider_keys";
pub const CLIENT_AUTH_FAILURES: &str = "airlock_client_auth_failures_total";
pub const REQUEST_LOG_QUEUE_DEPTH: &str = "airlock_request_log_queue_depth";
pub const REQUEST_LOG_WRITTEN: &str = "airlock_request_log_written_total";
pub const REQUEST_LOG_DROPPED: &str = "airlock_request_log_dropped_total";
/// Syncs of a durable request log's write-ahead log: each one a group of
/// records (`written_total` over this is the group size).
pub const REQUEST_LOG_WAL_SYNCS: &str = "airlock_request_log_wal_syncs_total";
pub const BUILD_INFO: &str = "airlock_build_info";
pub const BUDGET_USED: &str = "airlock_budget_used_ratio";
pub const REALTIME_SESSIONS: &str = "airlock_realtime_sessions_total";
pub const REALTIME_ACTIVE_SESSIONS: &str = "airlock_realtime_active_sessions";
pub const REALTIME_SESSION_DURATION: &str = "airlock_realtime_session_duration_seconds";
pub const REALTIME_FRAMES: &str = "airlock_realtime_frames_total";
pub const REALTIME_BYTES: &str = "airlock_realtime_bytes_total";
pub const REALTIME_TOOL_CALLS: &str = "airlock_realtime_tool_calls_total";
pub const REALTIME_TOOL_DURATION: &str = "airlock_realtime_tool_duration_seconds";
pub const CONNECTIONS_OPEN: &str = "airlock_connections_open";
pub const CONNECTIONS_REFUSED: &str = "airlock_connections_refused_total";
pub const CONNECTIONS_CLOSED: &str = "airlock_connections_closed_total";
pub const REQUEST_BODIES_REFUSED: &str = "airlock_request_bodies_refused_total";
pub const REQUEST_BODY_BYTES_HELD: &str = "airlock_request_body_bytes_held";
pub const UPSTREAM_RETRIES: &str = "airlock_upstream_retries_total";
pub const FALLBACKS: &str = "airlock_fallbacks_total";
pub const CIRCUIT_OPEN: &str = "airlock_circuit_open";
pub const CIRCUIT_OPENED: &str = "airlock_circuit_opened_total";
pub const CACHE_REQUESTS: &str = "airlock_cache_requests_total";
/// Requests checked against their project's constitution, by verdict
/// (`passed`, `flagged`, `blocked`).
pub const CONSTITUTION_CHECKS: &str = "airlock_constitution_checks_total";
/// Grows only: a gauge, as the metrics crate's counters count whole numbers.
pub const CACHE_SAVED_USD: &str = "airlock_cache_saved_usd";
pub const CACHE_MEMORY_BYTES: &str = "airlock_cache_memory_bytes";
pub const CACHE_ENTRIES: &str = "airlock_cache_entries";
pub const CACHE_ORPHAN_BLOBS_DELETED: &str = "airlock_cache_orphan_blobs_deleted_total";
pub const RETENTION_DELETED: &str = "airlock_retention_deleted_total";
pub const ARCHIVED: &str = "airlock_archived_total";
/// How long a PDF's text took to extract, per page.
pub const FILE_EXTRACTION_PAGE_SECONDS: &str = "airlock_file_extraction_page_seconds";

/// Distinct model label values kept before new ones are reported as `other`.
pub const MAX_MODEL_LABELS: usize = 200;

/// Latency buckets in seconds: 1 ms to 2 minutes (generations are slow).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Realtime session lengths in seconds: 1 s to 2 hours.
const SESSION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// Installs the process-wide recorder once and returns its handle.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Full(REALTIME_SESSION_DURATION.to_string()),
                SESSION_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// A model name as a label value: bounded in number.
pub fn model_label(model: &str) -> String {
    static SEEN: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if seen.read().is_ok_and(|set| set.contains(model)) {
        return model.to_string();
    }
    let Ok(mut set) = seen.write() else {
        return "other".to_string();
    };
    if set.len() < MAX_MODEL_LABELS {
        set.insert(model.to_string());
        model.to_string()
    } else if set.contains(model) {
        model.to_string()
    } else {
        "other".to_string()
    }
}

/// One finished request: its labels and what it recorded.
pub struct RequestLabels<'a> {
    pub surface: &'static str,
    pub operation: &'a str,
    pub model: String,
    pub provider: &'a str,
    pub status: u16,
    /// Time to the first byte of a streamed answer.
    pub first_token_after: Option<Duration>,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
}

pub fn record_request(labels: &RequestLabels<'_>, duration: Duration) {
    let series = request_series(labels);
    series.requests.increment(1);
    series.duration.record(duration.as_secs_f64());
    let (model, provider) = (&labels.model, labels.provider);
    if let Some(after) = labels.first_token_after {
        series.first_token.get_or_init(|| {
            histogram!(TIME_TO_FIRST_TOKEN, "surface" => labels.surface, "model" => model.clone(), "provider" => provider.to_string())
        })
        .record(after.as_secs_f64());
    }
    for (slot, direction, count) in [
        (&series.tokens_in, "input", labels.tokens_in),
        (&series.tokens_out, "output", labels.tokens_out),
    ] {
        if let Some(count) = count {
            slot.get_or_init(|| {
                counter!(TOKENS, "direction" => direction, "model" => model.clone(), "provider" => provider.to_string())
            })
            .increment(count);
        }
    }
}

/// The series one finished request records to, registered once per label
/// set: building a metric key (label strings, their hashes) per request cost
/// more than the recording itself (`bench/PROFILE.md`).
struct RequestSeries {
    requests: Counter,
    duration: Histogram,
    /// Registered by the first request that records to them, so a label set
    /// that never streams shows no time-to-first-token series.
    first_token: OnceLock<Histogram>,
    tokens_in: OnceLock<Counter>,
    tokens_out: OnceLock<Counter>,
}

/// A label set as the cache keeps it.
#[derive(PartialEq, Eq, Hash)]
struct SeriesKey {
    surface: &'static str,
    operation: String,
    model: String,
    provider: String,
    status: u16,
}

/// A label set as a request borrows it; hashes as [`SeriesKey`] does.
#[derive(Hash)]
struct SeriesKeyRef<'a> {
    surface: &'static str,
    operation: &'a str,
    model: &'a str,
    provider: &'a str,
    status: u16,
}

impl Equivalent<SeriesKey> for SeriesKeyRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.surface == key.surface
            && self.operation == key.operation
            && self.model == key.model
            && self.provider == key.provider
            && self.status == key.status
    }
}

fn request_series(labels: &RequestLabels<'_>) -> Arc<RequestSeries> {
    static SERIES: OnceLock<RwLock<HashMap<SeriesKey, Arc<RequestSeries>>>> = OnceLock::new();
    let cache = SERIES.get_or_init(Default::default);
    let wanted = SeriesKeyRef {
        surface: labels.surface,
        operation: labels.operation,
        model: &labels.model,
        provider: labels.provider,
        status: labels.status,
    };
    if let Some(series) = cache.read().ok().and_then(|map| map.get(&wanted).cloned()) {
        return series;
    }
    let pairs = [
        ("surface", labels.surface.to_string()),
        ("operation", labels.operation.to_string()),
        ("model", labels.model.clone()),
        ("provider", labels.provider.to_string()),
        ("status", labels.status.to_string()),
    ];
    let series = Arc::new(RequestSeries {
        requests: counter!(REQUESTS, &pairs),
        duration: histogram!(REQUEST_DURATION, &pairs),
        first_token: OnceLock::new(),
        tokens_in: OnceLock::new(),
        tokens_out: OnceLock::new(),
    });
    if let Ok(mut map) = cache.write() {
        map.entry(SeriesKey {
            surface: labels.surface,
            operation: labels.operation.to_string(),
            model: labels.model.clone(),
            provider: labels.provider.to_string(),
            status: labels.status,
        })
        .or_insert_with(|| series.clone());
    }
    series
}

/// Counts a stream as active for as long as this guard lives.
pub struct ActiveStream {
    surface: &'static str,
}

impl ActiveStream {
    pub fn start(surface: &'static str) -> Self {
        gauge!(ACTIVE_STREAMS, "surface" => surface).increment(1.0);
        ActiveStream { surface }
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        gauge!(ACTIVE_STREAMS, "surface" => self.surface).decrement(1.0);
    }
}

/// How much of a key's or project's budget its current period has used
/// (1.0 = spent). Ids are those of configured keys and projects: bounded.
pub fn record_budget_used(scope: &'static str, id: &str, ratio: f64) {
    gauge!(BUDGET_USED, "scope" => scope, "id" => id.to_string()).set(ratio);
}

/// Requests in flight in this process (what the dashboard shows live).
static REQUESTS_IN_FLIGHT: AtomicI64 = AtomicI64::new(0);

/// Realtime sessions open in this process.
static SESSIONS_OPEN: AtomicI64 = AtomicI64::new(0);

/// Counts a request as in flight for as long as this guard lives.
pub struct InFlight(());

impl InFlight {
    pub fn start() -> Self {
        REQUESTS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        REQUESTS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Requests in flight in this process now.
pub fn requests_in_flight() -> i64 {
    REQUESTS_IN_FLIGHT.load(Ordering::Relaxed)
}

/// Realtime sessions open in this process now.
pub fn realtime_sessions_open() -> i64 {
    SESSIONS_OPEN.load(Ordering::Relaxed)
}

/// Counts a realtime session as open until the guard is dropped.
pub struct ActiveSession {
    surface: &'static str,
}

impl ActiveSession {
    pub fn start(surface: &'static str) -> Self {
        gauge!(REALTIME_ACTIVE_SESSIONS, "surface" => surface).increment(1.0);
        SESSIONS_OPEN.fetch_add(1, Ordering::Relaxed);
        ActiveSession { surface }
    }
}

impl Drop for ActiveSession {
    fn drop(&mut self) {
        gauge!(REALTIME_ACTIVE_SESSIONS, "surface" => self.surface).decrement(1.0);
        SESSIONS_OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Frames and bytes of a realtime session, each way.
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionTraffic {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One ended realtime session (its traffic is counted once, at the end).
pub fn record_session(
    surface: &'static str,
    reason: &'static str,
    lasted: Duration,
    traffic: &SessionTraffic,
) {
    counter!(REALTIME_SESSIONS, "surface" => surface, "reason" => reason).increment(1);
    histogram!(REALTIME_SESSION_DURATION, "surface" => surface).record(lasted.as_secs_f64());
    for (direction, frames, bytes) in [
        ("in", traffic.frames_in, traffic.bytes_in),
        ("out", traffic.frames_out, traffic.bytes_out),
    ] {
        counter!(REALTIME_FRAMES, "surface" => surface, "direction" => direction).increment(frames);
        counter!(REALTIME_BYTES, "surface" => surface, "direction" => direction).increment(bytes);
    }
}

/// Rows of a kind of user data deleted by a retention sweep.
pub fn record_retention_deleted(kind: &'static str, rows: u64) {
    counter!(RETENTION_DELETED, "kind" => kind).increment(rows);
}

/// Rows of a kind the archival sweep moved to the object store.
pub fn record_archived(kind: &'static str, rows: u64) {
    counter!(ARCHIVED, "kind" => kind).increment(rows);
}

/// One server-side tool webhook call (tool names come from configuration).
pub fn record_tool_call(tool: &str, outcome: &'static str, took: Duration) {
    counter!(REALTIME_TOOL_CALLS, "tool" => tool.to_string(), "outcome" => outcome).increment(1);
    histogram!(REALTIME_TOOL_DURATION, "tool" => tool.to_string()).record(took.as_secs_f64());
}

/// A provider call retried, and why.
pub fn retry(provider: &str, trigger: &'static str) {
    counter!(UPSTREAM_RETRIES, "provider" => provider.to_string(), "trigger" => trigger)
        .increment(1);
}

/// A provider's circuit opened (or closed again).
pub fn circuit(provider: &str, open: bool) {
    gauge!(CIRCUIT_OPEN, "provider" => provider.to_string()).set(if open { 1.0 } else { 0.0 });
    if open {
        counter!(CIRCUIT_OPENED, "provider" => provider.to_string()).increment(1);
    }
}

/// A provider's circuit as a scrape finds it (open or half open: 1), so
/// its series exist, at 0, before any circuit has opened.
pub fn circuit_at_scrape(provider: &str, open: bool) {
    gauge!(CIRCUIT_OPEN, "provider" => provider.to_string()).set(if open { 1.0 } else { 0.0 });
    counter!(CIRCUIT_OPENED, "provider" => provider.to_string()).increment(0);
}

/// A request fallen back from one provider to another, and why.
pub fn fallback(from: &str, to: &str, trigger: &'static str) {
    counter!(FALLBACKS, "from" => from.to_string(), "to" => to.to_string(), "trigger" => trigger)
        .increment(1);
}

/// What the response cache did for a request (`hit`, `miss`, `bypass`),
/// and for a hit what it saved.
pub fn cache_request(operation: &str, result: &'static str, saved_usd: Option<f64>) {
    cache_requests(operation, result).increment(1);
    if let Some(saved) = saved_usd.filter(|saved| *saved > 0.0) {
        gauge!(CACHE_SAVED_USD).increment(saved);
    }
}

/// The count of a cache result for an operation, registered once: as for
/// [`RequestSeries`], a metric key built per request cost more than the
/// count.
fn cache_requests(operation: &str, result: &'static str) -> Counter {
    type ByOperation = HashMap<String, Counter>;
    static COUNTERS: OnceLock<RwLock<HashMap<&'static str, ByOperation>>> = OnceLock::new();
    let counters = COUNTERS.get_or_init(Default::default);
    let known = counters
        .read()
        .ok()
        .and_then(|map| map.get(result)?.get(operation).cloned());
    if let Some(counter) = known {
        return counter;
    }
    let counter =
        counter!(CACHE_REQUESTS, "operation" => operation.to_string(), "result" => result);
    if let Ok(mut map) = counters.write() {
        map.entry(result)
            .or_default()
            .entry(operation.to_string())
            .or_insert_with(|| counter.clone());
    }
    counter
}

/// A request checked against its project's constitution, and its verdict.
pub fn constitution_verdict(verdict: &'static str) {
    counter!(CONSTITUTION_CHECKS, "verdict" => verdict).increment(1);
}

/// Blobs deleted from the object store because no cache entry named them.
pub fn cache_orphans_collected(count: usize) {
    counter!(CACHE_ORPHAN_BLOBS_DELETED).increment(count as u64);
}

pub fn record_auth_failure(surface: &'static str, reason: &'static str) {
    counter!(CLIENT_AUTH_FAILURES, "surface" => surface, "reason" => reason).increment(1);
}

/// The answer to `GET /metrics`: state read at scrape time (key pools, the
/// request log), then the Prometheus text exposition.
pub fn render(
    providers: &[Arc<Provider>],
    log: &RequestLog,
    cache: Option<&ResponseCache>,
    handle: &PrometheusHandle,
) -> impl IntoResponse + use<> {
    if let Some(cache) = cache {
        let (memory_bytes, entries) = cache.sizes();
        gauge!(CACHE_MEMORY_BYTES).set(memory_bytes as f64);
        gauge!(CACHE_ENTRIES).set(entries as f64);
    }
    for provider in providers {
        let statuses = provider.key_statuses();
        for key_state in ["active", "resting", "rejected"] {
            let count = statuses.iter().filter(|s| s.state == key_state).count();
            gauge!(PROVIDER_KEYS, "provider" => provider.name().to_string(), "state" => key_state)
                .set(count as f64);
        }
    }
    let stats = log.stats();
    let load =
        |value: &std::sync::atomic::AtomicU64| value.load(std::sync::atomic::Ordering::Relaxed);
    gauge!(REQUEST_LOG_QUEUE_DEPTH).set(log.queue_depth() as f64);
    counter!(REQUEST_LOG_WRITTEN).absolute(load(&stats.written));
    counter!(REQUEST_LOG_WAL_SYNCS).absolute(load(&stats.wal_syncs));
    counter!(REQUEST_LOG_DROPPED, "reason" => "queue_full")
        .absolute(load(&stats.dropped_queue_full));
    counter!(REQUEST_LOG_DROPPED, "reason" => "write_failed")
        .absolute(load(&stats.dropped_write_failed));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_labels_are_bounded() {
        for i in 0..MAX_MODEL_LABELS + 10 {
            model_label(&format!("model-{i}"));
        }
        assert_eq!(model_label("yet-another-model"), "other");
        assert_eq!(model_label("model-0"), "model-0");
    }
}
