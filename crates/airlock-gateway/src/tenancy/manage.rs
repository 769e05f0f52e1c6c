//! Creating projects and keys: the checks and steps shared by the admin API
//! and the command line.

use airlock_store::{
    Actor, ApiKey, Archive, HistoryPolicy, KeyKind, KeySettings, Limits, Project, ProjectSettings,
    Store, StoreError,
};

use super::mint_key;
use crate::clock::now_ms;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    /// The request is valid but the state it acts on cannot take it.
    #[error("{0}")]
    Unfit(String),
    #[error(transparent)]
    Store(StoreError),
}

/// A key to create.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub kind: Option<KeyKind>,
    pub name: String,
    pub limits: Limits,
    /// Model patterns; empty means every model.
    pub models: Vec<String>,
    /// Operations; empty means every operation.
    pub operations: Vec<String>,
    /// Conversation bounds in place of the project's.
    pub conversations: Option<HistoryPolicy>,
    pub expires_at_ms: Option<i64>,
}

/// Limits must be positive and budgets finite and not negative.
pub fn validate_limits(limits: &Limits) -> Result<(), ManageError> {
    let invalid = |what: &str| {
        Err(ManageError::Invalid(format!(
            "{what} must be greater than zero"
        )))
    };
    if limits.rpm == Some(0) {
        return invalid("rpm");
    }
    if limits.tpm == Some(0) {
        return invalid("tpm");
    }
    if limits.max_concurrent == Some(0) {
        return invalid("max_concurrent");
    }
    if let Some(budget) = &limits.budget
        && !(budget.usd.is_finite() && budget.usd >= 0.0)
    {
        return Err(ManageError::Invalid(
            "budget usd must be a number of dollars, zero or more".into(),
        ));
    }
    Ok(())
}

/// Project names appear in paths and logs: letters, digits, `-`, `_`, `.`.
fn validate_project_name(name: &str) -> Result<(), ManageError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ManageError::Invalid(
            "project name must be 1-64 letters, digits, '-', '_' or '.'".into(),
        ))
    }
}

/// The fewest days a project may keep its request records: a monthly
/// budget's spend is summed from them.
pub const MIN_REQUEST_LOG_DAYS: u32 = 31;

/// The operations a key can be scoped to.
pub const OPERATIONS: &[&str] = &[
    "chat.completions",
    "responses",
    "embeddings",
    "models.list",
    "models.get",
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "embedContent",
    "batchEmbedContents",
    // Realtime sessions: Gemini Live and OpenAI Realtime.
    "bidiGenerateContent",
    "realtime",
    // Uploading, reading and deleting files (both Files APIs).
    "files",
    // Making, reading and cancelling batches (both Batch APIs).
    "batches",
];

/// Conversation bounds, when set, must be greater than zero.
fn validate_history_policy(policy: Option<HistoryPolicy>) -> Result<(), ManageError> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let bounds = [
        ("max_items", policy.max_items.map(u64::from)),
        ("max_input_tokens", policy.max_input_tokens),
        ("idle_ttl_secs", policy.idle_ttl_secs),
        ("max_age_secs", policy.max_age_secs),
    ];
    match bounds.iter().find(|(_, value)| *value == Some(0)) {
        Some((name, _)) => Err(ManageError::Invalid(format!(
            "conversations {name} must be greater than zero"
        ))),
        None => Ok(()),
    }
}

/// Upload bounds, when set: a file size above zero, and accepted types
/// that are MIME types or patterns.
fn validate_files(files: Option<&airlock_store::ProjectFiles>) -> Result<(), ManageError> {
    let Some(files) = files else {
        return Ok(());
    };
    if files.max_bytes == Some(0) {
        return Err(ManageError::Invalid(
            "files max_bytes must be greater than zero".into(),
        ));
    }
    if let Some(types) = &files.accepted_types {
        airlock_documents::AcceptedTypes::new(types)
            .map_err(|problem| ManageError::Invalid(format!("files accepted_types: {problem}")))?;
    }
    Ok(())
}

/// Limits of a whole project, and those of each end user and client address
/// in it; origins must be `http(s)://host[:port]`, the host a name (letters,
/// digits, `.`, `-`; IPv6 literals are not taken), optionally `*.` wildcards.
pub fn validate_settings(settings: &ProjectSettings) -> Result<(), ManageError> {
    if settings
        .queue
        .is_some_and(|queue| queue.max_in_flight == 0 || queue.timeout_secs == 0)
    {
        return Err(ManageError::Invalid(
            "queue max_in_flight and timeout_secs must be greater than zero".into(),
        ));
    }
    validate_history_policy(settings.conversations)?;
    validate_files(settings.files.as_ref())?;
    if let Some(constitution) = &settings.constitution {
        crate::constitution::Policy::compile(constitution)
            .map_err(|problem| ManageError::Invalid(format!("constitution: {problem}")))?;
    }
    if settings.archive.is_some_and(|archive| {
        Archive::KINDS
            .iter()
            .any(|kind| archive.days(*kind) == Some(0))
    }) {
        return Err(ManageError::Invalid(
            "archive days must be at least 1 (leave a kind out to keep it in the database)".into(),
        ));
    }
    if let Some(retention) = settings.retention {
        if airlock_store::UserDataKind::ALL
            .iter()
            .any(|kind| retention.days(*kind) == Some(0))
        {
            return Err(ManageError::Invalid(
                "retention days must be at least 1 (leave a kind out to keep it for ever)".into(),
            ));
        }
        // Budgets are summed from the request log: a month's spend must
        // outlive the month.
        if retention
            .request_log_days
            .is_some_and(|days| days < MIN_REQUEST_LOG_DAYS)
        {
            return Err(ManageError::Invalid(format!(
                "retention request_log_days must be at least {MIN_REQUEST_LOG_DAYS}: budgets and spend are summed from the request log"
            )));
        }
    }
    if let Some(ttl) = settings.cache.and_then(|cache| cache.ttl_secs)
        && !(1..=crate::cache::policy::MAX_TTL.as_secs()).contains(&ttl)
    {
        return Err(ManageError::Invalid(format!(
            "cache ttl_secs must be between 1 and {} (30 days)",
            crate::cache::policy::MAX_TTL.as_secs()
        )));
    }
    for origin in &settings.allowed_origins {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = rest.is_some_and(|host| {
            let host = host.strip_prefix("*.").unwrap_or(host);
            let (name, port) = host.split_once(':').unwrap_or((host, "1"));
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
        });
        if !valid {
            return Err(ManageError::Invalid(format!(
                "allowed origin `{origin}` must be like https://app.example.com or https://*.example.com"
            )));
        }
    }
    validate_limits(&settings.limits)?;
    for (what, limits) in [
        ("end_user_limits", &settings.end_user_limits),
        ("ip_limits", &settings.ip_limits),
    ] {
        validate_limits(limits)?;
        if limits.budget.is_some() {
            return Err(ManageError::Invalid(format!(
                "{what} cannot hold a budget: budgets are per project or key"
            )));
        }
    }
    Ok(())
}

