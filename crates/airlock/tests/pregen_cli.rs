//! `airlock pregen` as a user runs it, against a running `airlock serve`
//! whose provider is an `airlock mock` of the test's own (answers take
//! 150 ms, so a job's progress can be watched): the live bar in a
//! pseudo-terminal (util-linux `script`), plain progress lines without
//! one, the summary table, the exit codes, `--detach` and Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use common::{BIN, airlock, start_serve, terminate};

/// The admin token the gateway is started with.
const ADMIN_TOKEN: &str = "pregen-test-admin-token";
/// The project the jobs run for.
const PROJECT: &str = "story";
/// Items in the job file (its one malformed line aside).
const ITEMS: u64 = 30;
/// The malformed line's number in the job file.
const MALFORMED_LINE: u64 = 8;
/// The custom id of the item whose model does not exist.
const UNKNOWN_MODEL_ID: &str = "no-such-model";

/// A gateway whose providers are a simulator that answers in 150 ms, with
/// the project made; both processes end with it.
struct Gateway {
    mock: Child,
    serve: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Gateway {
    async fn start() -> Gateway {
        let (mock, mock_addr, _) = start_serve(airlock().args([
            "mock",
            "--listen",
            "127.0.0.1:0",
            "--first-token-ms",
            "150",
        ]));
        let dir = tempfile::tempdir().unwrap();
        let (serve, addr, _) = start_serve(
            airlock()
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(dir.path().join("data"))
                .env("AIRLOCK_ADMIN_TOKEN", ADMIN_TOKEN)
                .env("GEMINI_API_KEY", "sim")
                .env("AIRLOCK_GEMINI_BASE_URL", format!("http://{mock_addr}"))
                .env("OPENAI_API_KEY", "sim")
                .env("AIRLOCK_OPENAI_BASE_URL", format!("http://{mock_addr}/v1")),
        );
        let gateway = Gateway {
            mock,
            serve,
            addr,
            dir,
        };
        let created = gateway
            .admin(reqwest::Method::POST, "/admin/v1/projects")
            .json(&json!({"name": PROJECT}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{:?}", created.text().await);
        gateway
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// Writes the job file into the test's directory.
    fn job_file(&self) -> PathBuf {
        let path = self.dir.path().join("story.jsonl");
        std::fs::write(&path, job_file()).unwrap();
        path
    }

    /// `airlock pregen FILE --project PROJECT --concurrency N --url …`
    /// with the admin token in its variable, as a user with a clean
    /// environment runs it.
    fn pregen(&self, file: &Path, project: &str, concurrency: u32) -> Command {
        let mut command = airlock();
        command
            .arg("pregen")
            .arg(file)
            .args(["--project", project, "--concurrency"])
            .arg(concurrency.to_string())
            .arg("--url")
            .arg(self.url())
            .env("AIRLOCK_ADMIN_TOKEN", ADMIN_TOKEN);
        command
    }

    /// Polls a job until it has ended; bounded so a regression fails
    /// instead of hanging.
    async fn ended_job(&self, id: &str) -> Value {
        for _ in 0..600 {
            let job: Value = self
                .admin(reqwest::Method::GET, &format!("/admin/v1/pregenerate/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if matches!(
                job["state"].as_str(),
                Some("completed" | "stopped" | "cancelled")
            ) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("job {id} never ended");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        terminate(&mut self.serve);
        terminate(&mut self.mock);
    }
}

/// The job file: 13 OpenAI chats and 13 Gemini generations at temperature
/// 0, an embedding, an image, speech, an item for a model that does not
/// exist, and a malformed line at [`MALFORMED_LINE`].
fn job_file() -> String {
    let mut items: Vec<Value> = Vec::new();
    for scene in 1..=13 {
        items.push(json!({
            "custom_id": format!("openai-{scene}"), "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "temperature": 0,
                     "messages": [{"role": "user", "content": format!("Describe scene {scene}.")}]}
        }));
        items.push(json!({
            "custom_id": format!("gemini-{scene}"), "method": "POST",
            "url": "/v1beta/models/gemini-2.5-flash:generateContent",
            "body": {"contents": [{"parts": [{"text": format!("Narrate branch {scene}.")}]}],
                     "generationConfig": {"temperature": 0}}
        }));
    }
    items.push(json!({
        "custom_id": "embedding", "method": "POST", "url": "/v1/embeddings",
        "body": {"model": "text-embedding-3-small", "input": "the castle gate"}
    }));
    items.push(json!({
        "custom_id": "picture", "method": "POST", "url": "/v1/images/generations",
        "body": {"model": "dall-e-2", "prompt": "a castle gate at dusk", "size": "256x256"}
    }));
    items.push(json!({
        "custom_id": "narration", "method": "POST", "url": "/v1/audio/speech",
        "body": {"model": "tts-1", "voice": "alloy", "input": "The gate opens."}
    }));
    items.push(json!({
        "custom_id": UNKNOWN_MODEL_ID, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-no-such-model", "temperature": 0,
                 "messages": [{"role": "user", "content": "hello"}]}
    }));
    assert_eq!(items.len() as u64, ITEMS);
    let mut lines: Vec<String> = items.iter().map(Value::to_string).collect();
    lines.insert(
        MALFORMED_LINE as usize - 1,
        "{\"custom_id\": \"broken\",".into(),
    );
    lines.join("\n") + "\n"
}

/// The value of the summary row whose name is `name`, e.g. `done`.
fn row<'a>(summary: &'a str, name: &str) -> Option<&'a str> {
    summary.lines().find_map(|line| {
        let (first, rest) = line.trim_start_matches('\r').split_once(' ')?;
        (first == name).then(|| rest.trim())
    })
}

/// Every `N/30` count in `text`, in order.
fn counts(text: &str) -> Vec<u64> {
    let total = format!("/{ITEMS} ");
    let mut found = Vec::new();
    for (at, _) in text.match_indices(&total) {
        let digits: String = text[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let Ok(count) = digits.parse() {
            found.push(count);
        }
    }
    found
}

/// Checks the summary table of the job file's run: every item but the
/// unknown model's done, that one listed with its line and custom id.
fn assert_summary(summary: &str) {
    assert_eq!(row(summary, "project"), Some(PROJECT), "{summary}");
    assert_eq!(row(summary, "state"), Some("completed"), "{summary}");
    assert_eq!(row(summary, "total"), Some("30"), "{summary}");
    assert_eq!(row(summary, "done"), Some("29"), "{summary}");
    assert_eq!(row(summary, "failed"), Some("1"), "{summary}");
    assert!(row(summary, "spend").is_some_and(|spend| spend.starts_with('$')));
    assert!(row(summary, "elapsed").is_some(), "{summary}");
    let failure = summary
        .lines()
        .find(|line| line.contains(UNKNOWN_MODEL_ID))
        .unwrap_or_else(|| panic!("no failure row: {summary}"));
    // The unknown model's item is the file's last line.
    assert!(failure.starts_with("31 "), "{failure}");
}

/// Checks that `counts` rise from below the total to the total, through
/// at least `steps` values.
fn assert_rising(counts: &[u64], steps: usize, output: &str) {
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "{counts:?}: {output}"
    );
    let mut distinct = counts.to_vec();
    distinct.dedup();
    assert!(distinct.len() >= steps, "{counts:?}: {output}");
    assert_eq!(distinct.last(), Some(&ITEMS), "{output}");
}

/// The `script` command (util-linux), which runs a command in a
/// pseudo-terminal; a clear failure when it is missing.
fn script() -> Command {
    let found = Command::new("script").arg("--version").output();
    assert!(
        found.is_ok_and(|output| output.status.success()),
        "this test needs util-linux's `script` (apt-get install bsdutils)"
    );
    Command::new("script")
}

/// `text` quoted for `sh`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_terminal_a_live_bar_rises_to_the_total_and_the_summary_ends_the_output() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();
    let command = [
        BIN,
        "pregen",
        file.to_str().unwrap(),
        "--project",
        PROJECT,
        "--concurrency",
        "2",
        "--url",
        &gateway.url(),
    ]
    .map(quoted)
    .join(" ");
    let output = script()
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .env("AIRLOCK_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "one item failed: {text}");
    // The bar is redrawn in place: a terminal's escape sequences.
    assert!(text.contains("\x1b["), "{text:?}");
    let (progress, summary) = text
        .split_once("\njob ")
        .unwrap_or_else(|| panic!("no summary: {text:?}"));
    assert!(
        progress.contains(&format!("line {MALFORMED_LINE}: not JSON")),
        "{text}"
    );
    assert_rising(&counts(progress), 3, &text);
    assert!(progress.contains("items/s"), "{text}");
    assert!(progress.contains('$'), "{text}");
    // The summary is what the output ends with.
    assert!(!summary.contains("\x1b["), "{summary:?}");
    assert_summary(&format!("job {summary}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_plain_progress_lines_are_written_and_the_same_summary() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();
    let output = gateway.pregen(&file, PROJECT, 2).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains('\x1b'), "no bar drawn: {stderr:?}");
    assert!(
        stderr.contains(&format!("line {MALFORMED_LINE}: not JSON")),
        "{stderr}"
    );
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("airlock: ") && !counts(line).is_empty())
        .collect();
    // The job takes two seconds at least (26 generations of 150 ms, two at
    // a time): a line at the start, one a second, and the last.
    assert!(progress.len() >= 3, "{stderr}");
    assert_rising(&counts(&progress.join("\n")), 2, &stderr);
    assert_summary(&stdout);
}

/// Runs `command` and returns its output once it has ended.
fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_input_exits_2_with_the_servers_message_and_each_rejected_line() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();

    let (code, _, stderr) = run(&mut gateway.pregen(&file, "nope", 2));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("project nope"), "{stderr}");

