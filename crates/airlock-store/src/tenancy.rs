//! Projects (tenants), their API keys, and the append-only audit log.
//!
//! Every change is one transaction that also appends its audit entry and
//! bumps `tenancy_version`, so an instance that polls the version knows when
//! to reload its in-memory copy. Keys are stored as SHA-256 digests with a
//! visible prefix; the secret itself is never stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::database::{from_json, on_pool, to_json};
use crate::{Store, StoreError};

/// Limits shared by projects and keys; `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (in + out) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Requests in flight (streams included) at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

/// A spending cap per calendar day or month (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub usd: f64,
    pub period: BudgetPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Month,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    #[serde(default)]
    pub limits: Limits,
    /// Limits for each end user (named by a verified token) of the project.
    #[serde(default, skip_serializing_if = "Limits::is_unlimited")]
    pub end_user_limits: Limits,
    /// Limits for each client IP address using the project's keys.
    #[serde(default, skip_serializing_if = "Limits::is_unlimited")]
    pub ip_limits: Limits,
    /// Web origins (`https://app.example.com`, or `https://*.example.com`)
    /// allowed to use the project's publishable keys and to call from a browser.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// A cap on the project's requests in flight upstream, with a bounded wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueuePolicy>,
    /// How much of a stored conversation (Responses API) is kept and sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<HistoryPolicy>,
    /// How answers carry generated media, unless a request says otherwise
    /// (`x-airlock-media`); unset: the gateway's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_answers: Option<MediaAnswers>,
    /// The response cache for the project's requests; unset: only
    /// requests that ask (`x-airlock-cache`) and cached routes use it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_null"
    )]
    pub cache: Option<ProjectCache>,
    /// What the project may upload through the Files APIs; unset: the
    /// gateway's `[files]` settings.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_null"
    )]
    pub files: Option<ProjectFiles>,
    /// Whether its requests' bodies and answers are logged (redacted)
    /// beside their records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_content: bool,
    /// Whether realtime transcripts are kept as spoken; by default personal
    /// data in them is redacted (as in logged content) before they are
    /// written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbatim_transcripts: bool,
    /// How long each kind of its users' data is kept; unset: for ever.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_null"
    )]
    pub retention: Option<Retention>,
    /// When each kind of its users' content leaves the database for the
    /// object store; unset: it stays in the database.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_null"
    )]
    pub archive: Option<Archive>,
    /// The principles its answers are held to; its digest is in every
    /// receipt of its requests.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_null"
    )]
    pub constitution: Option<crate::Constitution>,
}

/// Days after which a kind of a project's user content is moved from the
/// database to the object store, where exports and erasures still find it
/// (and retention still deletes it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Logged request and answer bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_days: Option<u32>,
    /// Realtime sessions' records and transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcripts_days: Option<u32>,
}

impl Archive {
    /// The kinds that can be archived.
    pub const KINDS: [crate::UserDataKind; 2] = [
        crate::UserDataKind::Content,
        crate::UserDataKind::Transcripts,
    ];

    /// The days `kind` stays in the database, if it is archived.
    pub fn days(&self, kind: crate::UserDataKind) -> Option<u32> {
        match kind {
            crate::UserDataKind::Content => self.content_days,
            crate::UserDataKind::Transcripts => self.transcripts_days,
            _ => None,
        }
    }
}

/// Days each kind of a project's user data is kept before a sweep deletes
/// it; an unset kind is kept for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Logged request and answer bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_days: Option<u32>,
    /// Request records (tokens, cost, status; no content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_log_days: Option<u32>,
    /// Realtime sessions' records and transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcripts_days: Option<u32>,
    /// Conversations and their items, counted from the last turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations_days: Option<u32>,
    /// Stored Responses API turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_days: Option<u32>,
    /// Uploaded files and their extracted text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_days: Option<u32>,
    /// Generated images and audio (and their resized variants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_days: Option<u32>,
}

impl Retention {
    /// The days `kind` is kept, if it has a bound (cached answers have
    /// their own time to live).
    pub fn days(&self, kind: crate::UserDataKind) -> Option<u32> {
        use crate::UserDataKind as Kind;
        match kind {
            Kind::Content => self.content_days,
            Kind::RequestLog => self.request_log_days,
            Kind::Transcripts => self.transcripts_days,
            Kind::Conversations => self.conversations_days,
            Kind::Responses => self.responses_days,
            Kind::Files => self.files_days,
            Kind::Media => self.media_days,
            Kind::Cache => None,
        }
    }
}

