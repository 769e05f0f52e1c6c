//! Configuration: the TOML file, environment discovery and command-line
//! overrides, resolved into one validated [`Settings`].
//!
//! Precedence: command-line flag (or its `AIRLOCK_*` variable) over the file
//! over the built-in default. Providers come from the file's `[[providers]]`;
//! with none there, from the provider key variables (`GEMINI_API_KEY`,
//! `GOOGLE_API_KEY`, `OPENAI_API_KEY`); with none of those either, the
//! built-in simulator serves. Every problem found is reported, each with its
//! line when it comes from the file.

mod cache;
mod cluster;
mod content_log;
mod encryption;
mod file;
mod files;
mod jobs;
mod media;
mod parse;
mod realtime;
mod receipts;
mod request_log;
mod routes;
mod schedules;
mod secret;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use schedules::BackupSchedule;

use airlock_gateway::ServerPolicy;
use airlock_gateway::alerts::{BudgetAlerts, WebhookConfig};
use airlock_gateway::end_user::{IssuerConfig, JwtVerifier};
use airlock_gateway::limits::BanPolicy;
use airlock_gateway::realtime::{RealtimePolicy, ServerTool};
use airlock_gateway::resilience::{Balance, BreakerPolicy, RetryPolicy};
use airlock_gateway::routing::{Fallbacks, RouteTimeouts};
use airlock_providers::pricing::ModelPrice;
use airlock_providers::{ProviderKind, Timeouts};
use airlock_store::QueuePolicy;
use toml::Spanned;
use url::Url;

pub use cluster::ClusterConfig;
use file::{CircuitBreakerSection, FileConfig, ProviderSection, RetriesSection};
pub use media::MediaConfig;
pub use receipts::ReceiptsConfig;
pub use request_log::LogDurability;
pub use secret::SecretRef;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./airlock-data";
pub const DEFAULT_MAX_BODY_BYTES: usize = 20 * 1024 * 1024;
pub const DEFAULT_UPSTREAM_TIMEOUT_SECS: u64 = 300;

/// Values given on the command line or through their `AIRLOCK_*` variables.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub redis_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub insecure_no_auth: Option<bool>,
    pub upstream_timeout_secs: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub access_log: Option<bool>,
    pub workers: Option<usize>,
    pub max_connections: Option<usize>,
    pub body_budget_bytes: Option<usize>,
    pub shutdown_grace_secs: Option<u64>,
    pub master_key: Option<String>,
    pub admin_token: Option<String>,
    /// Provider keys for zero-config discovery; comma-separated keys form a pool.
    pub gemini_api_key: Option<String>,
    pub openai_api_key: Option<String>,
    pub gemini_base_url: Option<String>,
    pub openai_base_url: Option<String>,
    pub request_log_durability: Option<LogDurability>,
}

/// Where the providers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSource {
    File,
    Environment,
    /// None configured: the built-in simulator serves.
    Simulator,
}

#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: Url,
    pub keys: Vec<String>,
    pub default_routes: bool,
    pub queue: Option<QueuePolicy>,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone)]
