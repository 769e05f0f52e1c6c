//! The gateway's shared state: everything a handler needs, built once at
//! start-up and held in memory (no database round trip per request).

use crate::cache::ResponseCache;
use crate::conversations::Conversations;
use crate::dashboard::sign_in::SignInAttempts;
use crate::files::Files;
use crate::receipts::Receipts;
use crate::resilience::balance::{self, Candidate};
use crate::resilience::{BreakerPolicy, ProviderHealth, RetryPolicy};
use std::sync::{Arc, OnceLock, Weak};

use airlock_jobs::JobRunner;

use airlock_providers::Provider;
use airlock_providers::pricing::PriceTable;
use std::collections::HashMap;

use airlock_store::{QueuePolicy, RequestLog, Store};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::ClientAuth;
use crate::end_user::JwtVerifier;
use crate::error::ApiError;
use crate::limits::{Bans, Limiter};
use crate::media::Media;
use crate::realtime::config::RealtimeConfig;
use crate::routing::{Route, RouteRule, RouteTable};
use crate::server_policy::ServerPolicy;

/// What the gateway is built from.
pub struct GatewayConfig {
    pub providers: Vec<Arc<Provider>>,
    pub routes: RouteTable,
    pub auth: ClientAuth,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub store: Store,
    pub request_log: RequestLog,
    pub limiter: Limiter,
    /// List prices, for the cost of each request.
    pub prices: PriceTable,
    /// Upstream queues per provider name, when configured.
    pub provider_queues: HashMap<String, QueuePolicy>,
    /// Rate-based bans of client addresses, when configured.
    pub bans: Option<Bans>,
    /// Verifies end users' tokens (`x-airlock-user-token`), when configured.
    pub end_users: Option<JwtVerifier>,
    /// The realtime relay's limits, tools, session log and open sessions.
    pub realtime: RealtimeConfig,
    /// How failed provider calls are retried.
    pub retries: RetryPolicy,
    /// When a provider's circuit opens, and for how long.
    pub breaker: BreakerPolicy,
    /// Timeouts, the connection cap, the body budget, the shutdown grace.
    pub server: ServerPolicy,
    /// Where generated media is kept and how it is handed out, when
    /// configured (`airlock serve` always configures it).
    pub media: Option<Arc<Media>>,
    /// The response cache, when enabled.
    pub cache: Option<Arc<ResponseCache>>,
    /// Uploaded files (`airlock serve` always has them, in the media
    /// object store).
    pub files: Option<Arc<Files>>,
    /// What logged content is redacted of (personal data, and the
    /// operator's `[content_log] redact_patterns`).
    pub content_redactor: Arc<airlock_documents::Redactor>,
    /// The receipts log, when receipts are on (`airlock serve`'s default).
    pub receipts: Option<Arc<Receipts>>,
}

/// Cheap to clone into every handler: one reference count, as axum
/// clones the state for each middleware layer of every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What every clone of [`AppState`] shares.
struct Shared {
    config: GatewayConfig,
    metrics: &'static PrometheusHandle,
    conversations: Conversations,
    health: HashMap<String, Arc<ProviderHealth>>,
    /// The background job runner, once started: held weakly, as its jobs'
    /// kinds hold the state (whoever started it owns it).
    jobs: OnceLock<Weak<JobRunner>>,
    /// Failed dashboard sign-ins, per address and per name.
    sign_in_attempts: SignInAttempts,
}

impl AppState {
    /// Also installs the process-wide metrics recorder (once).
    pub fn new(config: GatewayConfig) -> Self {
        let conversations = Conversations::new(config.store.clone());
        let health = config
            .providers
            .iter()
            .map(|provider| {
                let health = ProviderHealth::new(&config.retries, config.breaker);
                (provider.name().to_string(), Arc::new(health))
            })
            .collect();
        AppState(Arc::new(Shared {
            config,
            metrics: crate::metrics::recorder(),
            conversations,
            health,
            jobs: OnceLock::new(),
            sign_in_attempts: SignInAttempts::default(),
        }))
    }

    /// Failed dashboard sign-ins, per address and per name.
    pub(crate) fn sign_in_attempts(&self) -> &SignInAttempts {
        &self.0.sign_in_attempts
    }

    /// The background job runner, while it runs.
    pub fn jobs(&self) -> Option<Arc<JobRunner>> {
        self.0.jobs.get().and_then(Weak::upgrade)
    }

    /// Registers the job runner (once; a second is ignored).
    pub(crate) fn set_jobs(&self, runner: &Arc<JobRunner>) {
        let _ = self.0.jobs.set(Arc::downgrade(runner));
    }

    /// The response cache, when enabled.
    pub fn cache(&self) -> Option<&Arc<ResponseCache>> {
        self.0.config.cache.as_ref()
    }

    /// Uploaded files, when configured.
    pub fn files(&self) -> Option<&Files> {
        self.0.config.files.as_deref()
    }

    /// Media storage, when configured.
    pub fn media(&self) -> Option<&Media> {
        self.0.config.media.as_deref()
    }

    /// A provider's retry budget and circuit breaker (every configured
    /// provider has them).
    pub fn provider_health(&self, provider: &str) -> Option<&Arc<ProviderHealth>> {
        self.0.health.get(provider)
    }

    /// The Responses API's stored turns.
    pub fn conversations(&self) -> &Conversations {
        &self.0.conversations
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        self.0.metrics
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.0.config
    }

    /// Where a request for `model` goes: through the deployment its rule's
    /// balance picks, when it has several.
    pub fn route(&self, model: &str) -> Result<Route, ApiError> {
        self.0
            .config
            .routes
            .resolve_with(model, |rule| {
                self.choose_deployment(rule, &[]).unwrap_or_default()
            })
            .ok_or_else(|| ApiError::ModelNotFound {
                model: model.to_string(),
            })
    }

    /// A deployment of `rule` by its balance, passing over those whose
    /// circuit is open (unless all are) and the providers `tried`; `None`
    /// when every deployment was tried.
    pub fn choose_deployment(&self, rule: &RouteRule, tried: &[&str]) -> Option<usize> {
        let now = std::time::Instant::now();
        let (untried, pool): (Vec<usize>, Vec<Candidate>) = rule
            .deployments
            .iter()
            .enumerate()
            .filter(|(_, deployment)| !tried.contains(&deployment.provider.name()))
            .map(|(index, deployment)| {
                let health = self.provider_health(deployment.provider.name());
                let candidate = Candidate {
                    weight: deployment.weight,
                    cost: health.map_or(0.0, |health| health.load.cost()),
                    healthy: !health.is_some_and(|health| health.breaker.refuses(now)),
                };
                (index, candidate)
            })
            .unzip();
        balance::choose(rule.balance, &pool, &mut fastrand::Rng::new()).map(|i| untried[i])
    }
}
