//! What a backup needs of the database: a consistent copy of an SQLite
//! database taken while the gateway writes to it, and whether a database
//! already holds data (a restore onto it would mix two histories).
//! PostgreSQL is copied by its own `pg_dump`, run by the command line.

use std::path::Path;

use sqlx::Row;

use crate::database::{Pools, on_pool};
use crate::{Store, StoreError};

/// The tables whose rows make a database "in use".
const HOLDING_TABLES: [&str; 6] = [
    "projects",
    "api_keys",
    "request_log",
    "jobs",
    "files",
    "stored_responses",
];

impl Store {
    /// Writes a consistent copy of an SQLite database to `path` (which must
    /// not exist) with `VACUUM INTO`: one read transaction, so the gateway's
    /// writers go on while it runs. `StoreError::UnsupportedUrl` for
    /// PostgreSQL.
    pub async fn sqlite_snapshot(&self, path: &Path) -> Result<(), StoreError> {
        let Pools::Sqlite(pool) = &self.pools else {
            return Err(StoreError::UnsupportedUrl);
        };
        sqlx::query("VACUUM INTO ?")
            .bind(path.display().to_string())
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Whether any project, key, request record, job, file or stored
    /// response is in the database.
    pub async fn holds_data(&self) -> Result<bool, StoreError> {
        let checks: Vec<String> = HOLDING_TABLES
            .iter()
            .map(|table| format!("EXISTS (SELECT 1 FROM {table})"))
            .collect();
        let query = format!("SELECT ({}) AS held", checks.join(" OR "));
        let held: bool = on_pool!(&self.pools, pool => {
            sqlx::query(&query).fetch_one(pool).await?.try_get("held")?
        });
        Ok(held)
    }
}
