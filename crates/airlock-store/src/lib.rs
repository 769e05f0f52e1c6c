//! Airlock's persistent state.
//!
//! Owns every SQL statement in the project: the metadata database (SQLite on
//! embedded defaults, PostgreSQL in cluster mode), its migrations, and the
//! request-log pipeline that batches records off the request path.
//! Must not know about HTTP, providers or surfaces: callers hand it plain
//! records.

mod database;
mod request_log;
mod spend;
mod tenancy;
#[cfg(feature = "test-support")]
pub mod testing;

pub use database::{Backend, Store, StoreError};
pub use request_log::{LogWriterStats, RequestLog, RequestLogWriter, RequestRecord};
pub use spend::{SpendFilter, SpendRow, SpendScope, day_start_ms, day_string, month_start_ms};
pub use tenancy::{
    Actor, ApiKey, AuditEntry, Budget, BudgetPeriod, KeyKind, KeySettings, Limits, Project,
    ProjectSettings, QueuePolicy,
};
