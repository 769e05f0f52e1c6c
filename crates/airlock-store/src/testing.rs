//! Test support (feature `test-support`): a fresh PostgreSQL database per
//! test, and what a durable log's write-ahead log holds.

use std::path::Path;

use serde::de::DeserializeOwned;
use sqlx::Connection;

/// Where the PostgreSQL tests expect the server when nothing else is said.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Creates a uniquely named database on the server named by
/// `AIRLOCK_TEST_POSTGRES_URL` and returns its URL. Without the variable it
/// panics, so a PostgreSQL test fails instead of passing without having run.
pub async fn fresh_postgres_database() -> String {
    let Ok(base) = std::env::var("AIRLOCK_TEST_POSTGRES_URL") else {
        panic!(
            "AIRLOCK_TEST_POSTGRES_URL is not set: this PostgreSQL test needs a server. \
             Set it, e.g. AIRLOCK_TEST_POSTGRES_URL={DEFAULT_POSTGRES_URL} \
             (./scripts/test.sh uses that default)"
        );
    };
    let name = format!("airlock_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to AIRLOCK_TEST_POSTGRES_URL");
    // The name is generated above from hex digits only; identifiers cannot be bound.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("AIRLOCK_TEST_POSTGRES_URL ends with a database name");
    format!("{prefix}/{name}")
}

/// The records a write-ahead log directory holds, oldest first (a damaged
/// tail dropped, as a replay drops it). A directory not there holds none.
pub fn wal_records<R: DeserializeOwned>(dir: &Path) -> Vec<R> {
    let Ok(segments) = crate::wal::list_segments(dir) else {
        return Vec::new();
    };
    segments
        .iter()
        .flat_map(|(_, path)| crate::wal::read_segment(path).unwrap_or_default())
        .collect()
}
