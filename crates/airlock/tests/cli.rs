//! The `airlock` binary as a user runs it: zero-config serve with the
//! built-in simulator, graceful shutdown that flushes the request log,
//! refusal to listen publicly without a key, and `config check`.

mod common;

use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

use common::{
    acknowledged_requests, airlock, send_sigterm, start_serve, start_serve_logged, stops_accepting,
    terminate,
};

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
    assert!(dir.path().join("media").is_dir(), "the default media store");
    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let records = store.recent_request_records(10).await.unwrap();
    assert_eq!(records.len(), 2, "both requests were flushed before exit");
}

/// SIGKILL: the process gets no chance to flush anything.
fn kill_hard(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn durable_request_log_keeps_every_acknowledged_request_through_sigkill() {
    const N: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let serve = |durability: &str| {
        let mut command = airlock();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("AIRLOCK_REQUEST_LOG_DURABILITY", durability);
        command
    };
    let _ = rustls::crypto::ring::default_provider().install_default();

    // Killed right after the last answer: its records were still on their
    // way to the database, and are in the write-ahead log.
    let (mut child, addr, _) = start_serve(&mut serve("durable"));
    let mut expected = acknowledged_requests(&addr, N).await;
    kill_hard(&mut child);
    let wal = dir.path().join("wal/requests");
    assert!(wal.is_dir());

    // The restart replays them before it serves; killed again, and
    // started in the fast mode, which still replays what the WAL holds.
    let (mut child, addr, _) = start_serve(&mut serve("durable"));
    expected.extend(acknowledged_requests(&addr, N).await);
    kill_hard(&mut child);
    let (mut child, _, _) = start_serve(&mut serve("fast"));
    assert!(terminate(&mut child).success());

    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let mut logged: Vec<String> = store
        .recent_request_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    logged.sort();
    expected.sort();
    assert_eq!(logged.len(), 2 * N, "every acknowledged request, once");
    assert_eq!(logged, expected);
    let segments: Vec<_> = std::fs::read_dir(&wal).unwrap().collect();
    assert!(
        segments.is_empty(),
        "replayed segments are removed: {segments:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_request_in_flight_finish_and_flushes_every_record() {
    // A simulator of the test's own, whose streams are slow: each chunk comes
    // PER_CHUNK after the one before.
    const PER_CHUNK: Duration = Duration::from_secs(1);
    let mock = airlock_mock::spawn(
        "127.0.0.1:0".parse().unwrap(),
        airlock_mock::MockConfig::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _) = start_serve(
        airlock()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("GEMINI_API_KEY", "sim")
            .env("AIRLOCK_GEMINI_BASE_URL", mock.gemini_base_url()),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    // The simulator streams its answer to this prompt in four chunks.
    let contents = serde_json::json!({"contents": [{"parts": [{"text": "Write a haiku"}]}]});
    for method in ["generateContent", "countTokens"] {
        let response = client
            .post(format!(
                "http://{addr}/v1beta/models/gemini-2.5-flash:{method}"
            ))
            .header("x-goog-api-key", "anything")
            .json(&contents)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    mock.server.set_latency(airlock_mock::Latency {
        first_token: Duration::ZERO,
        per_chunk: PER_CHUNK,
    });
    let sent = tokio::time::Instant::now();
    let mut stream = client
        .post(format!(
            "http://{addr}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", "anything")
        .json(&contents)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut body = stream
        .chunk()
        .await
        .unwrap()
        .expect("the first event")
        .to_vec();
    // SIGTERM while the stream is in flight: the gateway stops accepting...
    send_sigterm(&child);
    stops_accepting(&addr).await;
    let stopped_accepting = tokio::time::Instant::now();
    // ...and still relays the stream to its end (bounded so a stream that
    // never ends fails instead of hanging; not a timing assertion).
    let rest = async {
        while let Some(chunk) = stream.chunk().await.expect("the stream is not cut") {
            body.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), rest)
        .await
        .expect("the stream ends");
    let body = String::from_utf8(body).unwrap();
    let events: Vec<serde_json::Value> = body
        .split("\r\n\r\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert!(events.len() >= 3, "{body}");
    let last = events.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP", "{body}");
    // The simulator produced the last chunk (events - 1) × PER_CHUNK after
    // the request at the earliest: the gateway had stopped accepting while
    // the stream was still being produced.
    let last_produced = PER_CHUNK * (events.len() as u32 - 1);
    assert!(
        stopped_accepting - sent < last_produced,
        "the shutdown began {:?} after the request, not before its last chunk ({last_produced:?})",
        stopped_accepting - sent
    );

    // Bounded so a gateway that hangs on shutdown fails instead of hanging.
    let pid = child.id().to_string();
    let exited = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait().unwrap()),
    )
    .await;
    let Ok(status) = exited else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("the gateway did not exit after SIGTERM once its request was done");
    };
    let status = status.unwrap();
    assert!(status.success(), "{status}");
    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let mut records = store.recent_request_records(10).await.unwrap();
    records.reverse();
    let operations: Vec<&str> = records.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        operations,
        ["generateContent", "countTokens", "streamGenerateContent"],
        "every request, the one in flight at SIGTERM too, was flushed before exit"
    );
    let streamed = &records[2];
    assert_eq!((streamed.status, streamed.outcome.as_str()), (200, "ok"));
    assert!(streamed.streamed);
    assert_eq!(
        streamed.tokens_out,
        last["usageMetadata"]["candidatesTokenCount"].as_i64()
    );
    mock.shutdown().await;
}

/// A minimal OTLP/HTTP collector: accepts POSTs and hands their bodies over.
async fn collector() -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (bodies_tx, bodies_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let bodies_tx = bodies_tx.clone();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buffer = [0u8; 65536];
                loop {
                    let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => received.extend_from_slice(&buffer[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while received.len() < head_end + 4 + length {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => received.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let body = received[head_end + 4..head_end + 4 + length].to_vec();
                    received.drain(..head_end + 4 + length);
                    let _ = bodies_tx.send(body);
                    let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), bodies_rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_are_exported_over_otlp_with_genai_attributes() {
    let (endpoint, mut bodies) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _) = start_serve(
        airlock()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--otlp-endpoint",
                &endpoint,
                "--data-dir",
            ])
            .arg(dir.path()),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .json(&serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Shutdown flushes the batch of spans.
    assert!(terminate(&mut child).success());
    let mut exported = Vec::new();
    while let Ok(body) = bodies.try_recv() {
        exported.extend(body);
    }
    let contains = |needle: &[u8]| exported.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"gen_ai.request.model"), "no GenAI span exported");
    assert!(contains(b"gen_ai.usage.output_tokens"));
    assert!(contains(b"gcp.gemini"));
    let trace_id: Vec<u8> = (0..16)
        .map(|i| {
            u8::from_str_radix(&"4bf92f3577b34da6a3ce929d0e0e4736"[i * 2..i * 2 + 2], 16).unwrap()
        })
        .collect();
    assert!(contains(&trace_id), "the spans continue the client's trace");
}

/// The next stderr line (JSON) of the access log, within a bound.
fn next_access_line(lines: &mpsc::Receiver<String>) -> serde_json::Value {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("an access log line");
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
            && value["target"] == "airlock::access"
        {
            return value;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_gets_an_access_log_line_unless_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, banner, lines) = start_serve_logged(
        airlock()
            .env("RUST_LOG", "info")
            .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path()),
    );
    // The simulator's providers are named as such, not as keys the user gave.
    let banner = banner.join("\n");
    assert!(
        banner.contains("provider gemini (gemini): the built-in simulator"),
        "{banner}"
    );
    assert!(!banner.contains("key(s)"), "{banner}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("http://{addr}/v1/chat/completions?key=not-logged"))
        .header("x-request-id", "access-log-test-1")
        .json(&serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "secret words"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.bytes().await.unwrap();
    let line = next_access_line(&lines);
    let fields = &line["fields"];
    assert_eq!(line["level"], "INFO");
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["path"], "/v1/chat/completions");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["model"], "gemini-2.5-flash");
    assert_eq!(fields["request_id"], "access-log-test-1");
    assert_eq!(fields["complete"], true);
    assert!(fields["latency_ms"].as_f64().unwrap() > 0.0);
    // Neither the query (it may carry a key) nor the content is logged.
    let text = line.to_string();
    assert!(
        !text.contains("not-logged") && !text.contains("secret words"),
        "{text}"
    );
    // Requests that name no model are logged too.
    client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    let line = next_access_line(&lines);
    assert_eq!(line["fields"]["path"], "/healthz");
    assert_eq!(line["fields"]["model"], "-");
    assert!(terminate(&mut child).success());

    let (mut child, addr, _, lines) = start_serve_logged(
        airlock()
            .env("RUST_LOG", "info")
            .args(["serve", "--log-format", "json", "--access-log", "false"])
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path()),
    );
    client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(terminate(&mut child).success());
    let rest: Vec<String> = lines.iter().collect();
    assert!(
        rest.iter().any(|line| line.contains("flushing")),
        "the log was read to the end: {rest:?}"
    );
    assert!(
        !rest.iter().any(|line| line.contains("airlock::access")),
        "{rest:?}"
    );
}

#[test]
fn a_port_in_use_is_reported_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = airlock()
        .args([
            "serve",
            "--log-format",
            "text",
            "--listen",
            &addr,
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("cannot listen on").count(), 1, "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
}

#[test]
fn the_media_signing_key_is_made_once_owner_only_and_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("airlock.toml");
    std::fs::write(&config, "[media]\ndir = \"pictures\"\nanswer = \"url\"\n").unwrap();
    let data_dir = dir.path().join("data");
    let serve = || {
        let mut command = airlock();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir);
        command
    };
    let key_file = data_dir.join("media-signing.key");

    let (mut child, _, banner) = start_serve(&mut serve());
    assert!(terminate(&mut child).success());
    let banner = banner.join("\n");
    let media_line = format!(
        "media: local ({}); answers as URLs",
        data_dir.join("pictures").display()
    );
    assert!(banner.contains(&media_line), "{banner}");
    assert!(data_dir.join("pictures").is_dir());
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64, "32 random bytes in hex");
    assert!(!banner.contains(key.trim()), "the key is never printed");

    let (mut child, _, _) = start_serve(&mut serve());
    assert!(terminate(&mut child).success());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key, "reused");
}