pub struct RouteSettings {
    pub model: String,
    /// One or more; several are balanced by `balance`.
    pub deployments: Vec<DeploymentSettings>,
    pub balance: Balance,
    pub upstream_model: Option<String>,
    pub timeouts: RouteTimeouts,
    pub fallbacks: Option<Fallbacks>,
    pub cache: airlock_gateway::cache::RouteCache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSettings {
    pub provider: String,
    pub upstream_model: Option<String>,
    pub weight: u32,
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Where `/metrics`, the probes and the admin API are served instead of
    /// `listen`, when set.
    pub admin_listen: Option<SocketAddr>,
    /// Cluster mode: the shared Redis, when set.
    pub cluster: Option<ClusterConfig>,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub max_body_bytes: usize,
    pub master_key: Option<String>,
    pub admin_token: Option<String>,
    pub insecure_no_auth: bool,
    pub upstream_timeout: Duration,
    /// Log a line per request (the `airlock::access` log target).
    pub access_log: bool,
    /// Threads serving requests (at least one).
    pub workers: usize,
    pub provider_source: ProviderSource,
    pub providers: Vec<ProviderSettings>,
    pub routes: Vec<RouteSettings>,
    /// Price overrides, validated.
    pub prices: Vec<(String, ModelPrice)>,
    pub ban: Option<BanPolicy>,
    pub end_user_issuers: Vec<IssuerConfig>,
    /// Budget alerts' webhook, validated.
    pub alert_webhook: Option<WebhookConfig>,
    /// TLS: the certificate chain and private key files (PEM), when serving TLS.
    pub tls: Option<TlsFiles>,
    pub realtime: RealtimePolicy,
    pub realtime_tools: Vec<ServerTool>,
    /// Timeouts, the connection cap (`None`: from the open-files limit),
    /// the body budget and the shutdown grace period.
    pub server_policy: ServerPolicy,
    pub retries: RetryPolicy,
    pub breaker: BreakerPolicy,
    /// Whether each record is in a write-ahead log before its answer ends.
    pub request_log_durability: LogDurability,
    /// Where generated media is stored and how it is handed out.
    pub media: MediaConfig,
    /// The response cache's time to live and sizes.
    pub cache: airlock_gateway::cache::CacheSettings,
    /// Uploads' size limit and accepted types.
    pub files: airlock_gateway::files::FileSettings,
    /// How much the background job runner does at once.
    pub jobs: airlock_jobs::RunnerLimits,
    /// What logged content is redacted of.
    pub content_redactor: std::sync::Arc<airlock_documents::Redactor>,
    /// Projects' data exported on a schedule (`[exports]`).
    pub exports: Option<airlock_gateway::exports::ExportSchedule>,
    /// Backups on a schedule (`[backups]`).
    pub backups: Option<BackupSchedule>,
    /// Seals stored user content at rest (`[encryption]`).
    pub sealer: Option<std::sync::Arc<airlock_store::Sealer>>,
    /// The receipts log (`[receipts]`), unless turned off.
    pub receipts: Option<ReceiptsConfig>,
}

/// The PEM files TLS is served with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file, when the problem is in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Reads environment variables; a parameter so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Loads and validates the configuration.
pub fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    env: EnvLookup<'_>,
) -> Result<Settings, Vec<Problem>> {
    let source = match path {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|error| {
            vec![Problem {
                line: None,
                message: format!("cannot read {}: {error}", path.display()),
            }]
        })?),
        None => None,
    };
    load_source(source.as_deref(), overrides, env)
}

/// Validates the configuration given the file's text (`None`: no file).
pub fn load_source(
    source: Option<&str>,
    overrides: &Overrides,
    env: EnvLookup<'_>,
) -> Result<Settings, Vec<Problem>> {
    let (file, source, mut problems) = match source {
        Some(source) => {
            let (file, problems) = parse::parse(source);
            // A file that could not be read at all has nothing more to check.
            let Some(file) = file else {
                return Err(problems);
            };
            (file, source, problems)
        }
        None => (FileConfig::default(), "", Vec::new()),
    };
    let resolved = Resolver {
        source,
        env,
        problems: Vec::new(),
    }
    .resolve(file, overrides);
    match resolved {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            // In line order; problems from flags and the environment last.
            problems.sort_by_key(|problem| (problem.line.is_none(), problem.line));
            Err(problems)
        }
    }
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

struct Resolver<'a> {
    source: &'a str,
    env: EnvLookup<'a>,
    problems: Vec<Problem>,
}

