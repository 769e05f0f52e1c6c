//! `airlock backup` and `airlock restore`: a consistent copy of everything
//! Airlock keeps, taken while it serves, and brought back on a fresh data
//! directory or database (see `docs/backups.md`).
//!
//! A backup is a folder:
//! - `wal/{requests,sessions,media}/`: the durable logs' write-ahead
//!   segments, copied first: a record acknowledged before the backup began
//!   is then in these copies or, if its segment was already gone, in the
//!   database, which is copied after;
//! - `airlock.db` (SQLite, `VACUUM INTO`: one read transaction, writers go
//!   on) or `airlock.pgdump` (PostgreSQL's `pg_dump --format=custom`, one
//!   snapshot);
//! - `media-manifest.jsonl`: every object of the media store (key, size),
//!   listed after the database, so every object a copied row names was
//!   there; `media/` holds the objects themselves for the local store (an
//!   S3, GCS or Azure store keeps its own, and its manifest says what the
//!   backup saw);
//! - `media-signing.key`, when the data directory has the generated one;
//! - `manifest.json`: when, which Airlock, which database, what it holds.
//!
//! A restore refuses a data directory or database that already holds data
//! unless forced; it brings back the database, replays the logs' segments
//! into it, puts the objects back and the signing key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airlock_store::{
    Backend, Blobs, BlobsConfig, MediaLogWriter, RequestLogWriter, SessionLogWriter, Store,
};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cli::ConfigSource;
use crate::config::Settings;

/// The backup folder's format.
const FORMAT: u32 = 1;
/// The durable logs, by their folder under `wal/`.
const LOGS: [&str; 3] = ["requests", "sessions", "media"];
const SQLITE_FILE: &str = "airlock.db";
const PG_DUMP_FILE: &str = "airlock.pgdump";
pub(crate) const MANIFEST: &str = "manifest.json";
const MEDIA_MANIFEST: &str = "media-manifest.jsonl";
const MEDIA_DIR: &str = "media";

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The folder to write the backup to: new, or empty.
    #[arg(long)]
    pub to: PathBuf,
    #[command(flatten)]
    pub source: ConfigSource,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup's folder.
    #[arg(long)]
    pub from: PathBuf,
    /// Restore onto a data directory or database that already holds data,
    /// replacing it.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub source: ConfigSource,
}

/// What a backup holds, as `manifest.json` says it.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    airlock_version: String,
    created_at_ms: i64,
    /// `sqlite` or `postgres`.
    database: String,
    /// The write-ahead segments copied, across the logs.
    wal_segments: usize,
    /// The media store's kind (`local`, `s3`, ...), its objects and bytes.
    media_backend: String,
    media_objects: usize,
    media_bytes: u64,
    /// Whether `media/` holds the objects themselves.
    media_copied: bool,
    signing_key: bool,
}

/// One line of `media-manifest.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
struct MediaEntry {
    key: String,
    size: u64,
}

pub async fn backup(args: BackupArgs) -> ExitCode {
    finish("backup", run_backup(&args).await)
}

pub async fn restore(args: RestoreArgs) -> ExitCode {
    finish("restore", run_restore(&args).await)
}

