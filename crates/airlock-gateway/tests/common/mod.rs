//! A test harness: the provider simulator and the gateway, both in-process
//! on 127.0.0.1:0, with a SQLite store in a temporary directory (or the
//! PostgreSQL database named by `AIRLOCK_TEST_POSTGRES_URL`).

#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use airlock_gateway::alerts::BudgetAlerts;
use airlock_gateway::end_user::JwtVerifier;
use airlock_gateway::limits::{BanPolicy, Bans, Limiter};
use airlock_gateway::realtime::{
    RealtimeConfig, RealtimePolicy, ServerTool, ServerTools, Sessions,
};
use airlock_gateway::routing::{ModelPattern, RouteRule, RouteTable, default_patterns};
use airlock_gateway::tenancy::Tenancy;
use airlock_gateway::clock::now_ms;
use airlock_gateway::tenancy::mint_key;
use airlock_gateway::{AppState, ClientAuth, GatewayConfig};
use airlock_mock::{MockConfig, RunningMock};
use airlock_providers::pricing::PriceTable;
use airlock_providers::{HttpClient, Provider, ProviderKind, Secret};
use airlock_store::{
    Actor, ApiKey, KeyKind, KeySettings, Limits, ProjectSettings, RequestLogWriter, RequestRecord,
    SessionLogWriter, Store,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod live;

pub const MASTER_KEY: &str = "test-master-key";

/// How to build a gateway for one test.
pub struct Setup {
    pub gemini_keys: Vec<&'static str>,
    pub openai_keys: Vec<&'static str>,
    pub master_key: Option<&'static str>,
    /// The admin API's token (the master key opens it when this is `None`).
    pub admin_token: Option<&'static str>,
    /// (model pattern, provider name, upstream model)
    pub routes: Vec<(&'static str, &'static str, Option<&'static str>)>,
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
            store: None,
            openai_base_url: None,
            bans: None,
            provider_queues: Default::default(),
            alerts: None,
            end_users: None,
            realtime: RealtimePolicy::default(),
            realtime_tools: Vec::new(),
            tls: None,
        }
    }
}

pub struct Harness {
    pub addr: SocketAddr,
    pub mock: RunningMock,
    pub http: reqwest::Client,
    pub store: Store,
    pub tenancy: Arc<Tenancy>,
    /// The gateway's open realtime sessions.
    pub sessions: Arc<Sessions>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _data_dir: Option<tempfile::TempDir>,
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
        let (request_log, writer) = RequestLogWriter::start(store.clone(), 10_000);
        let (session_log, session_writer) = SessionLogWriter::start(store.clone(), 10_000);
        let sessions = Arc::new(Sessions::default());
        let http = HttpClient::new();
        let secrets = |keys: &[&str]| keys.iter().map(|k| Secret::new(*k)).collect::<Vec<_>>();
        let gemini = Arc::new(Provider::new(
            "gemini",
            ProviderKind::Gemini,
            mock.gemini_base_url().parse().unwrap(),
            secrets(&setup.gemini_keys),
            &http,
            Duration::from_secs(30),
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
            Duration::from_secs(30),
        ));
        let providers = vec![gemini.clone(), openai.clone()];
        let by_name = |name: &str| providers.iter().find(|p| p.name() == name).unwrap().clone();
        let mut rules: Vec<RouteRule> = setup
            .routes
            .iter()
            .map(|(pattern, provider, upstream)| RouteRule {
                pattern: ModelPattern::parse(pattern),
                provider: by_name(provider),
                upstream_model: upstream.map(String::from),
            })
            .collect();
        for provider in &providers {
            for pattern in default_patterns(provider.kind()) {
                rules.push(RouteRule {
                    pattern: ModelPattern::parse(pattern),
                    provider: provider.clone(),
                    upstream_model: None,
                });
            }
        }
        let tenancy = Tenancy::load(store.clone()).await.unwrap();
        let auth = ClientAuth::new(setup.master_key, setup.admin_token, tenancy.clone());
        let state = AppState::new(GatewayConfig {
            providers,
            routes: RouteTable::new(rules),
            auth,
            max_body_bytes: setup.max_body_bytes,
            store: store.clone(),
            request_log,
            limiter: Limiter::new(store.clone(), setup.alerts.clone()),
            prices: PriceTable::builtin(),
            provider_queues: setup.provider_queues.clone(),
            bans: setup.bans.clone().map(Bans::new),
            end_users: setup.end_users.clone(),
            realtime: RealtimeConfig {
                policy: setup.realtime.clone(),
                tools: Arc::new(ServerTools::new(setup.realtime_tools.clone()).unwrap()),
                session_log,
                sessions: sessions.clone(),
            },
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            airlock_gateway::serve(listener, state, setup.tls, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
            writer.finish().await;
            session_writer.finish().await;
        });
        Harness {
            addr,
            mock,
            http: reqwest::Client::new(),
            store,
            tenancy,
            sessions,
            shutdown: Some(shutdown),
            server: Some(server),
            _data_dir: data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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

    /// Stops the gateway, flushes the request log and returns every record, oldest first.
    pub async fn stop(mut self) -> Vec<RequestRecord> {
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