/// A project's uploads: the largest file (`max_bytes`) and the types it
/// accepts (`accepted_types`: MIME types and `image/*` patterns, checked
/// against each file's sniffed type), each unset one the gateway's; and
/// whether personal data is redacted from documents' text (`redact_pii`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_types: Option<Vec<String>>,
    /// Email addresses, phone numbers and card numbers redacted from
    /// documents' extracted text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redact_pii: bool,
}

/// A settings object, or nothing: serde would also read a struct from an
/// array of its fields in order (`[null, null]`), which no client means.
fn object_or_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        object @ Value::Object(_) => serde_json::from_value(object)
            .map(Some)
            .map_err(D::Error::custom),
        other => Err(D::Error::invalid_type(
            serde::de::Unexpected::Other(match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            }),
            &"an object",
        )),
    }
}

/// A project's response cache: on for its requests unless one says
/// `x-airlock-cache: bypass` (`enabled`, on by default when the setting
/// is given), how long answers are kept (`ttl_secs`; unset: the gateway's
/// default), and whether answers sampled at random (temperature above 0
/// and no seed) are kept too (`random`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectCache {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    #[serde(default)]
    pub random: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// How an answer carries its images and audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaAnswers {
    /// As the provider gave them: base64 in the answer.
    Inline,
    /// Stored, and given as signed URLs.
    Url,
}

/// A conversation's bounds: the history sent with a turn holds at most
/// `max_items` items and about `max_input_tokens` tokens (the oldest whole
/// turns are left out first); a conversation idle for `idle_ttl_secs`, or
/// older than `max_age_secs`, can no longer be continued. Unset: no bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ttl_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<u64>,
}

/// At most `max_in_flight` requests at once; up to `max_waiting` more wait
/// (at most `timeout_secs`) for a place; beyond that, requests are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuePolicy {
    pub max_in_flight: u32,
    #[serde(default)]
    pub max_waiting: u32,
    #[serde(default = "QueuePolicy::default_timeout_secs")]
    pub timeout_secs: u64,
}

impl QueuePolicy {
    fn default_timeout_secs() -> u64 {
        30
    }
}

impl Limits {
    pub fn is_unlimited(&self) -> bool {
        self == &Limits::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    #[serde(default)]
    pub limits: Limits,
    /// Model patterns the key may use (`gemini-*`, `fast`); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Operations the key may call (`chat.completions`, `generateContent`,
    /// `embeddings`, ...); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    /// Bounds of this key's conversations, in place of its project's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<HistoryPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub settings: ProjectSettings,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// For servers: full access within its scopes.
    Secret,
    /// For browsers and embedded widgets: accepted only from the project's
    /// allowed origins.
    Publishable,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }

    fn parse(text: &str) -> Result<KeyKind, StoreError> {
        match text {
            "secret" => Ok(KeyKind::Secret),
            "publishable" => Ok(KeyKind::Publishable),
            other => Err(StoreError::Corrupt(format!("unknown key kind {other}"))),
        }
    }
}

/// An API key as stored: its digest, never its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub project_id: String,
    pub kind: KeyKind,
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    #[serde(skip)]
    pub secret_sha256: String,
    pub settings: KeySettings,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// Who made a change, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub remote_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub remote_addr: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What one audit entry records.
pub(crate) struct Change<'a> {
    pub(crate) action: &'a str,
    pub(crate) target: &'a str,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const PROJECT_COLUMNS: &str = "id, name, settings, created_at_ms, updated_at_ms";
const KEY_COLUMNS: &str = "id, project_id, kind, name, prefix, secret_sha256, settings, created_at_ms, expires_at_ms, revoked_at_ms";

fn project_from_row<R: Row>(row: &R) -> Result<Project, StoreError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Ok(Project {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        settings: from_json(&row.try_get::<String, _>(2)?)?,
        created_at_ms: row.try_get(3)?,
        updated_at_ms: row.try_get(4)?,
    })
}

fn key_from_row<R: Row>(row: &R) -> Result<ApiKey, StoreError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Ok(ApiKey {
        id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        kind: KeyKind::parse(&row.try_get::<String, _>(2)?)?,
        name: row.try_get(3)?,
        prefix: row.try_get(4)?,
        secret_sha256: row.try_get(5)?,
        settings: from_json(&row.try_get::<String, _>(6)?)?,
        created_at_ms: row.try_get(7)?,
        expires_at_ms: row.try_get(8)?,
        revoked_at_ms: row.try_get(9)?,
    })
}

