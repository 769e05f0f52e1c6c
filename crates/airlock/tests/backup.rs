//! `airlock backup` taken while the gateway serves a steady load, and
//! `airlock restore` onto a fresh data directory: every request
//! acknowledged before the backup began is in the restored database (from
//! the database copy or the write-ahead segments it replays), a stored
//! file's bytes are back in the media store, and a restore onto a data
//! directory that holds data is refused unless forced. The same for a
//! PostgreSQL database (`pg_dump`, `pg_restore`), which needs
//! `AIRLOCK_TEST_POSTGRES_URL`: without it the test fails.

mod common;

use std::path::Path;
use std::process::Output;

use common::{acknowledged_requests, airlock, start_serve, terminate};

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut command = airlock();
    command.args(args);
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_under_load_restores_every_acknowledged_request_and_stored_file() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::tempdir().unwrap();
    let (mut child, addr, _) = start_serve(
        airlock()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("AIRLOCK_REQUEST_LOG_DURABILITY", "durable"),
    );
    let mut acknowledged = acknowledged_requests(&addr, 40).await;
    let notes = b"Chapter one: the lighthouse keeper's log.\n".repeat(100);
    // A multipart form of `purpose` and `file`, as the SDKs send it.
    let mut form = b"--b\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n\
        --b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
        content-type: text/plain\r\n\r\n"
        .to_vec();
    form.extend_from_slice(&notes);
    form.extend_from_slice(b"\r\n--b--\r\n");
    let uploaded = reqwest::Client::new()
        .post(format!("http://{addr}/v1/files"))
        .header("content-type", "multipart/form-data; boundary=b")
        .body(form)
        .send()
        .await
        .unwrap();
    let upload_id = uploaded.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let file: serde_json::Value = uploaded.json().await.unwrap();
    let file_id = file["id"].as_str().unwrap().to_string();

    // The load goes on while the backup runs.
    let load = {
        let addr = addr.clone();
        tokio::spawn(async move { acknowledged_requests(&addr, 200).await })
    };
    let backup_dir = tempfile::tempdir().unwrap();
    let to = backup_dir.path().join("backup");
    let (data_path, to_path) = (data.path().to_path_buf(), to.clone());
    let backed_up = tokio::task::spawn_blocking(move || {
        run(
            &["backup"],
            &[("--to", &to_path), ("--data-dir", &data_path)],
        )
    })
    .await
    .unwrap();
    assert!(
        backed_up.status.success(),
        "{}",
        String::from_utf8_lossy(&backed_up.stderr)
    );
    let during = load.await.unwrap();
    assert!(terminate(&mut child).success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["database"], "sqlite");
    assert_eq!(manifest["media_copied"], true);

    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let output = run(&["restore"], &[("--from", &to), ("--data-dir", &target)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = airlock_store::Store::open_data_dir(&target).await.unwrap();
    let logged: std::collections::HashSet<String> = store
        .recent_request_records(100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    let before: std::collections::HashSet<String> = acknowledged.iter().cloned().collect();
    acknowledged.retain(|id| !logged.contains(id));
    assert!(
        acknowledged.is_empty(),
        "acknowledged before the backup and missing: {acknowledged:?}"
    );
    // What ran during the backup is there or not; nothing else is.
    let unexpected: Vec<&String> = logged
        .iter()
        .filter(|id| !before.contains(*id) && !during.contains(id) && **id != upload_id)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    let kept = std::fs::read(target.join("media/files").join(&file_id)).unwrap();
    assert_eq!(kept, notes);
    assert!(store.file(&file_id, 0).await.unwrap().is_some());
    drop(store);

    // The restored directory holds data now: a second restore is refused,
    // and replaces it when forced.
    let refused = run(&["restore"], &[("--from", &to), ("--data-dir", &target)]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("not empty"), "{message}");
    let forced = run(
        &["restore", "--force"],
        &[("--from", &to), ("--data-dir", &target)],
    );
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
}

#[test]
fn a_backup_into_a_folder_that_holds_files_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let to = tempfile::tempdir().unwrap();
    std::fs::write(to.path().join("something"), b"kept").unwrap();
    let output = run(
        &["backup"],
        &[("--to", to.path()), ("--data-dir", data.path())],
    );
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("is not empty"), "{message}");
    assert_eq!(std::fs::read(to.path().join("something")).unwrap(), b"kept");
}

#[test]
fn a_folder_without_a_manifest_is_not_a_backup() {
    let empty = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = run(
        &["restore"],
        &[
            ("--from", empty.path()),
            ("--data-dir", &data.path().join("new")),
        ],
    );
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("is not a backup"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_database_is_backed_up_and_restored_into_an_empty_one() {
    let source = airlock_store::testing::fresh_postgres_database().await;
    let target = airlock_store::testing::fresh_postgres_database().await;
    let data = tempfile::tempdir().unwrap();
    let created = airlock()
        .args([
            "projects",
            "create",
            "storybook",
            "--rpm",
            "60",
            "--database-url",
            &source,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let backup_dir = tempfile::tempdir().unwrap();
    let to = backup_dir.path().join("backup");
    let output = run(
        &["backup", "--database-url", &source],
        &[("--to", &to), ("--data-dir", data.path())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(to.join("airlock.pgdump").is_file());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        !message.contains(&source),
        "the URL is never shown: {message}"
    );

    let restored_data = tempfile::tempdir().unwrap();
    let restore = |force: bool| {
        let mut args = vec!["restore", "--database-url", target.as_str()];
        if force {
            args.push("--force");
        }
        run(
            &args,
            &[("--from", &to), ("--data-dir", restored_data.path())],
        )
    };
    let output = restore(false);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = airlock_store::Store::open(&target).await.unwrap();
    let project = store.project_by_name("storybook").await.unwrap().unwrap();
    assert_eq!(project.name, "storybook");

    let refused = restore(false);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("already holds data"), "{message}");
    let forced = restore(true);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(store.project_by_name("storybook").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_backup_is_written_by_the_running_gateway_and_restores() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let made = run(
        &["projects", "create", "storybook"],
        &[("--data-dir", data.path())],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let config = data.path().join("airlock.toml");
    let section = format!(
        "[backups]\ndir = {:?}\nevery_hours = 24\nkeep = 2\n",
        backups.path().display().to_string()
    );
    std::fs::write(&config, section).unwrap();
    let serve = || {
        start_serve(
            airlock()
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(data.path())
                .arg("--config")
                .arg(&config),
        )
    };
    let (mut child, _, _) = serve();
    // The recurring loop looks at once: today's backup is due.
    let mut written = None;
    for _ in 0..300 {
        written = std::fs::read_dir(backups.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.join("manifest.json").is_file());
        if written.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let written = written.expect("a scheduled backup was written");
    let name = written.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("airlock-backup-"), "{name}");
    assert!(terminate(&mut child).success());
    // One backup a period, however often the gateway starts.
    let (mut child, addr, _) = serve();
    acknowledged_requests(&addr, 1).await;
    assert!(terminate(&mut child).success());
    assert_eq!(std::fs::read_dir(backups.path()).unwrap().count(), 1);

    let restored = tempfile::tempdir().unwrap();
    let output = run(
        &["restore"],
        &[("--from", &written), ("--data-dir", restored.path())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = airlock_store::Store::open_data_dir(restored.path())
        .await
        .unwrap();
    assert!(store.project_by_name("storybook").await.unwrap().is_some());
}