    let invalid = gateway.dir.path().join("invalid.jsonl");
    std::fs::write(&invalid, "{\"custom_id\": 1}\nnot json\n").unwrap();
    let (code, _, stderr) = run(&mut gateway.pregen(&invalid, PROJECT, 2));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("\nline 2: not JSON"), "{stderr}");
    assert!(stderr.starts_with("line 1: "), "{stderr}");
    assert!(
        stderr.contains("no line of the file is a request"),
        "{stderr}"
    );

    let missing = gateway.dir.path().join("missing.jsonl");
    let (code, _, stderr) = run(&mut gateway.pregen(&missing, PROJECT, 2));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {}", missing.display())),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_or_an_unreachable_gateway_exits_3_naming_the_url_never_the_token() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();
    let endpoint = format!("{}/admin/v1/pregenerate", gateway.url());

    let (code, _, stderr) = run(gateway
        .pregen(&file, PROJECT, 2)
        .env("AIRLOCK_ADMIN_TOKEN", "not-the-admin-token"));
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&endpoint), "{stderr}");
    assert!(stderr.contains("refused the admin token"), "{stderr}");
    assert!(!stderr.contains("not-the-admin-token"), "{stderr}");

    // A port nothing listens on: the gateway's own, once it has stopped
    // (and its directory with the file gone: the file is kept elsewhere).
    let url = gateway.url();
    drop(gateway);
    let kept = tempfile::tempdir().unwrap();
    let file = kept.path().join("story.jsonl");
    std::fs::write(&file, job_file()).unwrap();
    let (code, _, stderr) = run(airlock()
        .arg("pregen")
        .arg(&file)
        .args(["--project", PROJECT, "--url", &url])
        .env("AIRLOCK_ADMIN_TOKEN", ADMIN_TOKEN));
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach {endpoint}")),
        "{stderr}"
    );
    assert!(!stderr.contains(ADMIN_TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn detach_prints_the_job_id_and_the_job_runs_on() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();
    let (code, stdout, stderr) = run(gateway.pregen(&file, PROJECT, 2).arg("--detach"));
    assert_eq!(code, Some(0), "{stderr}");
    let id = stdout.trim();
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("/admin/v1/pregenerate/{id}")),
        "{stderr}"
    );
    let job = gateway.ended_job(id).await;
    assert_eq!(job["state"], "completed");
    assert_eq!(job["done"], 29);
    assert_eq!(job["failed"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_watching_and_the_job_runs_on() {
    let gateway = Gateway::start().await;
    let file = gateway.job_file();
    let mut pregen = gateway
        .pregen(&file, PROJECT, 1)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(pregen.stderr.take().unwrap());
    let mut seen = String::new();
    // Once the first progress line is out, the job is running.
    while !seen.contains("items/s") {
        assert_ne!(stderr.read_line(&mut seen).unwrap(), 0, "{seen}");
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &pregen.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let code = pregen.wait().unwrap().code();
    std::io::Read::read_to_string(&mut stderr, &mut seen).unwrap();
    assert_eq!(code, Some(130), "{seen}");
    let id = seen
        .split("job ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no job id: {seen}"));
    assert!(
        seen.contains(&format!("stopped watching; job {id} goes on")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("/admin/v1/pregenerate/{id}")),
        "{seen}"
    );
    let job = gateway.ended_job(id).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["done"], 29, "{job}");
}