pub async fn create_project(
    store: &Store,
    name: &str,
    settings: ProjectSettings,
    actor: &Actor,
) -> Result<Project, ManageError> {
    validate_project_name(name)?;
    validate_settings(&settings)?;
    store
        .create_project(name, &settings, actor)
        .await
        .map_err(|error| match error {
            StoreError::Conflict => ManageError::Conflict(format!("project {name}")),
            other => ManageError::Store(other),
        })
}

pub async fn update_project_settings(
    store: &Store,
    name: &str,
    settings: ProjectSettings,
    actor: &Actor,
) -> Result<Project, ManageError> {
    validate_settings(&settings)?;
    store
        .update_project_settings(name, &settings, actor)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ManageError::NotFound(format!("project {name}")),
            other => ManageError::Store(other),
        })
}

/// Creates a key in `project`; returns it with its secret, which is shown
/// this once and never stored.
/// Checks a key's scopes: model names or prefixes ending in `*`, and
/// known operations.
fn validate_scopes(models: &[String], operations: &[String]) -> Result<(), ManageError> {
    for pattern in models {
        let star = pattern.find('*');
        if pattern.is_empty() || star.is_some_and(|at| at != pattern.len() - 1) {
            return Err(ManageError::Invalid(format!(
                "model pattern `{pattern}` must be a name or a prefix ending in '*'"
            )));
        }
    }
    for operation in operations {
        if !OPERATIONS.contains(&operation.as_str()) {
            return Err(ManageError::Invalid(format!(
                "unknown operation `{operation}`; known: {}",
                OPERATIONS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Replaces a key's limits, scopes and conversation bounds (its kind,
/// name, secret and expiry stay).
pub async fn update_key_settings(
    store: &Store,
    id: &str,
    settings: KeySettings,
    actor: &Actor,
) -> Result<ApiKey, ManageError> {
    validate_limits(&settings.limits)?;
    validate_scopes(&settings.models, &settings.operations)?;
    validate_history_policy(settings.conversations)?;
    match store.update_key_settings(id, &settings, actor).await {
        Ok(key) => Ok(key),
        Err(StoreError::NotFound) => Err(ManageError::NotFound(format!("key {id}"))),
        Err(error) => Err(ManageError::Store(error)),
    }
}

pub async fn create_key(
    store: &Store,
    project: &str,
    new: NewKey,
    actor: &Actor,
) -> Result<(ApiKey, String), ManageError> {
    validate_limits(&new.limits)?;
    validate_scopes(&new.models, &new.operations)?;
    if new.expires_at_ms.is_some_and(|at| at <= now_ms()) {
        return Err(ManageError::Invalid("expiry must be in the future".into()));
    }
    let project = store
        .project_by_name(project)
        .await
        .map_err(ManageError::Store)?
        .ok_or_else(|| ManageError::NotFound(format!("project {project}")))?;
    let kind = new.kind.unwrap_or(KeyKind::Secret);
    if kind == KeyKind::Publishable && project.settings.allowed_origins.is_empty() {
        return Err(ManageError::Unfit(format!(
            "project {} has no allowed_origins: a publishable key would be usable from nowhere",
            project.name
        )));
    }
    validate_history_policy(new.conversations)?;
    let minted = mint_key(kind);
    let key = ApiKey {
        id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        project_id: project.id.clone(),
        kind,
        name: if new.name.is_empty() {
            "default".to_string()
        } else {
            new.name
        },
        prefix: minted.prefix,
        secret_sha256: minted.digest,
        settings: KeySettings {
            limits: new.limits,
            models: new.models,
            operations: new.operations,
            conversations: new.conversations,
        },
        created_at_ms: now_ms(),
        expires_at_ms: new.expires_at_ms,
        revoked_at_ms: None,
    };
    store
        .create_key(&key, &project.name, actor)
        .await
        .map_err(ManageError::Store)?;
    Ok((key, minted.secret))
}

pub async fn revoke_key(store: &Store, id: &str, actor: &Actor) -> Result<ApiKey, ManageError> {
    store
        .revoke_key(id, actor)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ManageError::NotFound(format!("key {id}")),
            other => ManageError::Store(other),
        })
}