impl Resolver<'_> {
    fn problem_at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        let line = Some(line_of(self.source, spanned.span().start));
        self.problems.push(Problem {
            line,
            message: message.into(),
        });
    }

    fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(Problem {
            line: None,
            message: message.into(),
        });
    }

    /// A secret reference from the file, resolved.
    fn secret(&mut self, field: &Spanned<String>, what: &str) -> Option<String> {
        match SecretRef::parse(field.get_ref()).and_then(|reference| reference.resolve(self.env)) {
            Ok(value) => Some(value),
            Err(message) => {
                self.problem_at(field, format!("{what}: {message}"));
                None
            }
        }
    }

    fn resolve(
        mut self,
        file: FileConfig,
        overrides: &Overrides,
    ) -> Result<Settings, Vec<Problem>> {
        let server = file.server;
        let listen_text = match (&overrides.listen, &server.listen) {
            (Some(listen), _) => listen.clone(),
            (None, Some(listen)) => listen.get_ref().clone(),
            (None, None) => DEFAULT_LISTEN.to_string(),
        };
        let listen = match listen_text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let message = format!("listen address `{listen_text}` is not IP:PORT");
                match (&overrides.listen, &server.listen) {
                    (None, Some(spanned)) => self.problem_at(spanned, message),
                    _ => self.problem(message),
                }
                None
            }
        };
        let admin_listen = self.admin_listen(&server.admin_listen, overrides, listen);
        let database_url = match (&overrides.database_url, &server.database_url) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(field))
                if field.get_ref().starts_with("env:") || field.get_ref().starts_with("file:") =>
            {
                self.secret(field, "server.database_url")
            }
            (None, Some(field)) => Some(field.get_ref().clone()),
            (None, None) => None,
        };
        let known_scheme = |url: &str| {
            ["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        };
        if database_url
            .as_deref()
            .is_some_and(|url| !known_scheme(url))
        {
            let message = "database URL must start with postgres://, postgresql:// or sqlite:";
            match (&overrides.database_url, &server.database_url) {
                (None, Some(field)) => self.problem_at(field, message),
                _ => self.problem(message),
            }
        }
        let master_key = match (given(&overrides.master_key), &server.master_key) {
            (Some(key), _) => Some(key.to_string()),
            (None, Some(field)) => self.secret(field, "server.master_key"),
            (None, None) => None,
        };
        let admin_token = match (given(&overrides.admin_token), &server.admin_token) {
            (Some(token), _) => Some(token.to_string()),
            (None, Some(field)) => self.secret(field, "server.admin_token"),
            (None, None) => None,
        };
        let insecure_no_auth = overrides
            .insecure_no_auth
            .or(server.insecure_no_auth)
            .unwrap_or(false);
        if let Some(addr) = listen
            && !addr.ip().is_loopback()
            && master_key.is_none()
            && !insecure_no_auth
        {
            self.problem(format!(
                "listening on {addr}, which is not a loopback address, needs a client key \
                 (AIRLOCK_MASTER_KEY or server.master_key) or --insecure-no-auth"
            ));
        }
        let max_body_bytes = overrides
            .max_body_bytes
            .or(server.max_body_bytes.as_ref().map(|field| *field.get_ref()))
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 {
            let message = "max_body_bytes must be greater than zero";
            match (overrides.max_body_bytes, &server.max_body_bytes) {
                (None, Some(field)) => self.problem_at(field, message),
                _ => self.problem(message),
            }
        }
        let workers = overrides
            .workers
            .or(server.workers.as_ref().map(|field| *field.get_ref()))
            .unwrap_or_else(default_workers);
        if workers == 0 {
            let message = "workers must be at least 1";
            match (overrides.workers, &server.workers) {
                (None, Some(field)) => self.problem_at(field, message),
                _ => self.problem(message),
            }
        }
        let server_policy = self.server_policy(&server, overrides, max_body_bytes);
        let upstream_timeout_secs = overrides
            .upstream_timeout_secs
            .or(server.upstream_timeout_secs)
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_SECS);
        let upstream_timeouts = Timeouts::waiting(Duration::from_secs(upstream_timeout_secs));
        let (provider_source, providers) = if file.providers.is_empty() {
            self.discover_providers(overrides, upstream_timeouts)
        } else {
            let providers = self.file_providers(&file.providers, upstream_timeouts);
            (ProviderSource::File, providers)
        };
        // Routes may name any provider the file defines, even one with
        // problems of its own; with none, the simulator's providers.
        let provider_names: Vec<&str> = if provider_source == ProviderSource::Simulator {
            vec![ProviderKind::Gemini.name(), ProviderKind::Openai.name()]
        } else if file.providers.is_empty() {
            providers.iter().map(|p| p.name.as_str()).collect()
        } else {
            file.providers
                .iter()
                .map(|p| p.name.get_ref().as_str())
                .collect()
        };
        let routes = self.routes(&file.routes, &provider_names);
        self.check_fallbacks_are_routed(&file.routes, &routes, &providers, provider_source);
        let retries = self.retries(&file.retries);
        let breaker = self.breaker(&file.circuit_breaker);
        let request_log_durability = self.request_log_durability(&file.request_log, overrides);
        let data_dir = overrides
            .data_dir
            .clone()
            .or(server.data_dir.map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        // A local media store syncs its objects as a durable log syncs
        // its records: before the answer names them.
        let sync_media = request_log_durability == LogDurability::Durable;
        let media = self.media(&file.media, &data_dir, sync_media);
        let cache = self.cache(&file.cache);
        let files = self.files(&file.files);
        let jobs = self.jobs(&file.jobs);
        let cluster = self.cluster(&file.cluster, overrides);
        let receipts = self.receipts(&file.receipts);
        if cluster.is_some()
            && receipts
                .as_ref()
                .is_some_and(|receipts| receipts.signing_key.is_none())
        {
            self.problem(
                "cluster mode needs [receipts] signing_key (a file: or env: secret every \
                 instance shares), or [receipts] enabled = false: each instance would \
                 otherwise sign the one log with a key of its own",
            );
        }
        if cluster.is_some()
            && media
                .as_ref()
                .is_some_and(|media| media.signing_key.is_none())
        {
            self.problem(
                "cluster mode needs [media] signing_key, the same on every instance: \
                 a media or download URL one instance signs must open on all",
            );
        }
        let content_redactor = std::sync::Arc::new(self.content_log(&file.content_log));
        let exports = file
            .exports
            .as_ref()
            .and_then(|section| self.exports(section));
        let backups = file
            .backups
            .as_ref()
            .and_then(|section| self.backups(section));
        let sealer = file
            .encryption
            .as_ref()
            .and_then(|section| self.encryption(section));
        let ban = server.ban.as_ref().and_then(|section| {
            let ban = section.get_ref();
            if ban.requests == 0 || ban.window_secs == 0 || ban.ban_secs == 0 {
                self.problem_at(
                    section,
                    "server.ban: requests, window_secs and ban_secs must be greater than zero",
                );
                return None;
            }
            Some(BanPolicy {
                requests: ban.requests,
                window: Duration::from_secs(ban.window_secs),
                ban: Duration::from_secs(ban.ban_secs),
            })
        });
        let alert_webhook = file.alerts.as_ref().and_then(|alerts| {
            let url = match alerts.webhook_url.get_ref() {
                text if text.starts_with("env:") || text.starts_with("file:") => {
                    self.secret(&alerts.webhook_url, "alerts.webhook_url")?
                }
                text => text.clone(),
            };
            let secret = self.secret(&alerts.webhook_secret, "alerts.webhook_secret")?;
            let config = WebhookConfig::new(url, secret);
            match BudgetAlerts::new(config.clone()) {
                Ok(_) => Some(config),
                Err(message) => {
                    self.problem_at(&alerts.webhook_url, format!("alerts: {message}"));
                    None
                }
            }
        });
        if let Err(message) = JwtVerifier::new(file.end_user_issuers.clone()) {
            self.problem(format!("end_user_issuers: {message}"));
        }
        let tls = match (
            overrides
                .tls_cert
                .clone()
                .or(server.tls_cert.map(PathBuf::from)),
            overrides
                .tls_key
                .clone()
                .or(server.tls_key.map(PathBuf::from)),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                self.problem(
                    "TLS needs both a certificate (--tls-cert) and a private key (--tls-key)",
                );
                None
            }
        };
        let realtime = self.realtime_policy(&file.realtime);
        let realtime_tools = self.realtime_tools(&file.realtime.tools);
        let mut prices = Vec::new();
        for (model, price) in &file.prices {
            match price.get_ref().validate(model) {
                Ok(()) => prices.push((model.clone(), price.get_ref().clone())),
                Err(error) => self.problem_at(price, format!("prices: {error}")),
            }
        }

        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        Ok(Settings {
            listen: listen.expect("a listen problem was reported"),
            admin_listen,
            cluster,
            data_dir,
            database_url,
            max_body_bytes,
            master_key,
            admin_token,
            insecure_no_auth,
            upstream_timeout: Duration::from_secs(upstream_timeout_secs),
            access_log: overrides.access_log.or(server.access_log).unwrap_or(true),
            workers,
            provider_source,
            providers,
            routes,
            prices,
            ban,
            end_user_issuers: file.end_user_issuers,
            alert_webhook,
            tls,
            realtime,
            realtime_tools,
            retries,
            breaker,
            request_log_durability,
            server_policy,
            media: media.expect("a media problem was reported"),
            cache,
            files,
            jobs,
            content_redactor,
            exports,
            backups,
            sealer,
            receipts,
        })
    }

    /// The file's providers, each call limited by its `timeouts` over
    /// `defaults`.
    fn file_providers(
        &mut self,
        sections: &[ProviderSection],
        defaults: Timeouts,
    ) -> Vec<ProviderSettings> {
        let mut providers: Vec<ProviderSettings> = Vec::new();
        for section in sections {
            let name = section.name.get_ref();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                self.problem_at(
                    &section.name,
                    format!("provider name `{name}` must be letters, digits, '-' or '_'"),
                );
            }
            if providers.iter().any(|p| &p.name == name) {
                self.problem_at(&section.name, format!("provider `{name}` is defined twice"));
            }
            // An unknown kind is reported, and the section's other fields are still checked.
            let kind = match section.kind.get_ref().as_str() {
                "gemini" => Some(ProviderKind::Gemini),
                "openai" => Some(ProviderKind::Openai),
                "openai_compatible" => Some(ProviderKind::OpenaiCompatible),
                other => {
                    self.problem_at(
                        &section.kind,
                        format!("unknown provider kind `{other}` (expected gemini, openai or openai_compatible)"),
                    );
                    None
                }
            };
            let base_url = match (&section.base_url, kind.map(default_base_url)) {
                (Some(field), _) => self.url(field),
                (None, None) => None,
                (None, Some(Some(default))) => Url::parse(default).ok(),
                (None, Some(None)) => {
                    self.problem_at(
                        &section.name,
                        format!("provider `{name}` of kind openai_compatible needs a base_url"),
                    );
                    None
                }
            };
            if section
                .queue
                .is_some_and(|queue| queue.max_in_flight == 0 || queue.timeout_secs == 0)
            {
                self.problem_at(&section.name, format!("provider `{name}`: queue max_in_flight and timeout_secs must be greater than zero"));
            }
            let keys: Vec<String> = section
                .keys
                .iter()
                .filter_map(|key| self.secret(key, "provider key"))
                .collect();
            if section.keys.is_empty()
                && kind.is_some_and(|kind| kind != ProviderKind::OpenaiCompatible)
            {
                self.problem_at(
                    &section.name,
                    format!("provider `{name}` needs at least one key"),
                );
            }
            if let (Some(kind), Some(base_url)) = (kind, base_url) {
                providers.push(ProviderSettings {
                    name: name.clone(),
                    kind,
                    base_url,
                    keys,
                    default_routes: section
                        .default_routes
                        .unwrap_or(kind != ProviderKind::OpenaiCompatible),
                    queue: section.queue,
                    timeouts: self.provider_timeouts(section, defaults),
                });
            }
        }
        providers
    }

    fn url(&mut self, field: &Spanned<String>) -> Option<Url> {
        match Url::parse(field.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            _ => {
                self.problem_at(
                    field,
                    format!("base_url `{}` is not an http(s) URL", field.get_ref()),
                );
                None
            }
        }
    }

    /// Zero-config: providers from the key flags (`GEMINI_API_KEY`,
    /// `OPENAI_API_KEY`). Several keys may be given comma-separated to form a
    /// pool.
    fn discover_providers(
        &mut self,
        overrides: &Overrides,
        timeouts: Timeouts,
    ) -> (ProviderSource, Vec<ProviderSettings>) {
        let keys = |value: &Option<String>| -> Vec<String> {
            given(value)
                .map(|value| {
                    value
                        .split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut providers = Vec::new();
        for (kind, keys, base_url, flag) in [
            (
                ProviderKind::Gemini,
                keys(&overrides.gemini_api_key),
                &overrides.gemini_base_url,
                "--gemini-base-url (AIRLOCK_GEMINI_BASE_URL)",
            ),
            (
                ProviderKind::Openai,
                keys(&overrides.openai_api_key),
                &overrides.openai_base_url,
                "--openai-base-url (AIRLOCK_OPENAI_BASE_URL)",
            ),
        ] {
            if keys.is_empty() {
                continue;
            }
            let base_url = match given(base_url) {
                Some(text) => match Url::parse(text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => url,
                    _ => {
                        self.problem(format!("{flag} `{text}` is not an http(s) URL"));
                        continue;
                    }
                },
                None => Url::parse(default_base_url(kind).expect("known kinds have defaults"))
                    .expect("valid default"),
            };
            providers.push(ProviderSettings {
                name: kind.name().to_string(),
                kind,
                base_url,
                keys,
                default_routes: true,
                queue: None,
                timeouts,
            });
        }
        let source = if providers.is_empty() {
            ProviderSource::Simulator
        } else {
            ProviderSource::Environment
        };
        (source, providers)
    }
}

impl Resolver<'_> {
    /// When a provider's circuit opens, and for how long.
    fn breaker(&mut self, section: &CircuitBreakerSection) -> BreakerPolicy {
        let defaults = BreakerPolicy::default();
        if let Some(secs) = &section.open_secs
            && *secs.get_ref() == 0
        {
            self.problem_at(secs, "circuit_breaker.open_secs must be greater than zero");
        }
        BreakerPolicy {
            failures_to_open: section
                .failures_to_open
                .unwrap_or(defaults.failures_to_open),
            open_for: section
                .open_secs
                .as_ref()
                .map_or(defaults.open_for, |secs| {
                    Duration::from_secs(*secs.get_ref())
                }),
        }
    }

    /// How failed provider calls are retried.
    fn retries(&mut self, section: &RetriesSection) -> RetryPolicy {
        let defaults = RetryPolicy::default();
        let base = section.base_delay_ms.as_ref();
        let max = section.max_delay_ms.as_ref();
        if let Some(base) = base
            && *base.get_ref() == 0
        {
            self.problem_at(base, "retries.base_delay_ms must be greater than zero");
        }
        if let (Some(base), Some(max)) = (base, max)
            && max.get_ref() < base.get_ref()
        {
            self.problem_at(max, "retries.max_delay_ms must be at least base_delay_ms");
        }
        if let Some(percent) = &section.budget_percent
            && *percent.get_ref() > 100
        {
            self.problem_at(percent, "retries.budget_percent must be between 0 and 100");
        }
        RetryPolicy {
            max_retries: section.max_retries.unwrap_or(defaults.max_retries),
            base_delay: base.map_or(defaults.base_delay, |ms| {
                Duration::from_millis(*ms.get_ref())
            }),
            max_delay: max.map_or(defaults.max_delay, |ms| {
                Duration::from_millis(*ms.get_ref())
            }),
            budget_percent: section
                .budget_percent
                .as_ref()
                .map_or(defaults.budget_percent, |p| *p.get_ref()),
        }
    }
}

/// A value given on the command line or in its variable, unless blank.
/// One worker per CPU the process may use.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.trim().is_empty())
}

fn default_base_url(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Gemini => Some(airlock_providers::gemini::DEFAULT_BASE_URL),
        ProviderKind::Openai => Some(airlock_providers::openai::DEFAULT_BASE_URL),
        ProviderKind::OpenaiCompatible => None,
    }
}

#[cfg(test)]
mod tests;