fn finish(what: &str, result: Result<String, String>) -> ExitCode {
    match result {
        Ok(summary) => {
            eprintln!("airlock: {summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("airlock: {what} failed: {message}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn settings(source: &ConfigSource) -> Result<Settings, String> {
    source
        .load()
        .map_err(|_| "the configuration has problems (see above)".to_string())
}

async fn run_backup(args: &BackupArgs) -> Result<String, String> {
    let settings = settings(&args.source)?;
    backup_to(&settings, &args.to).await
}

/// Writes a backup of what `settings` name into `to` (a new or empty
/// folder); a summary of what it holds.
pub(crate) async fn backup_to(settings: &Settings, to: &Path) -> Result<String, String> {
    if to.exists() && !is_empty_dir(to)? {
        return Err(format!("{} exists and is not empty", to.display()));
    }
    create_dir(to)?;
    // The logs' segments before the database (see the module's doc).
    let mut wal_segments = 0;
    for log in LOGS {
        let from = settings.data_dir.join("wal").join(log);
        wal_segments += copy_files(&from, &to.join("wal").join(log))?;
    }
    let store = crate::tenants::open_store(settings).await?;
    let database = store.backend();
    match database {
        Backend::Sqlite => store
            .sqlite_snapshot(&to.join(SQLITE_FILE))
            .await
            .map_err(|error| format!("cannot copy the database: {error}"))?,
        Backend::Postgres => pg_dump(settings, &to.join(PG_DUMP_FILE)).await?,
    }
    let blobs = media_blobs(settings)?;
    let listed = blobs
        .list_all()
        .await
        .map_err(|error| format!("cannot list the media store: {error}"))?;
    let copy_objects = matches!(settings.media.blobs, BlobsConfig::Local { .. });
    let mut manifest_lines = String::new();
    let mut media_bytes = 0;
    for object in &listed {
        let entry = MediaEntry {
            key: object.key.clone(),
            size: object.size,
        };
        manifest_lines.push_str(&json_line(&entry)?);
        media_bytes += object.size;
        if copy_objects {
            copy_object(&blobs, &object.key, &to.join(MEDIA_DIR)).await?;
        }
    }
    write(&to.join(MEDIA_MANIFEST), manifest_lines.as_bytes())?;
    let key_file = settings.data_dir.join(crate::media_key::FILE_NAME);
    let signing_key = key_file.is_file();
    if signing_key {
        copy(&key_file, &to.join(crate::media_key::FILE_NAME))?;
    }
    // The receipts log's signing key, when serve made one: checkpoints
    // signed after a restore verify with the same public key.
    let receipts_key = settings.data_dir.join(crate::receipts_key::FILE_NAME);
    if receipts_key.is_file() {
        copy(&receipts_key, &to.join(crate::receipts_key::FILE_NAME))?;
    }
    let manifest = Manifest {
        format: FORMAT,
        airlock_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at_ms: airlock_gateway::clock::now_ms(),
        database: database.name().to_string(),
        wal_segments,
        media_backend: blobs.backend().to_string(),
        media_objects: listed.len(),
        media_bytes,
        media_copied: copy_objects,
        signing_key,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    write(&to.join(MANIFEST), text.as_bytes())?;
    Ok(format!(
        "backed up the {} database, {wal_segments} log segment(s) and {} media object(s) ({media_bytes} bytes{}) to {}",
        manifest.database,
        listed.len(),
        if copy_objects { ", copied" } else { ", listed" },
        to.display()
    ))
}

async fn run_restore(args: &RestoreArgs) -> Result<String, String> {
    let settings = settings(&args.source)?;
    let from = &args.from;
    let text = std::fs::read_to_string(from.join(MANIFEST))
        .map_err(|error| format!("{} is not a backup: {error}", from.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|error| format!("{MANIFEST} cannot be read: {error}"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "the backup's format is {}; this Airlock reads format {FORMAT}",
            manifest.format
        ));
    }
    let store = match (&settings.database_url, manifest.database.as_str()) {
        (None, "sqlite") => restore_sqlite(&settings, from, args.force).await?,
        (Some(url), "postgres") if url.starts_with("postgres") => {
            restore_postgres(url, from, args.force).await?
        }
        (None, other) => {
            return Err(format!(
                "the backup holds a {other} database; restore it with --database-url"
            ));
        }
        (Some(_), other) => {
            return Err(format!(
                "the backup holds a {other} database, which cannot be restored into --database-url \
                 (SQLite backups go to a --data-dir, PostgreSQL ones to a postgres:// URL)"
            ));
        }
    };
    // Records the logs held go into the restored database, as a start
    // would replay them.
    for log in LOGS {
        let segments = from.join("wal").join(log);
        if !segments.is_dir() {
            continue;
        }
        let replayed = settings.data_dir.join("wal").join(log);
        copy_files(&segments, &replayed)?;
        let done = match log {
            "requests" => RequestLogWriter::replay_wal(&store, &replayed).await,
            "sessions" => SessionLogWriter::replay_wal(&store, &replayed).await,
            _ => MediaLogWriter::replay_wal(&store, &replayed).await,
        };
        done.map_err(|error| format!("cannot replay the {log} log: {error}"))?;
    }
    let restored_objects = if manifest.media_copied {
        put_objects(&settings, from).await?
    } else {
        0
    };
    let key_file = from.join(crate::media_key::FILE_NAME);
    if manifest.signing_key && settings.media.signing_key.is_none() {
        copy(
            &key_file,
            &settings.data_dir.join(crate::media_key::FILE_NAME),
        )?;
    }
    let receipts_key = from.join(crate::receipts_key::FILE_NAME);
    let configured = settings
        .receipts
        .as_ref()
        .is_some_and(|receipts| receipts.signing_key.is_some());
    if receipts_key.is_file() && !configured {
        copy(
            &receipts_key,
            &settings.data_dir.join(crate::receipts_key::FILE_NAME),
        )?;
    }
    Ok(format!(
        "restored the {} database, {} log segment(s) replayed, {restored_objects} media object(s){}",
        manifest.database,
        manifest.wal_segments,
        if manifest.media_copied {
            String::new()
        } else {
            format!(
                " (the {} store keeps its own {} object(s))",
                manifest.media_backend, manifest.media_objects
            )
        }
    ))
}

/// Copies the SQLite database into a data directory with nothing in it
/// (or anything, when forced), and opens it.
async fn restore_sqlite(settings: &Settings, from: &Path, force: bool) -> Result<Store, String> {
    let data_dir = &settings.data_dir;
    if data_dir.exists() && !is_empty_dir(data_dir)? && !force {
        return Err(format!(
            "the data directory {} is not empty; restore onto a fresh one, or pass --force to replace it",
            data_dir.display()
        ));
    }
    create_dir(data_dir)?;
    for suffix in ["", "-wal", "-shm"] {
        let stale = data_dir.join(format!("{SQLITE_FILE}{suffix}"));
        if stale.exists() {
            std::fs::remove_file(&stale)
                .map_err(|error| format!("cannot replace {}: {error}", stale.display()))?;
        }
    }
    copy(&from.join(SQLITE_FILE), &data_dir.join(SQLITE_FILE))?;
    Store::open_data_dir(data_dir)
        .await
        .map_err(|error| format!("cannot open the restored database: {error}"))
}

/// `pg_restore`s the dump into a database that holds no data (or any,
/// when forced, its objects dropped first), and opens it.
async fn restore_postgres(url: &str, from: &Path, force: bool) -> Result<Store, String> {
    let store = Store::open(url)
        .await
        .map_err(|error| format!("cannot open the database: {error}"))?;
    let held = store
        .holds_data()
        .await
        .map_err(|error| format!("cannot read the database: {error}"))?;
    if held && !force {
        return Err(
            "the database already holds data; restore onto an empty one, or pass --force to replace it"
                .into(),
        );
    }
    let dump = from.join(PG_DUMP_FILE);
    let mut command = std::process::Command::new("pg_restore");
    command
        .args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
        ])
        .arg(url)
        .arg(&dump);
    run_tool(command, "pg_restore").await?;
    Ok(store)
}

/// `pg_dump --format=custom` of the configured database into `file`.
async fn pg_dump(settings: &Settings, file: &Path) -> Result<(), String> {
    let Some(url) = &settings.database_url else {
        return Err("a PostgreSQL database needs --database-url".into());
    };
    let mut command = std::process::Command::new("pg_dump");
    command
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(file)
        .arg(url);
    run_tool(command, "pg_dump").await
}

/// Runs a PostgreSQL tool off the async workers; its error output, never
/// the URL, on failure.
async fn run_tool(mut command: std::process::Command, name: &str) -> Result<(), String> {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|error| format!("{name} did not finish: {error}"))?
        .map_err(|error| {
            format!("cannot run {name} (is the PostgreSQL client installed?): {error}")
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("{name} failed: {}", stderr.trim()))
}

pub(crate) fn media_blobs(settings: &Settings) -> Result<Blobs, String> {
    Blobs::open(&settings.media.blobs)
        .map_err(|error| format!("cannot open the media store: {error}"))
}

/// Writes one object of the store under `dir`, at its key's path.
async fn copy_object(blobs: &Blobs, key: &str, dir: &Path) -> Result<(), String> {
    let read = |error: airlock_store::BlobError| format!("cannot read media object {key}: {error}");
    let bytes = blobs
        .get(key, None)
        .await
        .map_err(read)?
        .bytes()
        .await
        .map_err(read)?;
    let path = dir.join(key);
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    write(&path, &bytes)
}

/// Puts the backup's objects into the configured media store; how many.
async fn put_objects(settings: &Settings, from: &Path) -> Result<usize, String> {
    let blobs = media_blobs(settings)?;
    let listed = std::fs::read_to_string(from.join(MEDIA_MANIFEST))
        .map_err(|error| format!("cannot read {MEDIA_MANIFEST}: {error}"))?;
    let mut restored = 0;
    for line in listed.lines().filter(|line| !line.is_empty()) {
        let entry: MediaEntry =
            serde_json::from_str(line).map_err(|error| format!("{MEDIA_MANIFEST}: {error}"))?;
        let path = from.join(MEDIA_DIR).join(&entry.key);
        let bytes = std::fs::read(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        blobs
            .put(&entry.key, bytes.into(), "application/octet-stream")
            .await
            .map_err(|error| format!("cannot put media object {}: {error}", entry.key))?;
        restored += 1;
    }
    Ok(restored)
}

/// Copies every file of `from` (none when it does not exist) into `to`;
/// how many.
fn copy_files(from: &Path, to: &Path) -> Result<usize, String> {
    if !from.is_dir() {
        return Ok(0);
    }
    create_dir(to)?;
    let entries = std::fs::read_dir(from)
        .map_err(|error| format!("cannot read {}: {error}", from.display()))?;
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot read {}: {error}", from.display()))?;
        if entry.path().is_file() {
            copy(&entry.path(), &to.join(entry.file_name()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

fn is_empty_dir(path: &Path) -> Result<bool, String> {
    let mut entries = std::fs::read_dir(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(entries.next().is_none())
}

fn create_dir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .map_err(|error| format!("cannot create {}: {error}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to).map(|_| ()).map_err(|error| {
        format!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        )
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn json_line(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value)
        .map(|line| line + "\n")
        .map_err(|error| error.to_string())
}
