//! Airlock's persistent state.
//!
//! Owns every SQL statement in the project: the metadata database (SQLite on
//! embedded defaults, PostgreSQL in cluster mode), its migrations, and the
//! logs that batch records off the hot path: the request log (one record
//! per HTTP request) and the session log (one record per realtime session,
//! with its transcript), both through one writer pipeline, optionally
//! behind a write-ahead log on disk that makes each record durable before
//! the gateway answers. Also media: the bytes in object storage ([`Blobs`]:
//! a local folder, S3, GCS or Azure) and a record of each object in the
//! `media` table, written through the same pipeline; and uploaded files'
//! rows (`files`, `uploads`), their bytes in the same object store.
//! Must not know about HTTP, providers or surfaces: callers hand it plain
//! records.

mod admins;
mod backup;
mod blobs;
mod cache;
mod constitution;
mod content;
mod conversations;
mod database;
mod files;
#[doc(hidden)]
pub mod fuzzing;
mod jobs;
mod log_writer;
mod media;
mod receipts;
mod request_log;
mod request_search;
mod rollups;
mod sealing;
mod sessions;
mod spend;
mod stored_responses;
mod tenancy;
#[cfg(feature = "test-support")]
pub mod testing;
mod usage;
mod user_data;
mod wal;

pub use admins::{AdminRole, AdminSession, AdminUser};
pub use blobs::{
    AzureConfig, BlobError, BlobListing, BlobMeta, BlobObject, Blobs, BlobsConfig, GcsConfig,
    GcsCredentials, MAX_PRESIGNED_EXPIRY, S3Config,
};
pub use cache::{CacheEntry, CacheHits, CacheIndexEntry, CacheStats, RemovedEntry};
pub use constitution::{
    Constitution, ConstitutionJudge, ConstitutionRule, JudgePrinciple, RuleAction,
};
pub use content::RequestContent;
pub use conversations::{
    API_CONVERSATIONS, API_RESPONSES, ConversationItem, ConversationSummary, StoredConversation,
};
pub use database::{Backend, Store, StoreError};
pub use files::{
    FileListing, FileState, PartRefused, StoredFile, StoredUpload, UploadPart, UploadProtocol,
    UploadState,
};
pub use jobs::{
    JobItem, JobItemCounts, JobItemEnd, JobItemState, JobListing, JobRecord, JobState, NewJob,
};
pub use log_writer::{Appended, LogSender, LogWriter, LogWriterStats};
pub use media::{MediaKind, MediaLog, MediaLogWriter, MediaRecord};
pub use receipts::{ReceiptClaims, StoredCheckpoint, StoredReceipt, receipt_entry};
pub use request_log::{RequestLog, RequestLogWriter, RequestRecord};
pub use request_search::{RequestSearch, StatusFilter, UserSpend};
pub use rollups::{BUCKETS, Counts, Dimension, RollupRange, SPANS_S, Tally, quantile_ms};
pub use sealing::{SealedColumn, Sealer};
pub use sessions::{SessionFilter, SessionLog, SessionLogWriter, SessionRecord, TranscriptEntry};
pub use spend::{
    SpendFilter, SpendRow, SpendScope, day_start_ms, day_string, month_start_ms, total_cost_usd,
};
pub use stored_responses::StoredResponse;
pub use tenancy::{
    Actor, ApiKey, Archive, AuditEntry, Budget, BudgetPeriod, HistoryPolicy, KeyKind, KeySettings,
    Limits, MediaAnswers, Project, ProjectCache, ProjectFiles, ProjectSettings, QueuePolicy,
    Retention,
};
pub use usage::UsageDay;
pub use user_data::{
    AgeWindow, DataOwner, ErasureBatch, UserDataKind, UserDataPage, media_blob_key,
};
pub use wal::WalOptions;