#[test]
fn a_media_store_that_cannot_be_opened_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // The media folder would have to be inside a file.
    std::fs::write(dir.path().join("file"), "").unwrap();
    let config = dir.path().join("airlock.toml");
    std::fs::write(&config, "[media]\ndir = \"file/media\"\n").unwrap();
    let output = airlock()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the local media store"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn spend_with_no_requests_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = airlock()
        .args(["spend", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["data"], serde_json::json!([]));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("-0.0"));
    assert_eq!(report["total_cost_usd"], 0.0);
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
    // Every setting of `serve` that has a variable shows it.
    let output = airlock().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "AIRLOCK_MASTER_KEY",
        "AIRLOCK_ADMIN_TOKEN",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_API_KEY",
        "AIRLOCK_GEMINI_BASE_URL",
        "AIRLOCK_OPENAI_BASE_URL",
        "AIRLOCK_ACCESS_LOG",
        "RUST_LOG",
        "docs/configuration.md",
    ] {
        assert!(help.contains(variable), "{variable}: {help}");
    }
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Polls until `request` answers `status`; bounded so a regression fails instead of hanging.
async fn eventually_status(request: impl Fn() -> reqwest::RequestBuilder, status: u16) {
    for _ in 0..300 {
        if request().send().await.unwrap().status() == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never answered {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_managed_from_the_cli_take_effect_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut child, addr, _) =
        start_serve(airlock().args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data]));

    let project = run_ok(airlock().args([
        "projects",
        "create",
        "demo",
        "--rpm",
        "100",
        "--budget-usd",
        "5/month",
        "--data-dir",
        &data,
    ]));
    assert!(project.contains("\"name\": \"demo\""), "{project}");
    let created = run_ok(airlock().args([
        "keys",
        "create",
        "--project",
        "demo",
        "--name",
        "web",
        "--models",
        "gemini-*",
        "--expires",
        "1d",
        "--data-dir",
        &data,
    ]));
    let secret = created.lines().last().unwrap().trim().to_string();
    assert!(secret.starts_with("ak_"), "{created}");
    let id: String = created
        .split("\"id\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let chat = |model: &str| {
        client
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
    };
    // The server notices the new key within its poll interval: from then on
    // a key is required.
    let anonymous = || {
        client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}))
    };
    eventually_status(anonymous, 401).await;
    assert_eq!(chat("gemini-2.5-flash").send().await.unwrap().status(), 200);
    assert_eq!(
        chat("gpt-4o").send().await.unwrap().status(),
        403,
        "outside the key's models"
    );

    run_ok(airlock().args(["keys", "revoke", &id, "--data-dir", &data]));
    eventually_status(|| chat("gemini-2.5-flash"), 401).await;

    let listed = run_ok(airlock().args(["keys", "list", "--project", "demo", "--data-dir", &data]));
    assert!(
        listed.contains(&id) && !listed.contains(&secret[3..]),
        "{listed}"
    );
    let audit = run_ok(airlock().args(["audit", "--data-dir", &data]));
    for action in ["project.create", "key.create", "key.revoke"] {
        assert!(audit.contains(action), "{audit}");
    }
    assert!(audit.contains("\"actor\": \"cli\""));
    assert!(terminate(&mut child).success());
    let spend = run_ok(airlock().args(["spend", "--project", "demo", "--data-dir", &data]));
    assert!(spend.contains("\"requests\": 1"), "{spend}");

    let output = airlock()
        .args(["keys", "create", "--project", "nope", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("project nope not found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projects_conversations_are_exported_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut child, addr, _) =
        start_serve(airlock().args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data]));
    run_ok(airlock().args(["projects", "create", "talk", "--data-dir", &data]));
    let created =
        run_ok(airlock().args(["keys", "create", "--project", "talk", "--data-dir", &data]));
    let secret = created.lines().last().unwrap().trim().to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("http://{addr}{path}"))
            .bearer_auth(&secret)
            .json(&body)
    };
    // Once the server knows the key, requests are the project's.
    let anonymous = || {
        client
            .post(format!("http://{addr}/v1/responses"))
            .json(&serde_json::json!({"model": "gemini-2.5-flash", "input": "hi"}))
    };
    eventually_status(anonymous, 401).await;
    let first = post(
        "/v1/responses",
        serde_json::json!({"model": "gemini-2.5-flash", "input": "My name is Ada."}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(first.status(), 200);
    let answered: serde_json::Value = first.json().await.unwrap();
    let second = post(
        "/v1/responses",
        serde_json::json!({"model": "gemini-2.5-flash", "input": "And mine?", "previous_response_id": answered["id"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(second.status(), 200);
    let made = post(
        "/v1/conversations",
        serde_json::json!({"items": [{"role": "user", "content": "kept in an object"}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(made.status(), 200);
    assert!(terminate(&mut child).success());

    let out = dir.path().join("talk.jsonl");
    run_ok(airlock().args([
        "conversations",
        "export",
        "--project",
        "talk",
        "--output",
        out.to_str().unwrap(),
        "--data-dir",
        &data,
    ]));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The chain and the object, newest first.
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["api"], "conversations");
    assert_eq!(lines[0]["items"][0]["item"]["content"], "kept in an object");
    let chain = &lines[1];
    assert_eq!(chain["api"], "responses");
    assert_eq!(chain["turns"][0]["id"], answered["id"]);
    assert_eq!(chain["turns"][1]["input"][0]["content"], "And mine?");
    assert!(chain["turns"][1]["output"][0]["content"][0]["text"].is_string());

    let output = airlock()
        .args([
            "conversations",
            "export",
            "--project",
            "nope",
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("project nope not found"));
}

/// The manifest and entry names of an export archive.
fn read_export(path: &std::path::Path) -> (serde_json::Value, Vec<String>) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let names: Vec<String> = zip
        .file_names()
        .map(|name| name.unwrap().to_string())
        .collect();
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    (serde_json::from_str(&manifest).unwrap(), names)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_users_data_is_exported_to_a_zip_and_erased_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut child, addr, _) =
        start_serve(airlock().args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data]));
    run_ok(airlock().args(["projects", "create", "story", "--data-dir", &data]));
    let created =
        run_ok(airlock().args(["keys", "create", "--project", "story", "--data-dir", &data]));
    let secret = created.lines().last().unwrap().trim().to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let anonymous = || {
        client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": []}))
    };
    eventually_status(anonymous, 401).await;
    // The end user is named by the requests' `user` field.
    for (path, body) in [
        (
            "/v1/chat/completions",
            serde_json::json!({"model": "gpt-4o-mini", "user": "carol",
                               "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/images/generations",
            serde_json::json!({"model": "gpt-image-1", "user": "carol", "prompt": "a kite"}),
        ),
    ] {
        let response = client
            .post(format!("http://{addr}{path}"))
            .bearer_auth(&secret)
            .header("x-airlock-media", "url")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Stopping flushes the logs.
    assert!(terminate(&mut child).success());

    let archive = dir.path().join("carol.zip");
    let export = |archive: &std::path::Path| {
        run_ok(
            airlock()
                .args(["users", "export", "--project", "story", "--user", "carol"])
                .arg("--output")
                .arg(archive)
                .args(["--data-dir", &data]),
        )
    };
    let said = export(&archive);
    assert!(said.contains("carol.zip"), "{said}");
    let (manifest, names) = read_export(&archive);
    assert_eq!(manifest["end_user"], "carol");
    assert_eq!(manifest["rows"]["request_log"], 2, "{manifest}");
    assert_eq!(manifest["rows"]["media"], 1, "{manifest}");
    let picture = names
        .iter()
        .find(|name| name.starts_with("blobs/media/"))
        .expect("the picture is in the archive")
        .clone();
    let on_disk: Vec<std::path::PathBuf> = walk(dir.path())
        .into_iter()
        .filter(|path| path.ends_with(picture.trim_start_matches("blobs/")))
        .collect();
    assert_eq!(on_disk.len(), 1, "{picture}");

    let erased = run_ok(airlock().args([
        "users",
        "erase",
        "--project",
        "story",
        "--user",
        "carol",
        "--data-dir",
        &data,
    ]));
    let erased: serde_json::Value = serde_json::from_str(&erased).unwrap();
    assert_eq!(erased["rows"]["request_log"], 2, "{erased}");
    assert_eq!(erased["rows"]["media"], 1, "{erased}");
    assert!(!on_disk[0].exists(), "the picture's blob is still there");
    let again = dir.path().join("again.zip");
    export(&again);
    let (manifest, names) = read_export(&again);
    assert_eq!(manifest["rows"]["request_log"], 0, "{manifest}");
    assert!(!names.iter().any(|name| name.starts_with("blobs/")));
    let audit = run_ok(airlock().args(["audit", "--data-dir", &data]));
    assert!(audit.contains("user_data.erase"), "{audit}");
    assert!(!audit.contains("carol"), "{audit}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => files.extend(walk(&path)),
            false => files.push(path),
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_users_are_added_from_stdin_sign_in_and_are_removed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let mut add = airlock()
        .args([
            "admins",
            "add",
            "alice",
            "--role",
            "operator",
            "--data-dir",
            &data,
        ])
        .env_remove("AIRLOCK_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"alice-password-long\n")
        .unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let added = String::from_utf8(added.stdout).unwrap();
    assert!(
        added.contains("\"role\": \"operator\"") && !added.contains("argon2"),
        "{added}"
    );

    let short = airlock()
        .args([
            "admins",
            "add",
            "bob",
            "--role",
            "viewer",
            "--data-dir",
            &data,
        ])
        .env("AIRLOCK_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let listed = run_ok(airlock().args(["admins", "list", "--data-dir", &data]));
    assert!(
        listed.contains("alice") && !listed.contains("bob"),
        "{listed}"
    );

    // Alice signs in to the dashboard of a gateway on that data.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (mut child, addr, _) = start_serve(
        airlock()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path()),
    );
    let client = reqwest::Client::new();
    let signed_in = client
        .post(format!("http://{addr}/admin/v1/session"))
        .json(&serde_json::json!({"username": "alice", "password": "alice-password-long"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session: serde_json::Value = signed_in.json().await.unwrap();
    assert_eq!(session["role"], "operator");

    // Removed from the command line, she is signed out.
    run_ok(airlock().args(["admins", "remove", "alice", "--data-dir", &data]));
    let after = client
        .get(format!("http://{addr}/admin/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert!(terminate(&mut child).success());
    let audit = run_ok(airlock().args(["audit", "--data-dir", &data]));
    for action in ["admin_user.create", "session.sign_in", "admin_user.delete"] {
        assert!(audit.contains(action), "{audit}");
    }
}
