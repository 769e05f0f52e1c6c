//! A test harness: the provider simulator and the gateway, both in-process
//! on 127.0.0.1:0, with a SQLite store in a temporary directory (or the
//! PostgreSQL database named by `AIRLOCK_TEST_POSTGRES_URL`).

#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_gateway::alerts::BudgetAlerts;
use airlock_gateway::clock::now_ms;
use airlock_gateway::end_user::JwtVerifier;
use airlock_gateway::limits::{BanPolicy, Bans, Limiter};
use airlock_gateway::realtime::{
    RealtimeConfig, RealtimePolicy, ServerTool, ServerTools, Sessions,
};
use airlock_gateway::receipts::Receipts;
use airlock_gateway::resilience::{Balance, BreakerPolicy, RetryPolicy};
use airlock_gateway::routing::{
    Deployment, Fallbacks, RouteRule, RouteTable, RouteTimeouts, default_patterns,
};
use airlock_gateway::tenancy::Tenancy;
use airlock_gateway::tenancy::mint_key;
use airlock_gateway::{AppState, ClientAuth, GatewayConfig};
use airlock_mock::{MockConfig, RunningMock};
use airlock_providers::pricing::PriceTable;
use airlock_providers::{HttpClient, Provider, ProviderKind, Secret, Timeouts};
use airlock_store::{
    Actor, ApiKey, KeyKind, KeySettings, Limits, ProjectSettings, RequestLogWriter, RequestRecord,
    SessionLogWriter, Store, WalOptions,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod end_user_tokens;
pub mod live;

pub const MASTER_KEY: &str = "test-master-key";

/// The Redis the cluster-mode tests share state in
/// (`AIRLOCK_TEST_REDIS_URL`, default the machine's): it must answer, or
/// the test fails.
pub fn test_redis_url() -> String {
    std::env::var("AIRLOCK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A cluster handle on the test Redis under a prefix of its own (so tests
/// running at once never share counts), with its heartbeat running.
pub async fn test_cluster() -> Arc<airlock_cluster::Cluster> {
    let settings = airlock_cluster::ClusterSettings {
        url: test_redis_url(),
        key_prefix: format!("airlock-test-{:016x}", fastrand::u64(..)),
        lease: Duration::from_secs(30),
        timeout: Duration::from_secs(2),
    };
    let cluster = airlock_cluster::Cluster::new(&settings).unwrap();
    cluster
        .start_heartbeat()
        .await
        .expect("the test Redis (AIRLOCK_TEST_REDIS_URL) must answer");
    cluster
}

/// Where a test's limits are counted: this process's memory, or Redis
/// (cluster mode). The limit tests run in both.
#[derive(Debug, Clone, Copy)]
pub enum Counting {
    InMemory,
    InRedis,
}

impl Counting {
    /// `setup`, counting this way.
    pub async fn setup(self, setup: Setup) -> Setup {
        match self {
            Counting::InMemory => setup,
            Counting::InRedis => Setup {
                cluster: Some(test_cluster().await),
                ..setup
            },
        }
    }
}

/// Runs the test function `$body(Counting)` as two tests, one per way of
/// counting.
#[macro_export]
macro_rules! in_memory_and_in_redis {
    ($($body:ident),* $(,)?) => {
        $(
            mod $body {
                #[tokio::test]
                async fn in_memory() {
                    super::$body($crate::common::Counting::InMemory).await
                }
                #[tokio::test]
                async fn in_redis() {
                    super::$body($crate::common::Counting::InRedis).await
                }
            }
        )*
    };
}

/// A deployment of a balanced route: its provider, upstream model, weight.
pub type DeploymentSetup = (&'static str, &'static str, u32);

/// How to build a gateway for one test.
pub struct Setup {
    pub gemini_keys: Vec<&'static str>,
    pub openai_keys: Vec<&'static str>,
    pub master_key: Option<&'static str>,
    /// The admin API's token (the master key opens it when this is `None`).
    pub admin_token: Option<&'static str>,
    /// (model pattern, provider name, upstream model); `local` names an
    /// OpenAI-compatible server (the simulator's OpenAI side).
    pub routes: Vec<(&'static str, &'static str, Option<&'static str>)>,
    /// Fallbacks of the route with this model pattern.
    pub fallbacks: Vec<(&'static str, Fallbacks)>,
    /// Routes over several deployments: (model pattern, balance, each
    /// deployment's provider, upstream model and weight), before `routes`.
    /// `dead` names an OpenAI provider nobody listens for.
    pub balanced: Vec<(&'static str, Balance, Vec<DeploymentSetup>)>,
    /// Timeouts of the route with this model pattern.
    pub route_timeouts: Vec<(&'static str, RouteTimeouts)>,
    /// How failed provider calls are retried.
    pub retries: RetryPolicy,
    /// When a provider's circuit opens.
    pub breaker: BreakerPolicy,
    /// The longest a provider's stream may send nothing.
    pub stream_idle_timeout: Duration,
    /// Timeouts, the connection cap, the body budget, the shutdown grace.
    pub server_policy: airlock_gateway::ServerPolicy,
    pub max_body_bytes: usize,
    pub store: Option<Store>,
    pub bans: Option<BanPolicy>,
    pub provider_queues: std::collections::HashMap<String, airlock_store::QueuePolicy>,
    pub alerts: Option<BudgetAlerts>,
    pub end_users: Option<JwtVerifier>,
    /// Replaces the simulator's base URL for the openai provider.
    pub openai_base_url: Option<String>,
    pub realtime: RealtimePolicy,
    pub realtime_tools: Vec<ServerTool>,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long the providers wait for an answer's headers.
    pub upstream_timeout: Duration,
    /// Serving threads, each with its own socket on the harness's port.
    pub workers: usize,
    /// Durable request and session logs, their write-ahead logs in a
    /// temporary directory, grouping records for this long.
    pub durable_log: Option<Duration>,
    /// Where media is kept (a fresh temporary folder when `None`).
    pub media_blobs: Option<airlock_store::BlobsConfig>,
    /// How long media URLs stay valid.
    pub media_url_ttl: Duration,
    /// Hand out the store's own pre-signed URLs.
    pub media_presigned: bool,
    /// Uploads' size limit and accepted types.
    pub files: airlock_gateway::files::FileSettings,
    /// The operator's redaction patterns for logged content.
    pub content_redact_patterns: Vec<&'static str>,
    /// Cluster mode: limits, bans, tokens and changes shared in this Redis.
    pub cluster: Option<Arc<airlock_cluster::Cluster>>,
    /// Receipts, checkpointed at this interval (`None`: receipts off).
    pub receipts: Option<Duration>,
    /// A witness's signer key that cosigns each checkpoint.
    pub receipts_witness: Option<String>,
    /// Checkpoints published to this webhook at this interval.
    pub receipts_anchor: Option<(String, Duration)>,
    /// The log copied to the media store as it grows.
    pub receipts_mirror: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            gemini_keys: vec!["gemini-key-a"],
            openai_keys: vec!["openai-key-a"],
            master_key: Some(MASTER_KEY),
            admin_token: None,
            routes: vec![
                ("fast", "gemini", Some("gemini-2.5-flash")),
                ("smart", "openai", Some("gpt-4o")),
            ],
            max_body_bytes: 20 * 1024 * 1024,
            workers: 1,
            durable_log: None,
            media_blobs: None,
            media_url_ttl: Duration::from_secs(3600),
            media_presigned: false,
            files: airlock_gateway::files::FileSettings::default(),
            content_redact_patterns: Vec::new(),
            cluster: None,
            receipts: Some(Duration::from_millis(50)),
            receipts_witness: None,
            receipts_anchor: None,
            receipts_mirror: false,
            fallbacks: Vec::new(),
            balanced: Vec::new(),
            route_timeouts: Vec::new(),
            retries: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            stream_idle_timeout: Duration::from_secs(30),
            server_policy: airlock_gateway::ServerPolicy::default(),
            store: None,
            openai_base_url: None,
            bans: None,
            provider_queues: Default::default(),
            alerts: None,
            end_users: None,
            realtime: RealtimePolicy::default(),
            realtime_tools: Vec::new(),
            tls: None,
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The secret the receipts anchor webhook's calls are signed with.
pub const ANCHOR_SECRET: &str = "harness anchor secret";

/// The origin of the harness's receipts log.
pub const RECEIPTS_ORIGIN: &str = "harness.test/receipts";

/// The key the harness signs media URLs with.
pub const MEDIA_SIGNING_KEY: &[u8] = b"harness media signing key";

pub struct Harness {
    pub addr: SocketAddr,
    pub mock: RunningMock,
    pub http: reqwest::Client,
    pub store: Store,
    pub tenancy: Arc<Tenancy>,
    /// The gateway's open realtime sessions.
    pub sessions: Arc<Sessions>,
    /// The gateway's state, for what tests call directly (a retention
    /// sweep); dropped by [`Harness::stop`] before the logs are flushed.
    state: Option<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _data_dir: Option<tempfile::TempDir>,
    _media_dir: tempfile::TempDir,
    /// The write-ahead logs' directory (`requests/`, `sessions/`), when
    /// the logs are durable.
    pub wal_dir: Option<std::path::PathBuf>,
    _wal_dir: Option<tempfile::TempDir>,
    /// The receipts log, when on.
    pub receipts: Option<Arc<Receipts>>,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Harness {
        let mock = airlock_mock::spawn("127.0.0.1:0".parse().unwrap(), MockConfig::default())
            .await
            .unwrap();
        let (store, data_dir) = match setup.store {
            Some(store) => (store, None),
            None => {
                let dir = tempfile::tempdir().unwrap();
                (Store::open_data_dir(dir.path()).await.unwrap(), Some(dir))
            }
        };
        let wal_dir = setup.durable_log.map(|_| tempfile::tempdir().unwrap());
        let ((request_log, writer), (session_log, session_writer)) =
            match (&wal_dir, setup.durable_log) {
                (Some(dir), Some(linger)) => {
                    let wal = |log: &str| WalOptions {
                        dir: dir.path().join(log),
                        linger,
                    };
                    (
                        RequestLogWriter::start_durable(store.clone(), 10_000, wal("requests"))
                            .await
                            .unwrap(),
                        SessionLogWriter::start_durable(store.clone(), 10_000, wal("sessions"))
                            .await
                            .unwrap(),
                    )
                }
                _ => (
                    RequestLogWriter::start(store.clone(), 10_000),
                    SessionLogWriter::start(store.clone(), 10_000),
                ),
            };
        let (media_log, media_writer) = airlock_store::MediaLogWriter::start(store.clone(), 10_000);
        let sessions = Arc::new(match &setup.cluster {
            Some(cluster) => Sessions::shared(airlock_gateway::realtime::SharedSessionCounts::new(
                cluster.clone(),
                airlock_gateway::limits::WhenDown::Local,
            )),
            None => Sessions::default(),
        });
        let http = HttpClient::new();
        let secrets = |keys: &[&str]| keys.iter().map(|k| Secret::new(*k)).collect::<Vec<_>>();
        let timeouts = Timeouts {
            first_byte: setup.upstream_timeout,
            idle: setup.stream_idle_timeout,
            ..Timeouts::default()
        };
        let gemini = Arc::new(Provider::new(
            "gemini",
            ProviderKind::Gemini,
            mock.gemini_base_url().parse().unwrap(),
            secrets(&setup.gemini_keys),
            &http,
            timeouts,
        ));
        let openai_base = setup
            .openai_base_url
            .clone()
            .unwrap_or_else(|| mock.openai_base_url());
        let openai = Arc::new(Provider::new(
            "openai",
            ProviderKind::Openai,
            openai_base.parse().unwrap(),
            secrets(&setup.openai_keys),
            &http,
            timeouts,
        ));
        let mut providers = vec![gemini.clone(), openai.clone()];
        // An OpenAI-compatible server (the simulator's OpenAI side) when a
        // route names it.
        if setup
            .routes
            .iter()
            .any(|(_, provider, _)| *provider == "local")
        {
            providers.push(Arc::new(Provider::new(
                "local",
                ProviderKind::OpenaiCompatible,
                mock.openai_base_url().parse().unwrap(),
                secrets(&["local-key"]),
                &http,
                timeouts,
            )));
        }
        let names_dead = |(_, _, deployments): &(_, _, Vec<DeploymentSetup>)| {
            deployments
                .iter()
                .any(|(provider, _, _)| *provider == "dead")
        };
        if setup.balanced.iter().any(names_dead) {
            providers.push(Arc::new(Provider::new(
                "dead",
                ProviderKind::Openai,
                "http://127.0.0.1:1/v1".parse().unwrap(),
                secrets(&["dead-key"]),
                &http,
                timeouts,
            )));
        }
        let by_name = |name: &str| providers.iter().find(|p| p.name() == name).unwrap().clone();
        let with_extras = |mut rule: RouteRule, pattern: &str| {
            rule.fallbacks = setup
                .fallbacks
                .iter()
                .find(|(route, _)| *route == pattern)
                .map(|(_, fallbacks)| Arc::new(fallbacks.clone()));
            if let Some((_, timeouts)) = setup
                .route_timeouts
                .iter()
                .find(|(route, _)| *route == pattern)
            {
                rule.timeouts = *timeouts;
            }
            rule
        };
        let mut rules: Vec<RouteRule> = Vec::new();
        for (pattern, balance, deployments) in &setup.balanced {
            let mut rule = RouteRule::to(pattern, by_name(deployments[0].0), None);
            rule.balance = *balance;
            rule.deployments = deployments
                .iter()
                .map(|(provider, upstream, weight)| Deployment {
                    provider: by_name(provider),
                    upstream_model: Some(upstream.to_string()),
                    weight: *weight,
                })
                .collect();
            rules.push(with_extras(rule, pattern));
        }
        for (pattern, provider, upstream) in &setup.routes {
            let rule = RouteRule::to(pattern, by_name(provider), upstream.map(String::from));
            rules.push(with_extras(rule, pattern));
        }
        for provider in &providers {
            for pattern in default_patterns(provider.kind()) {
                rules.push(RouteRule::to(pattern, provider.clone(), None));
            }
        }
        let tenancy = Tenancy::load(store.clone()).await.unwrap();
        let mut auth = ClientAuth::new(setup.master_key, setup.admin_token, tenancy.clone());
        let mut limiter = Limiter::new(store.clone(), setup.alerts.clone());
        let mut bans = setup.bans.clone().map(Bans::new);
        if let Some(cluster) = &setup.cluster {
            auth = auth.shared_tokens(cluster.clone());
            limiter = limiter.shared(cluster.clone(), Default::default());
            bans = bans.map(|bans| bans.shared(cluster.clone()));
            tenancy.share_changes(cluster.clone());
        }
        let media_dir = tempfile::tempdir().unwrap();
        let blobs =
            setup
                .media_blobs
                .clone()
                .unwrap_or_else(|| airlock_store::BlobsConfig::Local {
                    root: media_dir.path().to_path_buf(),
                    sync: false,
                });
        let media = airlock_gateway::media::Media::new(
            airlock_store::Blobs::open(&blobs).unwrap(),
            MEDIA_SIGNING_KEY,
            airlock_gateway::media::MediaSettings {
                url_ttl: setup.media_url_ttl,
                public_url: None,
                urls_by_default: false,
                variant_widths: vec![64, 128, 256],
                presigned: setup.media_presigned,
            },
            media_log,
        );
        let cache = airlock_gateway::cache::ResponseCache::open(
            store.clone(),
            Some(media.blobs().clone()),
            airlock_gateway::cache::CacheSettings {
                default_ttl: std::time::Duration::from_secs(3600),
                limits: airlock_gateway::cache::TierLimits {
                    memory_bytes: 64 << 20,
                    max_bytes: 1 << 30,
                    inline_bytes: 64 << 10,
                },
            },
        )
        .await
        .unwrap();
        let files = airlock_gateway::files::Files::open(
            store.clone(),
            media.blobs().clone(),
            setup.files.clone(),
        );
        let receipts = setup.receipts.map(|interval| {
            let (signer, _) = airlock_receipts::SignerKey::generate(RECEIPTS_ORIGIN).unwrap();
            let signer = airlock_receipts::SignerKey::parse(&signer).unwrap();
            let mut receipts = Receipts::new(store.clone(), signer, interval);
            if let Some(witness) = &setup.receipts_witness {
                receipts =
                    receipts.with_witness(airlock_receipts::CosignerKey::parse(witness).unwrap());
            }
            if let Some((url, every)) = &setup.receipts_anchor {
                let anchor = airlock_gateway::receipts::Anchor::new(url, ANCHOR_SECRET, *every);
                receipts = receipts.with_anchor(anchor.unwrap());
            }
            if setup.receipts_mirror {
                let mirror =
                    airlock_gateway::receipts::Mirror::new(media.blobs().clone(), interval);
                receipts = receipts.with_mirror(mirror);
            }
            Arc::new(receipts)
        });
        let running_receipts = receipts.as_ref().map(Receipts::start);
        let state = AppState::new(GatewayConfig {
            providers,
            routes: RouteTable::new(rules),
            auth,
            max_body_bytes: setup.max_body_bytes,
            store: store.clone(),
            request_log,
            limiter,
            prices: PriceTable::builtin(),
            provider_queues: setup.provider_queues.clone(),
            bans,
            end_users: setup.end_users.clone(),
            realtime: RealtimeConfig {
                policy: setup.realtime.clone(),
                tools: Arc::new(ServerTools::new(setup.realtime_tools.clone()).unwrap()),
                session_log,
                sessions: sessions.clone(),
            },
            retries: setup.retries,
            breaker: setup.breaker,
            server: setup.server_policy,
            media: Some(Arc::new(media)),
            cache: Some(Arc::new(cache)),
            files: Some(files),
            content_redactor: Arc::new(
                airlock_documents::Redactor::new(&setup.content_redact_patterns).unwrap(),
            ),
            receipts: receipts.clone(),
        });
        let jobs = airlock_gateway::jobs::start_runner(
            &state,
            airlock_jobs::RunnerLimits {
                poll_interval: std::time::Duration::from_millis(200),
                ..Default::default()
            },
            Vec::new(),
        )
        .await
        .unwrap();
        let listeners = if setup.workers > 1 {
            airlock_gateway::Listeners::bind("127.0.0.1:0".parse().unwrap(), setup.workers)
        } else {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            airlock_gateway::Listeners::single(listener)
        }
        .unwrap();
        let addr = listeners.local_addr();
        let kept_state = state.clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            airlock_gateway::serve(listeners, None, state, setup.tls, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
            // Its jobs' kind holds the state, and so the logs' senders.
            match Arc::try_unwrap(jobs) {
                Ok(jobs) => jobs.shutdown().await,
                Err(jobs) => drop(jobs),
            }
            writer.finish().await;
            session_writer.finish().await;
            media_writer.finish().await;
            if let Some(running) = running_receipts {
                running.finish().await.unwrap();
            }
        });
        Harness {
            addr,
            mock,
            http: reqwest::Client::new(),
            store,
            tenancy,
            sessions,
            state: Some(kept_state),
            shutdown: Some(shutdown),
            server: Some(server),
            _data_dir: data_dir,
            _media_dir: media_dir,
            wal_dir: wal_dir.as_ref().map(|dir| dir.path().to_path_buf()),
            _wal_dir: wal_dir,
            receipts,
        }
    }

    /// The SQLite database's folder (when the setup names no store), kept
    /// by the caller from now on: it outlives [`Harness::stop`].
    pub fn take_data_dir(&mut self) -> Option<tempfile::TempDir> {
        self._data_dir.take()
    }

    /// The local media store's folder (when the setup names no other).
    pub fn media_dir(&self) -> &std::path::Path {
        self._media_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `/readyz`: its status and body.
    pub async fn readiness(&self) -> (u16, serde_json::Value) {
        let response = self.http.get(self.url("/readyz")).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `/metrics` as text (it must answer 200).
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// A POST with the master key as OpenAI's SDK sends it.
    pub fn openai_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(MASTER_KEY)
    }

    /// A POST with the master key as Google's SDK sends it.
    pub fn gemini_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-goog-api-key", MASTER_KEY)
    }

    pub fn gemini_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header("x-goog-api-key", MASTER_KEY)
    }

    /// The gateway's state.
    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("the gateway runs")
    }

    /// Stops the gateway, flushes the request log and returns every record, oldest first.
    pub async fn stop(mut self) -> Vec<RequestRecord> {
        self.state = None;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        let mut records = self.store.recent_request_records(100_000).await.unwrap();
        records.reverse();
        records
    }
}

pub fn admin() -> Actor {
    Actor {
        name: "test".into(),
        remote_addr: None,
    }
}

/// Creates a project (if needed) and a key in it; returns the secret.
pub async fn project_key(
    h: &Harness,
    project: &str,
    project_limits: Limits,
    settings: KeySettings,
    expires_at_ms: Option<i64>,
) -> String {
    let project = match h.store.project_by_name(project).await.unwrap() {
        Some(existing) => existing,
        None => h
            .store
            .create_project(
                project,
                &ProjectSettings {
                    limits: project_limits,
                    ..ProjectSettings::default()
                },
                &admin(),
            )
            .await
            .unwrap(),
    };
    let minted = mint_key(KeyKind::Secret);
    let key = ApiKey {
        id: format!("key_{}", &minted.digest[..12]),
        project_id: project.id.clone(),
        kind: KeyKind::Secret,
        name: "test".into(),
        prefix: minted.prefix.clone(),
        secret_sha256: minted.digest.clone(),
        settings,
        created_at_ms: now_ms(),
        expires_at_ms,
        revoked_at_ms: None,
    };
    h.store
        .create_key(&key, &project.name, &admin())
        .await
        .unwrap();
    h.tenancy.reload().await.unwrap();
    minted.secret
}

/// What `input` prompt tokens (`cached` of them read from the provider's
/// prompt cache) and `output` tokens of `model` cost at the built-in list
/// prices, by the documented formula: `((input − cached) × input price +
/// cached × cached-input price + output × output price) / 1e6`. The prices
/// are read from the table here; the arithmetic is the test's own.
pub fn list_price_usd(model: &str, input: u64, cached: u64, output: u64) -> f64 {
    let table = PriceTable::builtin();
    let price = table.price(model).expect("a built-in price");
    let cached_price = price
        .cached_input_per_mtok
        .expect("a built-in cached-input price");
    assert!(cached <= input && cached_price < price.input_per_mtok);
    ((input - cached) as f64 * price.input_per_mtok
        + cached as f64 * cached_price
        + output as f64 * price.output_per_mtok)
        / 1e6
}

/// Asserts a recorded cost equals the expected one (up to float rounding).
pub fn assert_cost(recorded: Option<f64>, expected: f64) {
    let recorded = recorded.expect("a recorded cost");
    assert!(
        (recorded - expected).abs() <= 1e-12 * expected.abs(),
        "recorded {recorded}, expected {expected}"
    );
}

/// The `x-request-id` of a response: the id of its request-log record.
pub fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads a whole SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .flat_map(|event| event.split("\r\n\r\n"))
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// The delay the simulator is given before each stream chunk after the
/// first, in the tests that time a stream's delivery: long against the
/// scheduling noise of a loaded machine, short enough to keep tests quick.
pub const PER_CHUNK: Duration = Duration::from_millis(500);

/// Makes the harness's simulator produce each stream chunk [`PER_CHUNK`]
/// after the one before (the first at once).
pub fn pace_streams(h: &Harness) {
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::ZERO,
        per_chunk: PER_CHUNK,
    });
}

/// How a streamed body is cut into the events a test times.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// Server-sent events: each event's `data:` payload.
    Sse,
    /// Google's streamed JSON array: each element.
    JsonArray,
}

/// Reads a streamed body as it arrives: each event's payload with the
/// moment its last byte reached the client, and the whole body.
pub async fn timed_events(
    mut response: reqwest::Response,
    framing: Framing,
) -> (Vec<(Instant, String)>, String) {
    let mut body: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    // SSE: where the next event starts. JSON array: the scan's position and state.
    let mut next_event = 0usize;
    let mut scanned = 0usize;
    let (mut depth, mut in_string, mut escaped, mut element_start) = (0usize, false, false, 0usize);
    // A bound so a stalled stream fails instead of hanging; not a timing assertion.
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), response.chunk())
        .await
        .expect("the stream goes on")
        .expect("the stream is readable")
    {
        let arrived = Instant::now();
        body.extend_from_slice(&chunk);
        match framing {
            Framing::Sse => loop {
                let rest = &body[next_event..];
                let separator = [&b"\r\n\r\n"[..], &b"\n\n"[..]]
                    .iter()
                    .filter_map(|sep| {
                        rest.windows(sep.len())
                            .position(|w| w == *sep)
                            .map(|at| (at, sep.len()))
                    })
                    .min();
                let Some((at, len)) = separator else { break };
                let event = String::from_utf8(rest[..at].to_vec()).unwrap();
                next_event += at + len;
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                if !data.is_empty() {
                    events.push((arrived, data.join("\n")));
                }
            },
            Framing::JsonArray => {
                while scanned < body.len() {
                    let byte = body[scanned];
                    if in_string {
                        match (escaped, byte) {
                            (true, _) => escaped = false,
                            (false, b'\\') => escaped = true,
                            (false, b'"') => in_string = false,
                            _ => {}
                        }
                    } else {
                        match byte {
                            b'"' => in_string = true,
                            b'{' | b'[' => {
                                if depth == 1 {
                                    element_start = scanned;
                                }
                                depth += 1;
                            }
                            b'}' | b']' => {
                                depth -= 1;
                                if depth == 1 {
                                    let element = &body[element_start..=scanned];
                                    events.push((
                                        arrived,
                                        String::from_utf8(element.to_vec()).unwrap(),
                                    ));
                                }
                            }
                            _ => {}
                        }
                    }
                    scanned += 1;
                }
            }
        }
    }
    (events, String::from_utf8(body).unwrap())
}

