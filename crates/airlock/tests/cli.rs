//! The `airlock` binary as a user runs it: zero-config serve with the
//! built-in simulator, graceful shutdown that flushes the request log,
//! refusal to listen publicly without a key, and `config check`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_airlock");

/// A command with none of the caller's provider or Airlock variables.
fn airlock() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

/// Starts `serve` and returns the child, its address, and its stderr lines
/// so far. The caller waits for the child.
#[allow(clippy::zombie_processes)]
fn start_serve(command: &mut Command) -> (Child, String, Vec<String>) {
    let mut child = command
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        // A bound so a broken start fails instead of hanging.
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no banner: {seen:?}"));
        seen.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            // Collect the rest of the banner.
            while let Ok(more) = lines_rx.recv_timeout(Duration::from_millis(300)) {
                seen.push(more);
            }
            return (child, addr, seen);
        }
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_config_serves_the_simulator_and_flushes_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, banner) = start_serve(
        airlock()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path()),
    );
    let banner = banner.join("\n");
    assert!(banner.contains("BUILT-IN SIMULATOR"), "{banner}");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let body: serde_json::Value = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    let body: serde_json::Value = client
        .post(format!(
            "http://{addr}/v1beta/models/gemini-2.5-flash:generateContent"
        ))
        .header("x-goog-api-key", "anything")
        .json(&serde_json::json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["candidates"][0]["content"]["parts"][0]["text"].is_string());

    assert!(terminate(&mut child).success());
    assert!(dir.path().join("blobs").is_dir());
    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let records = store.recent_request_records(10).await.unwrap();
    assert_eq!(records.len(), 2, "both requests were flushed before exit");
}

#[test]
fn refuses_a_public_address_without_a_client_key() {
    let output = airlock()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[test]
fn config_check_reports_problems_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:8080\"\n\n[[providers]]\nname = \"g\"\nkind = \"gemini\"\nkeys = [\"env:NOT_SET_ANYWHERE\"]\n").unwrap();
    let output = airlock()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 7: provider key: environment variable NOT_SET_ANYWHERE is not set"),
        "{stderr}"
    );

    let output = airlock()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("NOT_SET_ANYWHERE", "k")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("configuration ok"));
}

#[test]
fn every_subcommand_explains_its_flags() {
    for args in [
        &["serve", "--help"][..],
        &["mock", "--help"],
        &["config", "check", "--help"],
    ] {
        let output = airlock().args(args).output().unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("--listen"), "{args:?}: {help}");
    }
}
