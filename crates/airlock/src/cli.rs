//! Command-line arguments (each flag also readable from an `AIRLOCK_*`
//! variable) and dispatch to the subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, LogDurability, Overrides};
use crate::{backup, conversations, logging, mock, pregen, serve, tenants, users};

#[derive(Parser, Debug)]
#[command(
    name = "airlock",
    version,
    about = "A self-hosted gateway for generative-AI applications"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway. With no provider key configured it serves the built-in simulator.
    #[command(after_help = FILE_ONLY_SETTINGS)]
    Serve(ServeArgs),
    /// Run the provider simulator alone (Gemini and OpenAI APIs).
    Mock(MockArgs),
    /// Work with the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage projects (tenants) and their limits.
    #[command(subcommand)]
    Projects(tenants::ProjectsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(tenants::KeysCommand),
    /// Manage the dashboard's users and their roles.
    #[command(subcommand)]
    Admins(crate::admins::AdminsCommand),
    /// Receipts: the log's verifier key, offline verification, consistency audits.
    #[command(subcommand)]
    Receipts(crate::receipts::ReceiptsCommand),
    /// Spend by day, project, key and model.
    Spend(tenants::SpendArgs),
    /// Read the audit log of administrative changes.
    Audit(tenants::AuditArgs),
    /// Export conversations (Responses and Conversations APIs).
    #[command(subcommand)]
    Conversations(conversations::ConversationsCommand),
    /// Pre-generate a file of requests into a project's cache on a running gateway, with live progress.
    Pregen(pregen::PregenArgs),
    /// Write a consistent backup (database, logs' segments, media) to a folder, while the gateway serves.
    Backup(backup::BackupArgs),
    /// Restore a backup onto a fresh data directory or database.
    Restore(backup::RestoreArgs),
    /// One end user's data (GDPR): export it to a zip file, or erase it everywhere.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Probe a URL (a container's health check): exit 0 on a 2xx answer, 1 otherwise.
    Health(crate::health::HealthArgs),
}

/// Where the settings that have no flag are.
const FILE_ONLY_SETTINGS: &str = "Logs are filtered by RUST_LOG (default: info). Providers with their own \
names, base URLs and queues, routes and aliases, address bans, realtime limits and tools, \
prices, budget alerts, end-user token issuers, and header, keep-alive and body timeouts are set in the TOML file (--config): \
every key is listed in docs/configuration.md.";

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate the configuration (file, environment and flags) and report every problem with its line.
    #[command(after_help = FILE_ONLY_SETTINGS)]
    Check(CheckArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ConfigSource {
    /// TOML configuration file. Without one, providers are discovered from
    /// GEMINI_API_KEY / GOOGLE_API_KEY / OPENAI_API_KEY.
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "AIRLOCK_LISTEN")]
    pub listen: Option<String>,
    /// A second address serving /metrics, /healthz, /readyz and the admin API, which the public address then no longer serves.
    #[arg(long, env = "AIRLOCK_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Cluster mode: the Redis every instance shares limits, bans, tokens and change events in (redis:// or rediss://, may hold a password: prefer the variable).
    #[arg(long, env = "AIRLOCK_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Directory for the embedded state: the SQLite database and the blob folder [default: ./airlock-data].
    #[arg(long, env = "AIRLOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Metadata database instead of SQLite in the data directory, e.g. postgres://user@host/db.
    #[arg(long, env = "AIRLOCK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Largest request body accepted, in bytes [default: 20971520].
    #[arg(long, env = "AIRLOCK_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Seconds to wait for a provider's response headers [default: 300].
    #[arg(long, env = "AIRLOCK_UPSTREAM_TIMEOUT_SECS")]
    pub upstream_timeout_secs: Option<u64>,
    /// Allow listening on a non-loopback address with no client key (AIRLOCK_MASTER_KEY). Anyone who can reach the port can spend your provider quota.
    #[arg(long, env = "AIRLOCK_INSECURE_NO_AUTH", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub insecure_no_auth: Option<bool>,
    /// Serve TLS (HTTP/1.1 and HTTP/2 by ALPN) with this PEM certificate chain; needs --tls-key.
    #[arg(long, env = "AIRLOCK_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, env = "AIRLOCK_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Threads serving requests, each with its own listening socket (SO_REUSEPORT) [default: one per CPU].
    #[arg(long, env = "AIRLOCK_WORKERS")]
    pub workers: Option<usize>,
    /// Connections open at once; over it a new connection is closed at once [default: from the open-files limit, with descriptors in reserve].
    #[arg(long, env = "AIRLOCK_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Bytes of request bodies held at once across the gateway; over it a request is answered 503 with Retry-After [default: 4 × max-body-bytes].
    #[arg(long, env = "AIRLOCK_BODY_BUDGET_BYTES")]
    pub body_budget_bytes: Option<usize>,
    /// Seconds a graceful shutdown (SIGTERM) lets open connections finish before closing them [default: 30].
    #[arg(long, env = "AIRLOCK_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// How the request log keeps records: fast (queued in memory and inserted in batches; a hard kill loses the last few) or durable (each record synced to a write-ahead log under the data directory before its answer ends, replayed at the next start) [default: fast].
    #[arg(long, env = "AIRLOCK_REQUEST_LOG_DURABILITY", value_name = "fast|durable", value_parser = durability)]
    pub request_log_durability: Option<LogDurability>,
    /// Log one line per request at INFO (method, path, status, latency, model, request id; never content or keys).
    #[arg(long, env = "AIRLOCK_ACCESS_LOG", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub access_log: Option<bool>,
    /// The client key every request must carry (`Authorization: Bearer`, `x-goog-api-key` or `?key=`); also opens the admin API when no admin token is set. Prefer the variable: a flag's value is visible to other local users.
    #[arg(
        long,
        env = "AIRLOCK_MASTER_KEY",
        hide_env_values = true,
        help_heading = "Keys"
    )]
    pub master_key: Option<String>,
    /// Bearer token for the admin API (/admin/v1).
    #[arg(
        long,
        env = "AIRLOCK_ADMIN_TOKEN",
        hide_env_values = true,
        help_heading = "Keys"
    )]
    pub admin_token: Option<String>,
    /// Gemini API key(s), comma-separated for a pool (GOOGLE_API_KEY is read too); used when the file defines no [[providers]]. With no provider key at all, the built-in simulator serves.
    #[arg(
        long,
        env = "GEMINI_API_KEY",
        hide_env_values = true,
        help_heading = "Providers (without a configuration file)"
    )]
    pub gemini_api_key: Option<String>,
    /// OpenAI API key(s), comma-separated for a pool; used when the file defines no [[providers]].
    #[arg(
        long,
        env = "OPENAI_API_KEY",
        hide_env_values = true,
        help_heading = "Providers (without a configuration file)"
    )]
    pub openai_api_key: Option<String>,
    /// Where the Gemini provider is called: a host root [default: https://generativelanguage.googleapis.com].
    #[arg(
        long,
        env = "AIRLOCK_GEMINI_BASE_URL",
        help_heading = "Providers (without a configuration file)"
    )]
    pub gemini_base_url: Option<String>,
    /// Where the OpenAI provider is called, ending in /v1 [default: https://api.openai.com/v1].
    #[arg(
        long,
        env = "AIRLOCK_OPENAI_BASE_URL",
        help_heading = "Providers (without a configuration file)"
    )]
    pub openai_base_url: Option<String>,
}

