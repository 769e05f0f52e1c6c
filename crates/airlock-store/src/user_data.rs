//! The inventory of user data: every table that can hold a person's data,
//! registered in one place ([`UserDataKind::ALL`]) with how its rows are
//! found by project and end user, which blobs they name, and how they are
//! deleted. An export reads each kind a page at a time
//! ([`Store::user_data_page`]); an erasure takes a batch of ids and the
//! blobs they name ([`Store::user_data_batch`]), so the caller can delete
//! the blobs before the rows that name them (a crash in between leaves rows
//! the next erasure finds again, never blobs nobody can find), then deletes
//! the rows ([`Store::delete_user_data`]).
//!
//! Rows are given as JSON objects of their columns (bytes as base64 under
//! `{column}_base64`, JSON held as text parsed), so a new column reaches
//! exports without a change here. Knows nothing of archives, jobs or HTTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sqlx::{Column, QueryBuilder, Row, TypeInfo};

use crate::database::on_pool;
use crate::{SealedColumn, Store, StoreError};

/// A kind of user data, as the inventory registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserDataKind {
    /// Request records (`request_log`).
    RequestLog,
    /// Logged request and answer bodies (`request_content`).
    Content,
    /// Realtime sessions' records and transcripts (`realtime_sessions`).
    Transcripts,
    /// Conversations and their items (`conversations`, `conversation_items`).
    Conversations,
    /// Stored Responses API turns (`stored_responses`).
    Responses,
    /// Uploaded files and their extracted text (`files`, and their blobs).
    Files,
    /// Generated images and audio (`media`, the blobs and their variants).
    Media,
    /// Cached answers made from the user's requests (`cache_entries`).
    Cache,
}

/// How a kind's rows are stored.
struct Table {
    name: &'static str,
    /// The column rows are identified and paged by.
    id: &'static str,
    /// Columns holding JSON as text, given parsed.
    json: &'static [&'static str],
    /// Columns naming a blob of the row's.
    blobs: &'static [&'static str],
    /// The column a row's age is read from, for retention.
    age: &'static str,
    /// A condition every listed row meets besides its owner.
    also: &'static str,
}

impl UserDataKind {
    /// Every kind, in the order exports list them.
    pub const ALL: [UserDataKind; 8] = [
        UserDataKind::RequestLog,
        UserDataKind::Content,
        UserDataKind::Transcripts,
        UserDataKind::Conversations,
        UserDataKind::Responses,
        UserDataKind::Files,
        UserDataKind::Media,
        UserDataKind::Cache,
    ];

    /// Its name, as exports and erasure reports say it.
    pub fn name(self) -> &'static str {
        match self {
            UserDataKind::RequestLog => "request_log",
            UserDataKind::Content => "content",
            UserDataKind::Transcripts => "transcripts",
            UserDataKind::Conversations => "conversations",
            UserDataKind::Responses => "responses",
            UserDataKind::Files => "files",
            UserDataKind::Media => "media",
            UserDataKind::Cache => "cache",
        }
    }

    /// The kind of a name, as [`UserDataKind::name`] gives it.
    pub fn parse(name: &str) -> Option<UserDataKind> {
        UserDataKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    fn table(self) -> Table {
        let plain = |name| Table {
            name,
            id: "id",
            json: &[],
            blobs: &[],
            age: "created_at_ms",
            also: "",
        };
        match self {
            UserDataKind::RequestLog => Table {
                age: "started_at_ms",
                ..plain("request_log")
            },
            UserDataKind::Content => plain("request_content"),
            UserDataKind::Transcripts => Table {
                json: &["transcript"],
                age: "started_at_ms",
                ..plain("realtime_sessions")
            },
            // A conversation is as old as its last turn.
            UserDataKind::Conversations => Table {
                json: &["metadata"],
                age: "updated_at_ms",
                ..plain("conversations")
            },
            UserDataKind::Responses => Table {
                json: &["input_items", "response"],
                ..plain("stored_responses")
            },
            UserDataKind::Files => Table {
                json: &["document"],
                blobs: &["blob_key", "text_key"],
                ..plain("files")
            },
            // Variants are made from an original, and go with it.
            UserDataKind::Media => Table {
                also: " AND source_id IS NULL",
                ..plain("media")
            },
            UserDataKind::Cache => Table {
                id: "key",
                json: &["usage"],
                blobs: &["blob_key"],
                ..plain("cache_entries")
            },
        }
    }
}