/// Appends the audit entry and bumps the version, inside the caller's transaction.
macro_rules! record_change {
    ($tx:expr, $actor:expr, $change:expr) => {{
        let change: Change<'_> = $change;
        let mut audit = QueryBuilder::new(
            "INSERT INTO audit_log (at_ms, actor, action, target, remote_addr, before, after) ",
        );
        audit.push_values([change], |mut row, change| {
            row.push_bind(now_ms())
                .push_bind($actor.name.clone())
                .push_bind(change.action.to_string())
                .push_bind(change.target.to_string())
                .push_bind($actor.remote_addr.clone())
                .push_bind(change.before.map(|v| v.to_string()))
                .push_bind(change.after.map(|v| v.to_string()));
        });
        audit.build().execute(&mut *$tx).await?;
        sqlx::query("UPDATE tenancy_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *$tx)
            .await?;
    }};
}

pub(crate) use record_change;

impl Store {
    /// Records an operator's change outside the tenancy tables (clearing
    /// the response cache, say) in the audit log.
    pub async fn record_audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        after: Value,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let change = Change {
                action,
                target,
                before: None,
                after: Some(after),
            };
            record_change!(tx, actor, change);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Bumped by every tenancy change.
    pub async fn tenancy_version(&self) -> Result<i64, StoreError> {
        let query = "SELECT version FROM tenancy_version WHERE id = 1";
        Ok(
            on_pool!(&self.pools, pool => sqlx::query_scalar::<_, i64>(query).fetch_one(pool).await?),
        )
    }

    pub async fn create_project(
        &self,
        name: &str,
        settings: &ProjectSettings,
        actor: &Actor,
    ) -> Result<Project, StoreError> {
        let now = now_ms();
        let project = Project {
            id: format!("proj_{}", uuid::Uuid::new_v4().simple()),
            name: name.to_string(),
            settings: settings.clone(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let after = serde_json::to_value(&project).ok();
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut insert = QueryBuilder::new(format!("INSERT INTO projects ({PROJECT_COLUMNS}) "));
            insert.push_values([&project], |mut row, p| {
                row.push_bind(p.id.clone())
                    .push_bind(p.name.clone())
                    .push_bind(to_json(&p.settings))
                    .push_bind(p.created_at_ms)
                    .push_bind(p.updated_at_ms);
            });
            insert.build().execute(&mut *tx).await.map_err(StoreError::from_write)?;
            record_change!(tx, actor, Change { action: "project.create", target: &project.name, before: None, after });
            tx.commit().await?;
        });
        Ok(project)
    }

    pub async fn update_project_settings(
        &self,
        name: &str,
        settings: &ProjectSettings,
        actor: &Actor,
    ) -> Result<Project, StoreError> {
        let before = self
            .project_by_name(name)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut after = before.clone();
        after.settings = settings.clone();
        after.updated_at_ms = now_ms();
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut update = QueryBuilder::new("UPDATE projects SET settings = ");
            update.push_bind(to_json(settings)).push(", updated_at_ms = ").push_bind(after.updated_at_ms);
            update.push(" WHERE id = ").push_bind(before.id.clone());
            update.build().execute(&mut *tx).await?;
            let change = Change {
                action: "project.update",
                target: name,
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
            };
            record_change!(tx, actor, change);
            tx.commit().await?;
        });
        Ok(after)
    }

    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects ORDER BY name");
        on_pool!(&self.pools, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(project_from_row).collect()
        })
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        self.project_where("name", name).await
    }

    pub async fn project_by_id(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.project_where("id", id).await
    }

    async fn project_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<Project>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE {column} = "));
            query.push_bind(value.to_string());
            let row = query.build().fetch_optional(pool).await?;
            row.as_ref().map(project_from_row).transpose()
        })
    }

    /// Stores a new key (the caller made the secret and keeps it).
    pub async fn create_key(
        &self,
        key: &ApiKey,
        project_name: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let after = serde_json::to_value(key).ok();
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut insert = QueryBuilder::new(format!("INSERT INTO api_keys ({KEY_COLUMNS}) "));
            insert.push_values([key], |mut row, k| {
                row.push_bind(k.id.clone())
                    .push_bind(k.project_id.clone())
                    .push_bind(k.kind.as_str())
                    .push_bind(k.name.clone())
                    .push_bind(k.prefix.clone())
                    .push_bind(k.secret_sha256.clone())
                    .push_bind(to_json(&k.settings))
                    .push_bind(k.created_at_ms)
                    .push_bind(k.expires_at_ms)
                    .push_bind(k.revoked_at_ms);
            });
            insert.build().execute(&mut *tx).await.map_err(StoreError::from_write)?;
            let target = format!("{project_name}/{}", key.id);
            record_change!(tx, actor, Change { action: "key.create", target: &target, before: None, after });
            tx.commit().await?;
        });
        Ok(())
    }

    /// Revokes a key; revoking a revoked key changes nothing and is not an error.
    pub async fn revoke_key(&self, id: &str, actor: &Actor) -> Result<ApiKey, StoreError> {
        let before = self.key_by_id(id).await?.ok_or(StoreError::NotFound)?;
        if before.revoked_at_ms.is_some() {
            return Ok(before);
        }
        let mut after = before.clone();
        after.revoked_at_ms = Some(now_ms());
        self.write_key_change(&before, after, "key.revoke", actor)
            .await
    }

    /// Replaces a key's settings (limits, scopes, conversation bounds).
    pub async fn update_key_settings(
        &self,
        id: &str,
        settings: &KeySettings,
        actor: &Actor,
    ) -> Result<ApiKey, StoreError> {
        let before = self.key_by_id(id).await?.ok_or(StoreError::NotFound)?;
        let mut after = before.clone();
        after.settings = settings.clone();
        self.write_key_change(&before, after, "key.update", actor)
            .await
    }

    /// Stores what may change of a key (its settings and revocation) with
    /// its audit entry, in one transaction.
    async fn write_key_change(
        &self,
        before: &ApiKey,
        after: ApiKey,
        action: &str,
        actor: &Actor,
    ) -> Result<ApiKey, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut update = QueryBuilder::new("UPDATE api_keys SET settings = ");
            update
                .push_bind(to_json(&after.settings))
                .push(", revoked_at_ms = ")
                .push_bind(after.revoked_at_ms)
                .push(" WHERE id = ")
                .push_bind(after.id.clone());
            update.build().execute(&mut *tx).await?;
            let change = Change {
                action,
                target: &after.id,
                before: serde_json::to_value(before).ok(),
                after: serde_json::to_value(&after).ok(),
            };
            record_change!(tx, actor, change);
            tx.commit().await?;
        });
        Ok(after)
    }

    pub async fn key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = "));
            query.push_bind(id.to_string());
            let row = query.build().fetch_optional(pool).await?;
            row.as_ref().map(key_from_row).transpose()
        })
    }

    /// Every key, or a project's keys, oldest first.
    pub async fn keys(&self, project_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {KEY_COLUMNS} FROM api_keys"));
            if let Some(project_id) = project_id {
                query.push(" WHERE project_id = ").push_bind(project_id.to_string());
            }
            query.push(" ORDER BY created_at_ms, id");
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(key_from_row).collect()
        })
    }

    /// Audit entries after `after_seq`, oldest first, at most `limit`.
    pub async fn audit_entries(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT seq, at_ms, actor, action, target, remote_addr, before, after FROM audit_log WHERE seq > ",
            );
            query.push_bind(after_seq).push(" ORDER BY seq LIMIT ").push_bind(limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
                    Ok(AuditEntry {
                        seq: row.try_get(0)?,
                        at_ms: row.try_get(1)?,
                        actor: row.try_get(2)?,
                        action: row.try_get(3)?,
                        target: row.try_get(4)?,
                        remote_addr: row.try_get(5)?,
                        before: json(row.try_get(6)?),
                        after: json(row.try_get(7)?),
                    })
                })
                .collect()
        })
    }
}

impl StoreError {
    /// A unique-constraint violation is a conflict the caller can report.
    fn from_write(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_objects_are_read_from_objects_and_never_from_arrays() {
        let read = |json: &str| serde_json::from_str::<ProjectSettings>(json);
        let settings =
            read(r#"{"files": {"max_bytes": 5, "redact_pii": true}, "cache": null}"#).unwrap();
        assert_eq!(
            settings.files,
            Some(ProjectFiles {
                max_bytes: Some(5),
                accepted_types: None,
                redact_pii: true
            })
        );
        assert_eq!(settings.cache, None);
        for wrong in [
            r#"{"files": [null, null]}"#,
            r#"{"cache": [true]}"#,
            r#"{"files": "x"}"#,
        ] {
            let error = read(wrong).unwrap_err().to_string();
            assert!(error.contains("expected an object"), "{wrong}: {error}");
        }
        assert!(read(r#"{"files": {"unknown": 1}}"#).is_err());
    }
}
