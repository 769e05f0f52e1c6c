//! The TOML configuration file's format. Unknown fields are errors, and the
//! fields that later checks complain about keep their position for line
//! numbers.

use airlock_gateway::end_user::IssuerConfig;
use airlock_providers::pricing::ModelPrice;
use airlock_store::QueuePolicy;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub providers: Vec<ProviderSection>,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// Budget alerts (50, 80 and 100 % of a budget) to a webhook.
    pub alerts: Option<AlertsSection>,
    /// Issuers whose JWTs name end users (`x-airlock-user-token`).
    #[serde(default)]
    pub end_user_issuers: Vec<IssuerConfig>,
    /// Price overrides and additions, by model name.
    #[serde(default)]
    pub prices: std::collections::BTreeMap<String, Spanned<ModelPrice>>,
    /// The realtime relay's limits and server-side tools.
    #[serde(default)]
    pub realtime: RealtimeSection,
    /// How failed provider calls are retried.
    #[serde(default)]
    pub retries: RetriesSection,
    /// When a provider's circuit opens.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerSection,
    /// How the request and session logs keep their records.
    #[serde(default)]
    pub request_log: RequestLogSection,
    /// Where generated media is stored and how it is handed out.
    #[serde(default)]
    pub media: MediaSection,
    /// The response cache's time to live and sizes.
    #[serde(default)]
    pub cache: CacheSection,
    /// What the Files APIs take unless a project says.
    #[serde(default)]
    pub files: FilesSection,
    /// How many background job items (batch requests, pre-generation)
    /// run at once.
    #[serde(default)]
    pub jobs: JobsSection,
    /// What logged content is redacted of, beyond personal data.
    #[serde(default)]
    pub content_log: ContentLogSection,
    /// Projects' data exported to the object store on a schedule.
    pub exports: Option<Spanned<ExportsSection>>,
    /// Backups written on a schedule, the newest few kept.
    pub backups: Option<Spanned<BackupsSection>>,
    /// The data key stored user content is sealed under at rest.
    pub encryption: Option<EncryptionSection>,
    /// Instances sharing limits, bans, tokens and change events in Redis.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// The receipts log: on or off, its signing key, origin and interval.
    #[serde(default)]
    pub receipts: ReceiptsSection,
}

/// `[cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// `redis://` or `rediss://`, or a secret reference (it may hold a password).
    pub redis_url: Option<Spanned<String>>,
    /// What every key and channel starts with.
    pub key_prefix: Option<Spanned<String>>,
    /// How long a dead instance's counts outlive its last heartbeat.
    pub lease_secs: Option<Spanned<u64>>,
    /// The longest a call to Redis may take.
    pub timeout_ms: Option<Spanned<u64>>,
    /// `local` or `refuse`.
    pub limits_when_redis_down: Option<Spanned<String>>,
    /// `refuse` or `local`.
    pub budgets_when_redis_down: Option<Spanned<String>>,
}

/// `[encryption]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSection {
    /// The current data key: a secret reference to base64 of 32 bytes.
    pub key: Spanned<String>,
    /// Keys rows may still be sealed under (until resealed).
    pub previous_keys: Option<Vec<Spanned<String>>>,
}

/// `[exports]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportsSection {
    /// How often, in hours.
    pub every_hours: Option<Spanned<u64>>,
    /// When periods start, `HH:MM` UTC.
    pub at: Option<Spanned<String>>,
    /// The projects exported (by name); unset: every project.
    pub projects: Option<Vec<String>>,
    /// The kinds of data exported.
    pub kinds: Option<Spanned<Vec<String>>>,
}

/// `[backups]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsSection {
    /// The folder each backup is written under.
    pub dir: Option<Spanned<String>>,
    /// How often, in hours.
    pub every_hours: Option<Spanned<u64>>,
    /// When periods start, `HH:MM` UTC.
    pub at: Option<Spanned<String>>,
    /// How many of the newest scheduled backups are kept.
    pub keep: Option<Spanned<u64>>,
}

/// `[content_log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentLogSection {
    /// Regular expressions whose matches are redacted from logged content.
    pub redact_patterns: Option<Spanned<Vec<String>>>,
}

/// `[jobs]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSection {
    /// Items running at once across all jobs.
    pub concurrency: Option<Spanned<u64>>,
    /// Items of one job running at once.
    pub per_job: Option<Spanned<u64>>,
}

/// `[files]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSection {
    /// The largest file, in megabytes.
    pub max_mb: Option<Spanned<u64>>,
    /// MIME types and patterns accepted (checked against sniffed types).
    pub accepted_types: Option<Spanned<Vec<String>>>,
}

