//! The metadata database: one `Store` over SQLite or PostgreSQL.
//!
//! Both backends run the same queries through one generic code path; only the
//! migrations differ (they live in `migrations/{sqlite,postgres}`). SQL is
//! written with binds, never with string formatting of values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, Pool, Postgres, Sqlite};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL scheme (expected sqlite: or postgres:)")]
    UnsupportedUrl,
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("sealed data could not be opened: {0}")]
    Sealed(String),
    #[error("write-ahead log {path}: {source}")]
    Wal {
        path: String,
        source: std::io::Error,
    },
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Runs the same code on whichever pool the store holds; each arm is checked
/// against its own database type.
macro_rules! on_pool {
    ($pools:expr, $pool:ident => $body:expr) => {
        match $pools {
            $crate::database::Pools::Sqlite($pool) => $body,
            $crate::database::Pools::Postgres($pool) => $body,
        }
    };
}

pub(crate) use on_pool;

#[derive(Clone)]
pub(crate) enum Pools {
    Sqlite(Pool<Sqlite>),
    Postgres(Pool<Postgres>),
}

/// A migrated connection pool to the metadata database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pools: Pools,
    /// Seals user content at rest, when a data key is configured.
    pub(crate) sealer: Option<std::sync::Arc<crate::Sealer>>,
}

impl Store {
    /// Opens (creating if needed) `airlock.db` inside `data_dir`.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("airlock.db"))
            .create_if_missing(true);
        Self::open_sqlite(options).await
    }

    /// Opens a database by URL: `sqlite:PATH` or `postgres://...`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            let store = Store {
                pools: Pools::Postgres(pool),
                sealer: None,
            };
            store.build_rollups_once().await?;
            Ok(store)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
            Self::open_sqlite(options).await
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> Result<Store, StoreError> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            // A statement's rows come back to the caller through a channel
            // of this many: a full one stops SQLite's thread until the
            // caller's task runs again. The request log's batch inserts
            // return a row per record: at sqlx's default (50) its writer
            // crawled, its thread waiting on a busy runtime every 50 rows.
            .row_buffer_size(ROW_CHANNEL);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let store = Store {
            pools: Pools::Sqlite(pool),
            sealer: None,
        };
        store.build_rollups_once().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => pool.execute("SELECT 1").await.map(drop)?);
        Ok(())
    }

    /// Closes every connection; pending queries finish first.
    pub async fn close(&self) {
        on_pool!(&self.pools, pool => pool.close().await);
    }
}

/// Rows per INSERT statement, kept under SQLite's bind-parameter limit.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Rows cut into statements of few distinct sizes, so each size's
/// statement can stay prepared: whole [`ROWS_PER_STATEMENT`]s, then the
/// rest in powers of two (13 rows: 8, 4 and 1), at most ten sizes in all.
/// A batch of any other size would be a new statement to parse and plan.
pub(crate) fn prepared_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// The columns of a comma-separated list (what a row of it binds),
/// counted when compiled.
pub(crate) const fn column_count(columns: &str) -> usize {
    let columns = columns.as_bytes();
    let (mut commas, mut at) = (0, 0);
    while at < columns.len() {
        if columns[at] == b',' {
            commas += 1;
        }
        at += 1;
    }
    commas + 1
}

/// The text of an INSERT of `rows` rows into `table` (`columns` a
/// comma-separated list, `rest` what follows the values), in the
/// placeholder style of `DB` (`?` or `$1`): written once per engine, table,
/// ending and size and kept (few sizes: see [`prepared_chunks`]), so a batch
/// binds its values and formats no SQL.
pub(crate) fn insert_sql<DB: sqlx::Database>(
    table: &'static str,
    columns: &'static str,
    rest: &'static str,
    rows: usize,
) -> &'static str {
    type Written = HashMap<(&'static str, &'static str, &'static str, usize), &'static str>;
    static WRITTEN: LazyLock<Mutex<Written>> = LazyLock::new(Mutex::default);
    let numbered = DB::NAME == <Postgres as sqlx::Database>::NAME;
    let mut written = WRITTEN.lock().unwrap_or_else(PoisonError::into_inner);
    written
        .entry((DB::NAME, table, rest, rows))
        .or_insert_with(|| {
            let per_row = columns.split(',').count();
            let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
            for row in 0..rows {
                sql.push_str(if row == 0 { "(" } else { ", (" });
                for column in 0..per_row {
                    if column > 0 {
                        sql.push_str(", ");
                    }
                    if numbered {
                        sql.push_str(&format!("${}", row * per_row + column + 1));
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            sql.push_str(rest);
            Box::leak(sql.into_boxed_str())
        })
}

/// A JSON column's text. Only plain data (no maps with non-string keys) is
/// stored as JSON, and that always serialises.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises as JSON")
}

/// Reads a JSON column back; text that does not parse is corrupt data.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Rows a SQLite statement may have ready before its caller takes them:
/// a whole request-log batch's (see [`Store::open_sqlite`]).
const ROW_CHANNEL: usize = crate::log_writer::MAX_BATCH;

/// Text as stored: NUL, which PostgreSQL text cannot hold, becomes U+FFFD
/// (on either engine, so both store the same). Text without NUL (nearly
/// all) is bound as it is, uncopied.
pub(crate) fn text(value: &str) -> Cow<'_, str> {
    match value.contains('\0') {
        true => Cow::Owned(value.replace('\0', "\u{FFFD}")),
        false => Cow::Borrowed(value),
    }
}

pub(crate) fn optional_text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(rows: usize) -> Vec<usize> {
        let rows = vec![(); rows];
        prepared_chunks(&rows).map(<[()]>::len).collect()
    }

    #[test]
    fn insert_sql_numbers_postgres_placeholders_and_is_written_once() {
        let sqlite = insert_sql::<Sqlite>("t", "a, b", " ON CONFLICT (a) DO NOTHING", 2);
        assert_eq!(
            sqlite,
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING"
        );
        let postgres = insert_sql::<Postgres>("t", "a, b", "", 2);
        assert_eq!(postgres, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert!(std::ptr::eq(
            postgres,
            insert_sql::<Postgres>("t", "a, b", "", 2)
        ));
        let returning = insert_sql::<Postgres>("t", "a, b", " RETURNING a", 2);
        assert_eq!(
            returning,
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING a"
        );
    }

    #[test]
    fn prepared_chunks_cover_every_row_in_few_sizes() {
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(13), [8, 4, 1]);
        assert_eq!(sizes(500), [500]);
        assert_eq!(sizes(1013), [500, 500, 8, 4, 1]);
        let mut seen = std::collections::BTreeSet::new();
        for rows in 0..=1200 {
            let chunks = sizes(rows);
            assert_eq!(chunks.iter().sum::<usize>(), rows);
            seen.extend(chunks);
        }
        assert_eq!(seen.len(), 10, "sizes used: {seen:?}");
    }
}
