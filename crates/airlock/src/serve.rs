//! `airlock serve`: builds the gateway from settings and runs it until
//! SIGTERM or Ctrl-C, then drains requests and flushes the request, session
//! and media logs.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use airlock_gateway::alerts::BudgetAlerts;
use airlock_gateway::cache::ResponseCache;
use airlock_gateway::end_user::JwtVerifier;
use airlock_gateway::files::Files;
use airlock_gateway::limits::{Bans, Limiter};
use airlock_gateway::media::{Media, MediaSettings};
use airlock_gateway::realtime::{RealtimeConfig, ServerTools, Sessions, SharedSessionCounts};
use airlock_gateway::receipts::Receipts;
use airlock_gateway::routing::{Deployment, ModelPattern, RouteRule, RouteTable, default_patterns};
use airlock_gateway::tenancy::Tenancy;
use airlock_gateway::{AppState, ClientAuth, GatewayConfig};
use airlock_mock::{MockConfig, RunningMock};
use airlock_providers::pricing::PriceTable;
use airlock_providers::{HttpClient, Provider, ProviderKind, Secret, Timeouts};
use airlock_store::{
    Blobs, BlobsConfig, MediaLog, MediaLogWriter, RequestLog, RequestLogWriter, SessionLog,
    SessionLogWriter, Store, StoreError, WalOptions,
};
use url::Url;

use crate::cli::ServeArgs;
use crate::config::{
    LogDurability, MediaConfig, ProviderSettings, ProviderSource, ReceiptsConfig, Settings,
};
use crate::{logging, media_key, receipts_key, telemetry};

/// Records the request log may hold before new ones are dropped.
const REQUEST_LOG_QUEUE: usize = 65_536;
/// Session records the session log may hold before new ones are dropped.
const SESSION_LOG_QUEUE: usize = 16_384;
/// Media records the media log may hold before new ones are dropped.
const MEDIA_LOG_QUEUE: usize = 16_384;
/// How often the store is asked whether projects or keys changed.
const TENANCY_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// In cluster mode changes arrive by pub/sub: the poll is a safety net.
const TENANCY_POLL_CLUSTERED: std::time::Duration = std::time::Duration::from_secs(10);
/// The key the built-in simulator is called with.
const SIMULATOR_KEY: &str = "airlock-simulator";