impl ConfigSource {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            admin_listen: self.admin_listen.clone(),
            redis_url: self.redis_url.clone().filter(|url| !url.is_empty()),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            max_body_bytes: self.max_body_bytes,
            insecure_no_auth: self.insecure_no_auth,
            upstream_timeout_secs: self.upstream_timeout_secs,
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            access_log: self.access_log,
            workers: self.workers,
            max_connections: self.max_connections,
            body_budget_bytes: self.body_budget_bytes,
            shutdown_grace_secs: self.shutdown_grace_secs,
            master_key: self.master_key.clone(),
            admin_token: self.admin_token.clone(),
            gemini_api_key: self
                .gemini_api_key
                .clone()
                .filter(|key| !key.trim().is_empty())
                .or_else(|| std::env::var("GOOGLE_API_KEY").ok()),
            openai_api_key: self.openai_api_key.clone(),
            gemini_base_url: self.gemini_base_url.clone(),
            openai_base_url: self.openai_base_url.clone(),
            request_log_durability: self.request_log_durability,
        }
    }

    /// Loads the settings, or prints every problem.
    pub fn load(&self) -> Result<config::Settings, ExitCode> {
        let env = |name: &str| std::env::var(name).ok();
        config::load(self.config.as_deref(), &self.overrides(), &env).map_err(|problems| {
            let origin = self
                .config
                .as_ref()
                .map_or("configuration".to_string(), |p| p.display().to_string());
            for problem in &problems {
                eprintln!("{origin}: {problem}");
            }
            eprintln!("{} problem(s) found", problems.len());
            ExitCode::from(2)
        })
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// Log format: auto (text on a terminal, JSON otherwise), text or json.
    #[arg(long, env = "AIRLOCK_LOG_FORMAT", default_value = "auto")]
    pub log_format: logging::LogFormat,
    /// Export traces (GenAI semantic conventions) over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: ConfigSource,
}

#[derive(Args, Debug)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, env = "AIRLOCK_MOCK_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// Seed for the simulator's deterministic answers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Delay before the first streamed chunk (and before non-streamed answers), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub first_token_ms: u64,
    /// Delay between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub per_chunk_ms: u64,
    /// Realtime echo mode (for relay benchmarks): answer every input audio chunk of a Gemini Live or OpenAI Realtime session at once with the same audio, and nothing else.
    #[arg(long, env = "AIRLOCK_MOCK_LIVE_ECHO")]
    pub live_echo: bool,
    /// Log format: auto, text or json.
    #[arg(long, env = "AIRLOCK_LOG_FORMAT", default_value = "auto")]
    pub log_format: logging::LogFormat,
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Projects(command) => tenants::projects(command).await,
        Command::Keys(command) => tenants::keys(command).await,
        Command::Admins(command) => crate::admins::run(command).await,
        Command::Receipts(command) => crate::receipts::run(command).await,
        Command::Spend(args) => tenants::spend(args).await,
        Command::Audit(args) => tenants::audit(args).await,
        Command::Conversations(command) => conversations::run(command).await,
        Command::Pregen(args) => pregen::run(args).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Users(command) => users::run(command).await,
        Command::Health(args) => crate::health::run(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Mock(args) => {
            logging::init(args.log_format, true);
            mock::run(args).await
        }
        Command::Config(ConfigCommand::Check(args)) => match args.source.load() {
            Ok(settings) => {
                println!(
                    "configuration ok: listen {}, {} provider(s) ({}), {} route(s)",
                    settings.listen,
                    settings.providers.len(),
                    match settings.provider_source {
                        config::ProviderSource::File => "from the file",
                        config::ProviderSource::Environment => "from the environment",
                        config::ProviderSource::Simulator =>
                            "none: the built-in simulator will serve",
                    },
                    settings.routes.len()
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

/// `--request-log-durability`: `fast` or `durable`.
fn durability(text: &str) -> Result<LogDurability, String> {
    LogDurability::parse(text).ok_or_else(|| format!("`{text}` is not fast or durable"))
}