/// Rows by age (each kind's: a record's start, a conversation's last turn,
/// a row's creation): at or after `since_ms`, before `before_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgeWindow {
    pub since_ms: Option<i64>,
    pub before_ms: Option<i64>,
}

/// Whose data: one end user of a project, or (`end_user: None`) all a
/// project holds, whoever it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataOwner<'a> {
    pub project_id: &'a str,
    pub end_user: Option<&'a str>,
}

/// One page of a kind's rows, for an export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserDataPage {
    /// Each row's columns (a conversation's with its `items`).
    pub rows: Vec<Map<String, Value>>,
    /// The blobs the rows name.
    pub blobs: Vec<String>,
    /// Where the next page starts, when this one was full.
    pub next: Option<String>,
}

/// A batch of a kind's rows to erase: their ids, and the blobs they name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureBatch {
    pub ids: Vec<String>,
    pub blobs: Vec<String>,
}

/// Where a media record's bytes are kept: `media/{id}` for an original,
/// `variants/{id}` for a variant (whose id is `{original}/w{width}.{format}`).
pub fn media_blob_key(id: &str, is_variant: bool) -> String {
    match is_variant {
        true => format!("variants/{id}"),
        false => format!("media/{id}"),
    }
}

/// A row's columns as JSON values, text as it is stored (see
/// [`Store::finish_row`]).
macro_rules! row_json {
    ($row:expr) => {{
        let row = $row;
        let mut map = Map::new();
        for (index, column) in row.columns().iter().enumerate() {
            let name = column.name();
            let boolean = column
                .type_info()
                .name()
                .to_ascii_uppercase()
                .contains("BOOL");
            let value: Value = if boolean {
                row.try_get::<Option<bool>, _>(index)
                    .ok()
                    .flatten()
                    .map(Value::from)
            } else if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
                value.map(Value::from)
            } else if let Ok(value) = row.try_get::<Option<i32>, _>(index) {
                value.map(Value::from)
            } else if let Ok(value) = row.try_get::<Option<f64>, _>(index) {
                value.map(Value::from)
            } else if let Ok(value) = row.try_get::<Option<String>, _>(index) {
                value.map(Value::String)
            } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(index) {
                map.insert(
                    format!("{name}_base64"),
                    Value::from(STANDARD.encode(bytes)),
                );
                continue;
            } else {
                None
            }
            .unwrap_or(Value::Null);
            map.insert(name.to_string(), value);
        }
        map
    }};
}

/// The blob keys a row's JSON names, once each.
fn blobs_of(kind: UserDataKind, row: &Map<String, Value>, into: &mut Vec<String>) {
    let table = kind.table();
    let id = row.get(table.id).and_then(Value::as_str);
    let named = table
        .blobs
        .iter()
        .filter_map(|column| row.get(*column).and_then(Value::as_str));
    blob_keys(kind, id, named, into);
}

/// The blob keys of a row with `id` whose blob columns hold `named`, once
/// each (a media original's own key included).
fn blob_keys<'a>(
    kind: UserDataKind,
    id: Option<&str>,
    named: impl Iterator<Item = &'a str>,
    into: &mut Vec<String>,
) {
    let own = id
        .filter(|_| kind == UserDataKind::Media)
        .map(|id| media_blob_key(id, false));
    for key in named.map(String::from).chain(own) {
        if !into.contains(&key) {
            into.push(key);
        }
    }
}

impl Store {
    /// A page of `owner`'s rows of `kind`, by id, after `after`: at most
    /// `limit`.
    pub async fn user_data_page(
        &self,
        kind: UserDataKind,
        owner: DataOwner<'_>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<UserDataPage, StoreError> {
        self.user_data_window(kind, owner, AgeWindow::default(), after, limit)
            .await
    }