/// `[cache]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// How long answers are kept unless a request, project or route says.
    pub ttl_secs: Option<Spanned<u64>>,
    /// Megabytes of answers held in memory.
    pub memory_mb: Option<Spanned<u64>>,
    /// Megabytes of answers stored in all (least recently used go first).
    pub max_mb: Option<Spanned<u64>>,
    /// Bodies over this many kilobytes go to the media object store.
    pub inline_kb: Option<Spanned<u64>>,
}

/// `[media]`. Fields a later check needs (required ones included) are
/// optional here, so each missing one is its own problem at its table's
/// line rather than serde's first missing field dropping the table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// `local` (the default), `s3`, `gcs` or `azure`.
    pub store: Option<Spanned<String>>,
    /// The local store's folder; under the data directory when relative.
    pub dir: Option<Spanned<String>>,
    /// `inline` (the default) or `url`.
    pub answer: Option<Spanned<String>>,
    pub url_ttl_secs: Option<Spanned<u64>>,
    /// The origin media URLs start with (a CDN's, say).
    pub public_url: Option<Spanned<String>>,
    /// Signs media URLs; a secret reference.
    pub signing_key: Option<Spanned<String>>,
    pub variant_widths: Option<Spanned<Vec<u32>>>,
    /// Hand out the cloud store's own pre-signed URLs.
    pub presigned: Option<Spanned<bool>>,
    pub s3: Option<Spanned<MediaS3Section>>,
    pub gcs: Option<Spanned<MediaGcsSection>>,
    pub azure: Option<Spanned<MediaAzureSection>>,
}

/// `[media.s3]`: a bucket on AWS S3 or an S3-compatible server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaS3Section {
    pub bucket: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    /// The server's URL (MinIO, SeaweedFS, R2, ...); AWS's when absent.
    pub endpoint: Option<Spanned<String>>,
    /// Secret references.
    pub access_key_id: Option<Spanned<String>>,
    pub secret_access_key: Option<Spanned<String>>,
    pub path_style: Option<bool>,
    pub allow_http: Option<bool>,
}

/// `[media.gcs]`: a Google Cloud Storage bucket.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaGcsSection {
    pub bucket: Option<Spanned<String>>,
    /// A secret reference to the service account's JSON key.
    pub service_account: Option<Spanned<String>>,
}

/// `[media.azure]`: an Azure Blob Storage container.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaAzureSection {
    pub account: Option<Spanned<String>>,
    pub container: Option<Spanned<String>>,
    /// A secret reference to the storage account's access key.
    pub access_key: Option<Spanned<String>>,
}

/// `[receipts]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsSection {
    /// Whether each request gets a receipt (on unless `false`).
    pub enabled: Option<bool>,
    /// A secret reference to a signed-note signer key named after the
    /// origin (`PRIVATE+KEY+…`); one is made in the data directory if not.
    pub signing_key: Option<Spanned<String>>,
    /// The log's name, the first line of its checkpoints.
    pub origin: Option<Spanned<String>>,
    /// How often a grown log is checkpointed, in milliseconds.
    pub checkpoint_interval_ms: Option<Spanned<u64>>,
    /// A second signer key that cosigns each checkpoint as a witness (C2SP
    /// tlog-cosignature); a secret reference.
    pub witness_key: Option<Spanned<String>>,
    /// Whether the log's tiles and checkpoints are copied to the media
    /// object store as it grows (off unless `true`).
    pub mirror: Option<bool>,
    /// How often the copy catches up, in seconds.
    pub mirror_interval_secs: Option<Spanned<u64>>,
    /// Checkpoints published to a webhook at an interval.
    pub anchor: Option<AnchorSection>,
}

