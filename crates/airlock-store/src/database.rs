//! The metadata database: one `Store` over SQLite or PostgreSQL.
//!
//! Both backends run the same queries through one generic code path; only the
//! migrations differ (they live in `migrations/{sqlite,postgres}`). SQL is
//! written with binds, never with string formatting of values.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Database, Executor, Pool, Postgres, QueryBuilder, Sqlite};

use crate::request_log::RequestRecord;

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
            Ok(Store {
                pools: Pools::Postgres(pool),
            })
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
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Store {
            pools: Pools::Sqlite(pool),
        })
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

    /// Appends a batch of request records in one statement (one commit).
    pub async fn insert_request_records(
        &self,
        records: &[RequestRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(format!("INSERT INTO request_log ({RECORD_COLUMNS}) "));
                push_record_values(&mut query, chunk);
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The most recent request records, newest first.
    pub async fn recent_request_records(
        &self,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM request_log ORDER BY started_at_ms DESC, id DESC LIMIT "
        );
        let records = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(sql);
            query.push_bind(limit);
            query.build_query_as::<RequestRecord>().fetch_all(pool).await?
        });
        Ok(records)
    }

    /// Closes every connection; pending queries finish first.
    pub async fn close(&self) {
        on_pool!(&self.pools, pool => pool.close().await);
    }
}

const RECORD_COLUMNS: &str = "id, started_at_ms, surface, operation, model, provider, upstream_model, \
     key_id, status, latency_us, ttft_us, tokens_in, tokens_out, streamed, outcome, \
     project_id, api_key_id, end_user, cost_usd";

/// Rows per INSERT statement, kept under SQLite's bind-parameter limit.
const ROWS_PER_STATEMENT: usize = 500;

fn push_record_values<DB>(query: &mut QueryBuilder<'_, DB>, records: &[RequestRecord])
where
    DB: Database,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i32: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<i64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<f64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query.push_values(records, |mut row, record| {
        row.push_bind(record.id.clone())
            .push_bind(record.started_at_ms)
            .push_bind(record.surface.clone())
            .push_bind(record.operation.clone())
            .push_bind(record.model.clone())
            .push_bind(record.provider.clone())
            .push_bind(record.upstream_model.clone())
            .push_bind(record.key_id.clone())
            .push_bind(i32::from(record.status))
            .push_bind(record.latency_us)
            .push_bind(record.ttft_us)
            .push_bind(record.tokens_in)
            .push_bind(record.tokens_out)
            .push_bind(record.streamed)
            .push_bind(record.outcome.clone())
            .push_bind(record.project_id.clone())
            .push_bind(record.api_key_id.clone())
            .push_bind(record.end_user.clone())
            .push_bind(record.cost_usd);
    });
    query.push(" ON CONFLICT (id) DO NOTHING");
}