    /// A page of `owner`'s rows of `kind` whose age is in `window`, by id,
    /// after `after`: at most `limit` (a project's exports).
    pub async fn user_data_window(
        &self,
        kind: UserDataKind,
        owner: DataOwner<'_>,
        window: AgeWindow,
        after: Option<&str>,
        limit: u32,
    ) -> Result<UserDataPage, StoreError> {
        let table = kind.table();
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT * FROM {} WHERE ", table.name));
            push_selection(&mut query, &table, owner, window, after, limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(|row| row_json!(row)).collect::<Vec<_>>()
        });
        let mut rows = rows
            .into_iter()
            .map(|row| self.finish_row(table.name, table.json, row))
            .collect::<Result<Vec<_>, _>>()?;
        if kind == UserDataKind::Conversations {
            self.attach_items(&mut rows).await?;
        }
        let mut blobs = Vec::new();
        for row in &rows {
            blobs_of(kind, row, &mut blobs);
        }
        let full = rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let next = match full {
            true => rows
                .last()
                .and_then(|row| row.get(table.id))
                .and_then(Value::as_str)
                .map(String::from),
            false => None,
        };
        Ok(UserDataPage { rows, blobs, next })
    }

    /// A row as exports give it: sealed columns opened, JSON held as
    /// text parsed.
    fn finish_row(
        &self,
        table: &str,
        json: &[&str],
        mut row: Map<String, Value>,
    ) -> Result<Map<String, Value>, StoreError> {
        for (name, value) in row.iter_mut() {
            let Value::String(text) = value else {
                continue;
            };
            if let Some(column) = SealedColumn::of(table, name) {
                *text = self.unseal(column, std::mem::take(text))?;
            }
            if json.contains(&name.as_str())
                && let Ok(parsed) = serde_json::from_str::<Value>(text)
            {
                *value = parsed;
            }
        }
        Ok(row)
    }

    /// Gives each conversation row its items, in order.
    async fn attach_items(&self, rows: &mut [Map<String, Value>]) -> Result<(), StoreError> {
        for row in rows {
            let Some(id) = row.get("id").and_then(Value::as_str).map(String::from) else {
                continue;
            };
            let items = on_pool!(&self.pools, pool => {
                let mut query = QueryBuilder::new(
                    "SELECT * FROM conversation_items WHERE conversation_id = ",
                );
                query.push_bind(id).push(" ORDER BY position");
                let rows = query.build().fetch_all(pool).await?;
                rows.iter().map(|item| row_json!(item)).collect::<Vec<_>>()
            });
            let items = items
                .into_iter()
                .map(|item| {
                    Ok(Value::Object(self.finish_row(
                        "conversation_items",
                        &["item"],
                        item,
                    )?))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            row.insert("items".into(), Value::Array(items));
        }
        Ok(())
    }

    /// A batch of at most `limit` of `owner`'s rows of `kind` to erase, and
    /// the blobs they name (a media original's variants included).
    pub async fn user_data_batch(
        &self,
        kind: UserDataKind,
        owner: DataOwner<'_>,
        limit: u32,
    ) -> Result<ErasureBatch, StoreError> {
        self.batch_of(kind, owner, AgeWindow::default(), limit)
            .await
    }

    /// A batch of at most `limit` rows of `kind` of a project older than
    /// `before_ms` (by the kind's age: a conversation's last turn, a
    /// record's start, a row's creation), as [`Store::user_data_batch`]
    /// gives them, for retention.
    pub async fn user_data_expired(
        &self,
        kind: UserDataKind,
        project_id: &str,
        before_ms: i64,
        limit: u32,
    ) -> Result<ErasureBatch, StoreError> {
        let owner = DataOwner {
            project_id,
            end_user: None,
        };
        let window = AgeWindow {
            since_ms: None,
            before_ms: Some(before_ms),
        };
        self.batch_of(kind, owner, window, limit).await
    }

    async fn batch_of(
        &self,
        kind: UserDataKind,
        owner: DataOwner<'_>,
        window: AgeWindow,
        limit: u32,
    ) -> Result<ErasureBatch, StoreError> {
        // Only the ids and blob columns: a row is never opened (nor its
        // items read) to be deleted, so a value sealed under a key no
        // longer configured still goes.
        let table = kind.table();
        let columns: Vec<&str> = std::iter::once(table.id)
            .chain(table.blobs.iter().copied())
            .collect();
        let rows: Vec<Vec<Option<String>>> = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {} FROM {} WHERE ",
                columns.join(", "),
                table.name
            ));
            push_selection(&mut query, &table, owner, window, None, limit);
            let rows = query.build().fetch_all(pool).await?;
            let mut found = Vec::with_capacity(rows.len());
            for row in &rows {
                let values = (0..columns.len())
                    .map(|index| row.try_get::<Option<String>, _>(index))
                    .collect::<Result<Vec<_>, _>>()?;
                found.push(values);
            }
            found
        });
        let mut ids = Vec::with_capacity(rows.len());
        let mut blobs = Vec::new();
        for row in &rows {
            let id = row.first().cloned().flatten();
            let named = row.iter().skip(1).filter_map(Option::as_deref);
            blob_keys(kind, id.as_deref(), named, &mut blobs);
            ids.extend(id);
        }
        if kind == UserDataKind::Media && !ids.is_empty() {
            let variants: Vec<String> = on_pool!(&self.pools, pool => {
                let mut query = QueryBuilder::new("SELECT id FROM media WHERE source_id IN (");
                push_ids(&mut query, &ids);
                query.push(")");
                query.build_query_scalar().fetch_all(pool).await?
            });
            blobs.extend(variants.iter().map(|id| media_blob_key(id, true)));
        }
        Ok(ErasureBatch { ids, blobs })
    }

    /// Deletes rows of `kind` by id (a conversation's items, a media
    /// original's variants with them), in one transaction; how many rows of
    /// the kind went.
    pub async fn delete_user_data(
        &self,
        kind: UserDataKind,
        ids: &[String],
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let table = kind.table();
        let deleted = on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let children = match kind {
                UserDataKind::Conversations => {
                    Some("DELETE FROM conversation_items WHERE conversation_id IN (")
                }
                UserDataKind::Media => Some("DELETE FROM media WHERE source_id IN ("),
                _ => None,
            };
            if let Some(children) = children {
                let mut query = QueryBuilder::new(children);
                push_ids(&mut query, ids);
                query.push(")");
                query.build().execute(&mut *tx).await?;
            }
            if kind == UserDataKind::RequestLog {
                // The users' days these records counted in go with them.
                let mut query = QueryBuilder::new(
                    "DELETE FROM request_user_rollups WHERE (bucket_ms, project_id, end_user) IN \
                     (SELECT (started_at_ms / 86400000) * 86400000, COALESCE(project_id, ''), end_user \
                     FROM request_log WHERE end_user IS NOT NULL AND id IN (",
                );
                push_ids(&mut query, ids);
                query.push("))");
                query.build().execute(&mut *tx).await?;
            }
            let mut query = QueryBuilder::new(format!(
                "DELETE FROM {} WHERE {} IN (",
                table.name, table.id
            ));
            push_ids(&mut query, ids);
            query.push(")");
            let deleted = query.build().execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            deleted
        });
        Ok(deleted)
    }
}