/// `[receipts.anchor]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorSection {
    /// Where checkpoints are POSTed; may be a secret reference.
    pub webhook_url: Spanned<String>,
    /// Signs each POST (HMAC-SHA256); a secret reference.
    pub webhook_secret: Spanned<String>,
    /// Seconds between publications (default 60).
    pub interval_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLogSection {
    /// `fast` or `durable`.
    pub durability: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerSection {
    pub failures_to_open: Option<u32>,
    pub open_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetriesSection {
    pub max_retries: Option<u32>,
    pub base_delay_ms: Option<Spanned<u64>>,
    pub max_delay_ms: Option<Spanned<u64>>,
    pub budget_percent: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeSection {
    pub max_session_secs: Option<Spanned<u64>>,
    pub idle_timeout_secs: Option<Spanned<u64>>,
    pub max_sessions_per_key: Option<u32>,
    pub max_sessions_per_project: Option<u32>,
    pub max_frame_bytes: Option<Spanned<usize>>,
    /// 0: no limit.
    pub max_messages_per_sec: Option<u32>,
    pub drain_secs: Option<u64>,
    pub store_transcripts: Option<bool>,
    #[serde(default)]
    pub tools: Vec<ToolSection>,
}

/// A server-side tool: a function the model calls, answered by a webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSection {
    pub name: Spanned<String>,
    /// The project (by name) whose sessions may use it; all when absent.
    pub project: Option<String>,
    pub url: Spanned<String>,
    /// Signs each call (HMAC-SHA256); a secret reference.
    pub secret: Spanned<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<Spanned<String>>,
    /// A second address for `/metrics`, the probes and the admin API.
    pub admin_listen: Option<Spanned<String>>,
    pub data_dir: Option<String>,
    /// A database URL, or a secret reference to one (it may hold a password).
    pub database_url: Option<Spanned<String>>,
    pub max_body_bytes: Option<Spanned<usize>>,
    pub master_key: Option<Spanned<String>>,
    /// Opens the admin API (the master key does when this is absent).
    pub admin_token: Option<Spanned<String>>,
    pub insecure_no_auth: Option<bool>,
    pub upstream_timeout_secs: Option<u64>,
    /// One log line per request at INFO (on by default).
    pub access_log: Option<bool>,
    /// Threads serving requests.
    pub workers: Option<Spanned<usize>>,
    /// Refuse a client address for a while once it exceeds a request rate.
    pub ban: Option<Spanned<BanSection>>,
    /// Serve TLS with this certificate chain and private key (PEM files).
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// A request's headers must arrive within this.
    pub header_timeout_secs: Option<Spanned<u64>>,
    /// A connection with no request is closed after this.
    pub keep_alive_timeout_secs: Option<Spanned<u64>>,
    /// The longest pause in a request body...
    pub body_timeout_secs: Option<Spanned<u64>>,
    /// ...and its slowest average rate past that time (0: none).
    pub body_min_bytes_per_sec: Option<u64>,
    /// Connections open at once (default: from the open-files limit).
    pub max_connections: Option<Spanned<usize>>,
    /// Bytes of request bodies held at once (default: 4 × max_body_bytes).
    pub body_budget_bytes: Option<Spanned<usize>>,
    /// How long a graceful shutdown waits for open connections.
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// Where alerts are POSTed; may be a secret reference (it can carry a token).
    pub webhook_url: Spanned<String>,
    /// Signs each alert (HMAC-SHA256); a secret reference.
    pub webhook_secret: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanSection {
    /// Requests allowed within the window...
    pub requests: u64,
    pub window_secs: u64,
    /// ...before the address is refused for this long.
    pub ban_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub base_url: Option<Spanned<String>>,
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Route this kind's model families here (gemini-*, gpt-*, ...).
    pub default_routes: Option<bool>,
    /// A cap on requests in flight to this provider, with a bounded wait.
    pub queue: Option<QueuePolicy>,
    /// Its limits on a call (connect, first byte, idle gaps, total).
    pub timeouts: Option<Spanned<ProviderTimeoutsSection>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderTimeoutsSection {
    pub connect_secs: Option<u64>,
    pub first_byte_secs: Option<u64>,
    pub idle_secs: Option<u64>,
    pub total_secs: Option<u64>,
}

/// A route's limits, over its providers' (connections are the provider's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTimeoutsSection {
    pub first_byte_secs: Option<u64>,
    pub idle_secs: Option<u64>,
    pub total_secs: Option<u64>,
}

/// One provider serving a route's model, among several.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSection {
    pub provider: Spanned<String>,
    pub upstream_model: Option<Spanned<String>>,
    pub weight: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// An exact name (`fast`) or a prefix pattern (`llama-*`).
    pub model: Spanned<String>,
    /// The one provider serving it, or...
    pub provider: Option<Spanned<String>>,
    /// ...several, balanced.
    #[serde(default)]
    pub deployments: Vec<DeploymentSection>,
    /// `latency` (the default) or `weighted`.
    pub balance: Option<Spanned<String>>,
    pub upstream_model: Option<Spanned<String>>,
    pub timeouts: Option<Spanned<RouteTimeoutsSection>>,
    /// Models to try, in order, when this route's provider fails.
    #[serde(default)]
    pub fallbacks: Vec<Spanned<String>>,
    /// What makes it fall back (`errors`, `timeouts`, `rate_limits`,
    /// `context_length`, `content_filter`).
    pub fallback_on: Option<Spanned<Vec<String>>>,
    /// Keep its answers in the response cache.
    pub cache: Option<Spanned<bool>>,
    /// How long (else the cache's default).
    pub cache_ttl_secs: Option<Spanned<u64>>,
}