/// Asserts that events the simulator produced at least [`PER_CHUNK`] apart
/// reached the client as they were produced, each at least half that gap
/// after the one before. A gateway that holds any event back until a later
/// one arrives (buffering the whole body, batching, or running one event
/// behind) delivers some two of them together and fails; one that relays
/// them fails only if a single event is delayed by more than half the gap.
pub fn assert_arrived_as_produced(arrivals: &[Instant], what: &str) {
    assert!(
        arrivals.len() >= 3,
        "{what}: too few events ({}) to tell streaming from buffering",
        arrivals.len()
    );
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|gap| *gap >= PER_CHUNK / 2),
        "{what}: the simulator produced the events {PER_CHUNK:?} apart, but some arrived \
         together (gaps between arrivals: {gaps:?}): the gateway held events back"
    );
}

/// POSTs `body` to the admin API with the master key; the created object.
pub async fn admin_create(h: &Harness, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response = h
        .http
        .post(h.url(path))
        .bearer_auth(MASTER_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "POST {path}");
    response.json().await.unwrap()
}

/// Creates a project through the admin API with `settings` (the JSON the
/// admin API documents) and one secret key in it; returns the key.
pub async fn admin_project_key(h: &Harness, project: &str, settings: serde_json::Value) -> String {
    let mut body = settings;
    body["name"] = project.into();
    admin_create(h, "/admin/v1/projects", body).await;
    admin_key(h, project).await
}

