//! What the binary's test suites share: `airlock` run as a user runs it
//! (a clean environment), a server started and its address read from its
//! banner (`serve` and `mock` both print `listening on http://ADDR`), and
//! the signals that stop it.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_airlock");

/// A command with none of the caller's provider or Airlock variables.
pub fn airlock() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

/// Starts `serve` (or `mock`) and returns the child, its address, and its
/// stderr lines so far. The caller waits for the child.
pub fn start_serve(command: &mut Command) -> (Child, String, Vec<String>) {
    let (child, addr, seen, _) = start_serve_logged(command);
    (child, addr, seen)
}

/// [`start_serve`], and the stderr lines still to come.
#[allow(clippy::zombie_processes)]
pub fn start_serve_logged(
    command: &mut Command,
) -> (Child, String, Vec<String>, mpsc::Receiver<String>) {
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
            return (child, addr, seen, lines_rx);
        }
    }
}

/// Sends SIGTERM without waiting for the process to end.
pub fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM, then waits for the process to end.
pub fn terminate(child: &mut Child) -> ExitStatus {
    send_sigterm(child);
    child.wait().unwrap()
}

/// Waits until `addr` refuses new connections: the server stopped accepting.
pub async fn stops_accepting(addr: &str) {
    // Bounded so a regression fails instead of hanging; not a timing assertion.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Makes `count` chat completions, half of them streamed, four at a time,
/// each read to its end (acknowledged); returns their request ids.
pub async fn acknowledged_requests(addr: &str, count: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for round in 0..count / 4 {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..4 {
            let client = client.clone();
            let url = format!("http://{addr}/v1/chat/completions");
            let stream = (round + i) % 2 == 1;
            requests.spawn(async move {
                let response = client
                    .post(url)
                    .json(&serde_json::json!({
                        "model": "gemini-2.5-flash",
                        "messages": [{"role": "user", "content": "hi"}],
                        "stream": stream,
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let id = response.headers()["x-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = response.text().await.unwrap();
                assert!(body.contains(if stream { "[DONE]" } else { "chat.completion" }));
                id
            });
        }
        ids.extend(requests.join_all().await);
    }
    ids
}