pub async fn run(args: ServeArgs) -> ExitCode {
    let mut settings = match args.source.load() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    logging::init(args.log_format, settings.access_log);
    let tracer_provider = match &args.otlp_endpoint {
        Some(endpoint) => match telemetry::start(endpoint).await {
            Ok(provider) => Some(provider),
            Err(message) => {
                eprintln!("airlock: {message}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let result = start(&mut settings).await;
    if let Some(provider) = tracer_provider {
        telemetry::stop(provider).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn start(settings: &mut Settings) -> Result<(), String> {
    // Before anything records a metric (the key pools register theirs when built).
    airlock_gateway::install_metrics_recorder();
    let simulator = match settings.provider_source {
        ProviderSource::Simulator => Some(start_simulator(settings).await?),
        _ => None,
    };
    let store = crate::tenants::open_store(settings).await?;
    let ((request_log, log_writer), (session_log, session_writer), (media_log, media_writer)) =
        start_logs(settings, &store)
            .await
            .map_err(|error| format!("cannot start the request log: {error}"))?;
    let media = open_media(settings, media_log)?;

    let http = HttpClient::new();
    let providers: Vec<Arc<Provider>> = settings
        .providers
        .iter()
        .map(|p| Arc::new(build_provider(p, &http)))
        .collect();
    let routes = route_table(settings, &providers);
    let tenancy = Tenancy::load(store.clone())
        .await
        .map_err(|error| format!("cannot load projects and keys: {error}"))?;
    let cluster = match &settings.cluster {
        Some(config) => Some(join_cluster(config).await?),
        None => None,
    };
    let _tenancy_watch = tenancy.watch(match cluster {
        Some(_) => TENANCY_POLL_CLUSTERED,
        None => TENANCY_POLL,
    });
    let _tenancy_events = cluster
        .as_ref()
        .map(|cluster| tenancy.share_changes(cluster.clone()));
    let mut auth = ClientAuth::new(
        settings.master_key.as_deref(),
        settings.admin_token.as_deref(),
        tenancy,
    );

    let prices = PriceTable::builtin().with_overrides(settings.prices.clone());
    let alerts = match &settings.alert_webhook {
        Some(webhook) => Some(BudgetAlerts::new(webhook.clone())?),
        None => None,
    };
    let pending_alerts = alerts.clone();
    let mut limiter = Limiter::new(store.clone(), alerts);
    let mut bans = settings.ban.clone().map(Bans::new);
    if let (Some(cluster), Some(config)) = (&cluster, &settings.cluster) {
        auth = auth.shared_tokens(cluster.clone());
        limiter = limiter.shared(cluster.clone(), config.policy);
        bans = bans.map(|bans| bans.shared(cluster.clone()));
    }
    let end_users = match settings.end_user_issuers.as_slice() {
        [] => None,
        issuers => {
            let verifier = JwtVerifier::new(issuers.to_vec())?;
            // Fetch the issuers' keys now so the first requests need not wait.
            let prefetching = verifier.clone();
            tokio::spawn(async move { prefetching.prefetch().await });
            Some(verifier)
        }
    };
    let tls = match &settings.tls {
        Some(files) => Some(airlock_gateway::tls::server_config(
            &files.cert,
            &files.key,
        )?),
        None => None,
    };
    let realtime = RealtimeConfig {
        policy: settings.realtime.clone(),
        tools: Arc::new(ServerTools::new(settings.realtime_tools.clone())?),
        session_log,
        sessions: Arc::new(match (&cluster, &settings.cluster) {
            (Some(cluster), Some(config)) => Sessions::shared(SharedSessionCounts::new(
                cluster.clone(),
                config.policy.limits,
            )),
            _ => Sessions::default(),
        }),
    };
    let server_policy = server_policy(settings, raise_open_files_limit());
    let listeners = airlock_gateway::Listeners::bind(settings.listen, settings.workers)
        .map_err(|error| format!("cannot listen on {}: {error}", settings.listen))?;
    let local_addr = listeners.local_addr();
    let admin_listener = match settings.admin_listen {
        Some(addr) => Some(bind_admin(addr)?),
        None => None,
    };
    let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    print_banner(
        settings,
        (local_addr, admin_addr),
        &store,
        simulator.as_ref(),
        tls.is_some(),
    );

    let cache = ResponseCache::open(store.clone(), Some(media.blobs().clone()), settings.cache)
        .await
        .map_err(|error| format!("cannot open the response cache: {error}"))?;
    let files = Files::open(store.clone(), media.blobs().clone(), settings.files.clone());
    let receipts = match &settings.receipts {
        Some(config) => Some(Arc::new(open_receipts(
            settings,
            config,
            &store,
            media.blobs(),
        )?)),
        None => None,
    };
    let state = AppState::new(GatewayConfig {
        providers,
        routes,
        auth,
        max_body_bytes: settings.max_body_bytes,
        store: store.clone(),
        request_log,
        limiter,
        prices,
        provider_queues: settings
            .providers
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.queue?)))
            .collect(),
        bans,
        end_users,
        realtime,
        retries: settings.retries,
        breaker: settings.breaker,
        server: server_policy,
        media: Some(Arc::new(media)),
        cache: Some(Arc::new(cache)),
        files: Some(files),
        content_redactor: settings.content_redactor.clone(),
        receipts: receipts.clone(),
    });
    let backups = settings.backups.clone().map(|schedule| {
        Arc::new(crate::scheduled_backup::ScheduledBackups::new(
            Arc::new(settings.clone()),
            schedule,
        ))
    });
    let extra_kinds: Vec<Arc<dyn airlock_jobs::JobKind>> = match &backups {
        Some(backups) => vec![backups.clone()],
        None => Vec::new(),
    };
    let jobs = airlock_gateway::jobs::start_runner(&state, settings.jobs, extra_kinds)
        .await
        .map_err(|error| format!("cannot start the job runner: {error}"))?;
    // A new data key: what older keys sealed is resealed in the background.
    if let Some(job) = airlock_gateway::user_data::reseal::submit_if_needed(&jobs, &store)
        .await
        .map_err(|error| format!("cannot start resealing under the new data key: {error}"))?
    {
        tracing::info!(%job, "resealing stored user content under the current data key");
    }
    let running_receipts = receipts.as_ref().map(Receipts::start);
    let retention = airlock_gateway::retention::spawn(state.clone());
    let recurring = airlock_gateway::jobs::spawn_recurring(
        state.clone(),
        settings.exports.clone(),
        backups.iter().map(|backups| backups.recurring()).collect(),
    );
    let served =
        airlock_gateway::serve(listeners, admin_listener, state, tls, shutdown_signal()).await;
    // The sweep and the recurring loop hold the state (and so the logs'
    // senders): gone before the logs are flushed.
    for task in [retention, recurring] {
        task.abort();
        let _ = task.await;
    }
    // Items in flight finish (within the runner's grace); the rest resume
    // at the next start.
    match Arc::try_unwrap(jobs) {
        Ok(jobs) => jobs.shutdown().await,
        Err(jobs) => drop(jobs),
    }
    tracing::info!("stopped accepting; flushing the request, session and media logs");
    log_writer.finish().await;
    session_writer.finish().await;
    media_writer.finish().await;
    // The last records' receipts are in the log: a checkpoint covers them.
    if let Some(running) = running_receipts
        && let Err(error) = running.finish().await
    {
        tracing::warn!(%error, "the final receipts checkpoint failed; the next start signs one");
    }
    if let Some(alerts) = pending_alerts {
        // Bounded: a dead webhook must not hold shutdown for long.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), alerts.flush()).await;
    }
    store.close().await;
    if let Some(simulator) = simulator {
        simulator.shutdown().await;
    }
    served.map_err(|error| format!("server error: {error}"))
}

/// The receipts log, signed with the configured key or the one kept in
/// the data directory (made on first use), and copied to the media
/// object store when `mirror = true`.
fn open_receipts(
    settings: &Settings,
    config: &ReceiptsConfig,
    store: &airlock_store::Store,
    blobs: &airlock_store::Blobs,
) -> Result<Receipts, String> {
    let signer = match &config.signing_key {
        Some(text) => receipts_key::parse(text, &config.origin)
            .map_err(|error| format!("[receipts] signing_key: {error}"))?,
        None => receipts_key::load_or_create(
            &settings.data_dir.join(receipts_key::FILE_NAME),
            &config.origin,
        )?,
    };
    let mut receipts = Receipts::new(store.clone(), signer, config.checkpoint_interval);
    if let Some(text) = &config.witness_key {
        let witness = airlock_receipts::CosignerKey::parse(text)
            .map_err(|error| format!("[receipts] witness_key: {error}"))?;
        receipts = receipts.with_witness(witness);
    }
    if let Some(anchor) = &config.anchor {
        let anchor =
            airlock_gateway::receipts::Anchor::new(&anchor.url, &anchor.secret, anchor.interval)
                .map_err(|error| format!("[receipts.anchor] {error}"))?;
        receipts = receipts.with_anchor(anchor);
    }
    if let Some(interval) = config.mirror {
        let mirror = airlock_gateway::receipts::Mirror::new(blobs.clone(), interval);
        receipts = receipts.with_mirror(mirror);
    }
    Ok(receipts)
}

/// The admin listener's socket.
fn bind_admin(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|error| format!("cannot listen on {addr} (admin listener): {error}"))?;
    Ok(listener)
}

/// Connects to the cluster's Redis and starts this instance's heartbeat.
/// A Redis that does not answer yet is reported, not fatal: requests meet
/// the failure policy until it does.
async fn join_cluster(
    config: &crate::config::ClusterConfig,
) -> Result<Arc<airlock_cluster::Cluster>, String> {
    // `rediss://` connects with rustls.
    airlock_providers::install_crypto_provider();
    let cluster = airlock_cluster::Cluster::new(&config.settings)
        .map_err(|error| format!("cannot use cluster.redis_url: {error}"))?;
    match cluster.start_heartbeat().await {
        Ok(()) => tracing::info!(
            instance = cluster.instance(),
            prefix = %config.settings.key_prefix,
            "cluster mode: limits, bans, tokens and changes shared in Redis"
        ),
        Err(error) => {
            tracing::error!(%error, "cluster mode: Redis does not answer yet; requests follow the failure policy until it does")
        }
    }
    Ok(cluster)
}

/// The request, session and media logs. Durable logs first replay what
/// their write-ahead logs (`<data_dir>/wal/`) hold into the database; fast
/// ones replay what a durable run left there, then do without.
async fn start_logs(
    settings: &Settings,
    store: &Store,
) -> Result<
    (
        (RequestLog, RequestLogWriter),
        (SessionLog, SessionLogWriter),
        (MediaLog, MediaLogWriter),
    ),
    StoreError,
> {
    let wal_dir = |log: &str| settings.data_dir.join("wal").join(log);
    match settings.request_log_durability {
        LogDurability::Fast => {
            RequestLogWriter::replay_wal(store, &wal_dir("requests")).await?;
            SessionLogWriter::replay_wal(store, &wal_dir("sessions")).await?;
            MediaLogWriter::replay_wal(store, &wal_dir("media")).await?;
            Ok((
                RequestLogWriter::start(store.clone(), REQUEST_LOG_QUEUE),
                SessionLogWriter::start(store.clone(), SESSION_LOG_QUEUE),
                MediaLogWriter::start(store.clone(), MEDIA_LOG_QUEUE),
            ))
        }
        LogDurability::Durable => {
            // Records that arrive during a sync are the next group: no linger.
            let wal = |log: &str| WalOptions {
                dir: wal_dir(log),
                linger: Duration::ZERO,
            };
            Ok((
                RequestLogWriter::start_durable(store.clone(), REQUEST_LOG_QUEUE, wal("requests"))
                    .await?,
                SessionLogWriter::start_durable(store.clone(), SESSION_LOG_QUEUE, wal("sessions"))
                    .await?,
                MediaLogWriter::start_durable(store.clone(), MEDIA_LOG_QUEUE, wal("media")).await?,
            ))
        }
    }
}

async fn start_simulator(settings: &mut Settings) -> Result<RunningMock, String> {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
    let simulator = airlock_mock::spawn(addr, MockConfig::default())
        .await
        .map_err(|error| format!("cannot start the built-in simulator: {error}"))?;
    for (kind, base_url) in [
        (ProviderKind::Gemini, simulator.gemini_base_url()),
        (ProviderKind::Openai, simulator.openai_base_url()),
    ] {
        settings.providers.push(ProviderSettings {
            name: kind.name().to_string(),
            kind,
            base_url: Url::parse(&base_url).map_err(|error| format!("simulator URL: {error}"))?,
            keys: vec![SIMULATOR_KEY.to_string()],
            default_routes: true,
            queue: None,
            timeouts: Timeouts::waiting(settings.upstream_timeout),
        });
    }
    Ok(simulator)
}

/// Media storage: the configured store opened (a local folder is
/// created), URLs signed with the configured key or the data directory's.
fn open_media(settings: &Settings, log: MediaLog) -> Result<Media, String> {
    let config = &settings.media;
    let blobs = Blobs::open(&config.blobs).map_err(|error| {
        format!(
            "cannot open the {} media store: {error}",
            config.blobs.backend_name()
        )
    })?;
    let signing_key = match &config.signing_key {
        Some(key) => key.clone(),
        None => media_key::load_or_create(&settings.data_dir.join(media_key::FILE_NAME))?,
    };
    let media_settings = MediaSettings {
        url_ttl: config.url_ttl,
        public_url: config.public_url.clone(),
        urls_by_default: config.urls_by_default,
        variant_widths: config.variant_widths.clone(),
        presigned: config.presigned,
    };
    Ok(Media::new(
        blobs,
        signing_key.as_bytes(),
        media_settings,
        log,
    ))
}

fn build_provider(settings: &ProviderSettings, http: &HttpClient) -> Provider {
    let keys = settings.keys.iter().map(Secret::new).collect();
    Provider::new(
        &settings.name,
        settings.kind,
        settings.base_url.clone(),
        keys,
        http,
        settings.timeouts,
    )
}

/// Configured routes first, then each provider's default model families.
fn route_table(settings: &Settings, providers: &[Arc<Provider>]) -> RouteTable {
    let by_name = |name: &str| providers.iter().find(|p| p.name() == name).cloned();
    let mut rules = Vec::new();
    for route in &settings.routes {
        let deployments: Option<Vec<Deployment>> = route
            .deployments
            .iter()
            .map(|deployment| {
                Some(Deployment {
                    provider: by_name(&deployment.provider)?,
                    upstream_model: deployment.upstream_model.clone(),
                    weight: deployment.weight,
                })
            })
            .collect();
        if let Some(deployments) = deployments.filter(|d| !d.is_empty()) {
            rules.push(RouteRule {
                pattern: ModelPattern::parse(&route.model),
                deployments,
                balance: route.balance,
                upstream_model: route.upstream_model.clone(),
                timeouts: route.timeouts,
                fallbacks: route.fallbacks.clone().map(Arc::new),
                cache: route.cache,
            });
        }
    }
    for (provider_settings, provider) in settings.providers.iter().zip(providers) {
        if provider_settings.default_routes {
            for pattern in default_patterns(provider_settings.kind) {
                rules.push(RouteRule::to(pattern, provider.clone(), None));
            }
        }
    }
    RouteTable::new(rules)
}

/// Each realtime session holds two sockets: lift the soft limit on open
/// files to the hard one, as servers holding many connections do. The
/// limit in force, when it can be read.
fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The settings' server policy, with the connection cap derived from the
/// open-files limit when none is configured; a configured cap the limit
/// cannot hold is served, with a warning.
fn server_policy(settings: &Settings, open_files: Option<u64>) -> airlock_gateway::ServerPolicy {
    let mut policy = settings.server_policy.clone();
    let derived = open_files.map(airlock_gateway::cap_for_descriptor_limit);
    match (policy.max_connections, derived) {
        (None, _) => policy.max_connections = derived,
        (Some(cap), Some(safe)) if cap > safe => tracing::warn!(
            cap,
            open_files,
            "max_connections is high for the open-files limit: accepting may fail for want of descriptors"
        ),
        _ => {}
    }
    tracing::debug!(
        open_files,
        max_connections = policy.max_connections,
        "connection cap"
    );
    policy
}

fn print_banner(
    settings: &Settings,
    (addr, admin_addr): (SocketAddr, Option<SocketAddr>),
    store: &Store,
    simulator: Option<&RunningMock>,
    tls: bool,
) {
    let scheme = if tls { "https" } else { "http" };
    let mut lines = vec![
        format!(
            "Airlock {} listening on {scheme}://{addr}",
            env!("CARGO_PKG_VERSION")
        ),
        format!("  OpenAI SDK base_url:       {scheme}://{addr}/v1"),
        format!("  google-genai base_url:     {scheme}://{addr}"),
        format!(
            "  state: {} ({})",
            store.backend().name(),
            match &settings.database_url {
                Some(_) => "database URL".to_string(),
                None => settings.data_dir.display().to_string(),
            }
        ),
        format!(
            "  client key: {}",
            if settings.master_key.is_some() {
                "required (AIRLOCK_MASTER_KEY)"
            } else {
                "not required (loopback only)"
            }
        ),
    ];
    if let Some(admin) = admin_addr {
        lines.push(format!(
            "  admin API, /metrics and probes: http://{admin} (not on {addr})"
        ));
    }
    if let Some(cluster) = &settings.cluster {
        lines.push(format!(
            "  cluster mode: shared state in Redis under `{}:`",
            cluster.settings.key_prefix
        ));
    }
    lines.push(media_banner(settings));
    for provider in &settings.providers {
        lines.push(match simulator {
            Some(_) => format!(
                "  provider {} ({}): the built-in simulator",
                provider.name,
                provider.kind.name()
            ),
            None => format!(
                "  provider {} ({}): {} with {} key(s)",
                provider.name,
                provider.kind.name(),
                provider.base_url,
                provider.keys.len()
            ),
        });
    }
    if let Some(simulator) = simulator {
        lines.push(String::new());
        lines.push(
            "  !!! NO PROVIDER KEY CONFIGURED: SERVING THE BUILT-IN SIMULATOR !!!".to_string(),
        );
        lines.push(format!(
            "  !!! Answers are simulated (simulator on http://{}).",
            simulator.addr
        ));
        lines.push(
            "  !!! Set GEMINI_API_KEY and/or OPENAI_API_KEY (or a config file) for real models."
                .to_string(),
        );
    }
    if settings.insecure_no_auth && settings.master_key.is_none() && !addr.ip().is_loopback() {
        lines.push(
            "  !!! --insecure-no-auth: anyone who can reach this port can use your providers."
                .to_string(),
        );
    }
    eprintln!("{}", lines.join("\n"));
    tracing::info!(%addr, simulator = simulator.is_some(), "airlock started");
}

/// The banner's media line: the store and where, how answers carry media,
/// and where the signing key comes from; never a secret.
fn media_banner(settings: &Settings) -> String {
    let media: &MediaConfig = &settings.media;
    let place = match &media.blobs {
        BlobsConfig::Local { root, .. } => root.display().to_string(),
        BlobsConfig::S3(s3) => match &s3.endpoint {
            Some(endpoint) => format!("bucket {} at {endpoint}", s3.bucket),
            None => format!("bucket {} in {}", s3.bucket, s3.region),
        },
        BlobsConfig::Gcs(gcs) => format!("bucket {}", gcs.bucket),
        BlobsConfig::Azure(azure) => {
            format!("account {}, container {}", azure.account, azure.container)
        }
    };
    let answers = match media.urls_by_default {
        true => "as URLs",
        false => "inline",
    };
    let urls = match media.presigned {
        true => "pre-signed by the store",
        false => "signed",
    };
    let key = match media.signing_key {
        Some(_) => "from the configuration".to_string(),
        None => settings
            .data_dir
            .join(media_key::FILE_NAME)
            .display()
            .to_string(),
    };
    format!(
        "  media: {} ({place}); answers {answers}; URLs {urls} for {} s, key {key}",
        media.blobs.backend_name(),
        media.url_ttl.as_secs()
    )
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