/// Another secret key in an existing project, through the admin API.
pub async fn admin_key(h: &Harness, project: &str) -> String {
    let path = format!("/admin/v1/projects/{project}/keys");
    let created = admin_create(h, &path, serde_json::json!({})).await;
    created["secret"].as_str().unwrap().to_string()
}

/// An OpenAI-protocol provider that holds every chat completion until the
/// test lets it go, so a test decides exactly which requests are in flight
/// upstream. Set `Setup::openai_base_url` to its `base_url`.
pub struct HeldUpstream {
    pub base_url: String,
    arrivals: tokio::sync::mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    seen: Arc<std::sync::atomic::AtomicUsize>,
}

/// A request held by a [`HeldUpstream`]: answered (200) when released or dropped.
pub struct Held(oneshot::Sender<()>);

impl Held {
    pub fn release(self) {
        let _ = self.0.send(());
    }
}

impl HeldUpstream {
    pub async fn start() -> HeldUpstream {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel::<oneshot::Sender<()>>();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |body: axum::body::Bytes| {
                let arrived = arrived.clone();
                let counter = counter.clone();
                async move {
                    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let (release, released) = oneshot::channel();
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = arrived.send(release);
                    // Released, or the test let go of it: answer either way.
                    let _ = released.await;
                    axum::Json(serde_json::json!({
                        "id": "chatcmpl-held",
                        "object": "chat.completion",
                        "created": 0,
                        "model": request["model"],
                        "choices": [{
                            "index": 0,
                            "message": {"role": "assistant", "content": "released"},
                            "finish_reason": "stop",
                        }],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                    }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        HeldUpstream {
            base_url,
            arrivals,
            seen,
        }
    }

    /// Waits for the next request to reach the provider (a generous bound
    /// turns a request that never comes into a failure, not a hang).
    pub async fn arrival(&mut self) -> Held {
        let release = tokio::time::timeout(Duration::from_secs(60), self.arrivals.recv())
            .await
            .expect("a request reaches the provider")
            .expect("the provider is running");
        Held(release)
    }

    /// How many requests have reached the provider.
    pub fn seen(&self) -> usize {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The body of the last request for `path` the harness's simulator received.
pub fn last_received(h: &Harness, path: &str) -> serde_json::Value {
    h.mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|request| request.path == path)
        .unwrap_or_else(|| panic!("no request for {path} reached the simulator"))
        .body
}

/// A one-page PDF whose page shows `text` (ASCII, no parentheses or
/// backslashes), titled "Test document", with its cross-reference table:
/// a document any PDF reader opens.
pub fn pdf_with_text(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Title (Test document) /Author (Airlock tests) >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (number, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", number + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// An admin API call with the master key; the status and the JSON body
/// (`null` when there is none).
pub async fn admin_call(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = h.http.request(method, h.url(path)).bearer_auth(MASTER_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Starts an export (`POST path` on the admin API) and waits until it has
/// completed; its description (`GET /admin/v1/exports/{id}`).
pub async fn exported(
    h: &Harness,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let (status, started) = admin_call(h, reqwest::Method::POST, path, body).await;
    assert_eq!(status, 202, "{started}");
    completed_export(h, started["id"].as_str().unwrap()).await
}

/// Waits until the export `id` has completed; its description.
pub async fn completed_export(h: &Harness, id: &str) -> serde_json::Value {
    let status_path = format!("/admin/v1/exports/{id}");
    for _ in 0..300 {
        let (_, got) = admin_call(h, reqwest::Method::GET, &status_path, None).await;
        if got["status"] == "completed" {
            return got;
        }
        assert_ne!(got["status"], "failed", "{got}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the export {id} did not complete");
}

/// `GET /v1/receipts/{id}` with `key`: its status, body and Retry-After.
pub async fn fetch_receipt(
    h: &Harness,
    key: &str,
    id: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let response = h
        .http
        .get(h.url(&format!("/v1/receipts/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_string());
    (status, response.json().await.unwrap(), retry)
}

/// The receipt once a checkpoint covers it (the harness checkpoints
/// every 50 ms).
pub async fn proven_receipt(h: &Harness, key: &str, id: &str) -> airlock_receipts::ReceiptBundle {
    for _ in 0..200 {
        let (status, body, _) = fetch_receipt(h, key, id).await;
        match status {
            200 => return serde_json::from_value(body).unwrap(),
            202 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("GET /v1/receipts/{id}: {other} {body}"),
        }
    }
    panic!("receipt {id} was never covered by a checkpoint");
}

/// A chat completion with `key` (a project's key, or the master key) and
/// `body`: the response, unread.
pub async fn chat_with_key(h: &Harness, key: &str, body: &serde_json::Value) -> reqwest::Response {
    h.http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}
