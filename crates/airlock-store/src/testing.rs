//! Test support (feature `test-support`): a fresh PostgreSQL database per test.

use sqlx::Connection;

/// Creates a uniquely named database on the server named by
/// `AIRLOCK_TEST_POSTGRES_URL` and returns its URL. Without the variable it
/// returns `None` so a local run can skip, but under `CI` it panics: there a
/// PostgreSQL test must fail, never skip.
pub async fn fresh_postgres_database() -> Option<String> {
    let Ok(base) = std::env::var("AIRLOCK_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "AIRLOCK_TEST_POSTGRES_URL must be set under CI"
        );
        eprintln!("AIRLOCK_TEST_POSTGRES_URL is not set: PostgreSQL test not run");
        return None;
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
    Some(format!("{prefix}/{name}"))
}