/// The rows of `table` an owner holds in an age window, after `after`, in
/// id order, at most `limit`: what follows `WHERE `.
fn push_selection<'q, DB: sqlx::Database>(
    query: &mut QueryBuilder<'q, DB>,
    table: &Table,
    owner: DataOwner<'_>,
    window: AgeWindow,
    after: Option<&str>,
    limit: u32,
) where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    push_owner(query, owner);
    query.push(table.also);
    if let Some(since_ms) = window.since_ms {
        query
            .push(format!(" AND {} >= ", table.age))
            .push_bind(since_ms);
    }
    if let Some(before_ms) = window.before_ms {
        query
            .push(format!(" AND {} < ", table.age))
            .push_bind(before_ms);
    }
    if let Some(after) = after {
        query
            .push(format!(" AND {} > ", table.id))
            .push_bind(after.to_string());
    }
    query
        .push(format!(" ORDER BY {} LIMIT ", table.id))
        .push_bind(i64::from(limit));
}

/// `project_id = ? [AND end_user = ?]`.
fn push_owner<'q, DB: sqlx::Database>(query: &mut QueryBuilder<'q, DB>, owner: DataOwner<'_>)
where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .push("project_id = ")
        .push_bind(owner.project_id.to_string());
    if let Some(user) = owner.end_user {
        query.push(" AND end_user = ").push_bind(user.to_string());
    }
}

/// The ids as a list of bound values.
fn push_ids<'q, DB: sqlx::Database>(query: &mut QueryBuilder<'q, DB>, ids: &[String])
where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
    }
}
