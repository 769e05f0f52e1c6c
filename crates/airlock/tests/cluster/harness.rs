//! The processes a cluster test runs: a simulator, three (or more)
//! instances of `airlock serve` sharing a database and a Redis, each with
//! its admin listener, and a private Redis server a test may stop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{airlock, start_serve_logged};

pub const MASTER_KEY: &str = "cluster-master-key";
const PROVIDER_KEY: &str = "sim";
/// The receipts log's signer key every instance shares (Go's note
/// package's published example key: a test key, its secret known to all).
const RECEIPTS_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const MEDIA_KEY: &str = "5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee0";
/// No answer may take longer: one that has not come by then is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap()
}

/// The chat completion every test sends: 20 output tokens at most.
pub fn chat_body() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say something short."}],
        "max_tokens": 20,
    })
}

/// A name no other test run uses: the process id and the time.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

pub fn redis_url() -> String {
    std::env::var("AIRLOCK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A simulator process (`airlock mock`).
pub struct Mock {
    child: Child,
    pub addr: String,
}

impl Mock {
    /// Answers after `first_token_ms`.
    pub fn start(first_token_ms: u64) -> Mock {
        let (child, addr, _) = crate::common::start_serve(airlock().args([
            "mock",
            "--listen",
            "127.0.0.1:0",
            "--first-token-ms",
            &first_token_ms.to_string(),
        ]));
        Mock { child, addr }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the instances share.
pub struct Shared {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    /// Extra TOML, appended to the configuration.
    pub extra: String,
    /// Extra lines of the `[cluster]` table.
    pub cluster_lines: String,
    /// Extra variables of the instances' environment.
    pub env: Vec<(String, String)>,
    pub mock: String,
    dir: tempfile::TempDir,
}

impl Shared {
    pub async fn new(mock: &Mock, redis_url: String, extra: &str) -> Shared {
        Shared {
            database_url: airlock_store::testing::fresh_postgres_database().await,
            redis_url,
            prefix: format!("airlock-cluster-test-{}", uuid_like()),
            extra: extra.to_string(),
            cluster_lines: String::new(),
            env: Vec::new(),
            mock: mock.addr.clone(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        let path = self.dir.path().join("airlock.toml");
        let Shared {
            database_url,
            redis_url,
            prefix,
            extra,
            cluster_lines,
            mock,
            ..
        } = self;
        std::fs::write(
            &path,
            format!(
                r#"[server]
master_key = "env:CLUSTER_MASTER_KEY"
database_url = "{database_url}"
workers = 1

[cluster]
redis_url = "{redis_url}"
key_prefix = "{prefix}"
lease_secs = 2
{cluster_lines}

[media]
signing_key = "env:CLUSTER_MEDIA_KEY"

[receipts]
signing_key = "env:CLUSTER_RECEIPTS_KEY"

[[providers]]
name = "sim"
kind = "openai"
base_url = "http://{mock}/v1"
keys = ["env:CLUSTER_PROVIDER_KEY"]

{extra}
"#
            ),
        )
        .unwrap();
        path
    }

    /// `airlock ARGS` with the instances' configuration and variables (an
    /// operator's command against the shared database and Redis).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = airlock();
        command
            .args(args)
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.dir.path().join("cli"))
            .env("CLUSTER_MASTER_KEY", MASTER_KEY)
            .env("CLUSTER_PROVIDER_KEY", PROVIDER_KEY)
            .env("CLUSTER_MEDIA_KEY", MEDIA_KEY)
            .env("CLUSTER_RECEIPTS_KEY", RECEIPTS_KEY);
        command
    }

    /// Starts instance number `index`.
    pub fn instance(&self, index: usize) -> Instance {
        self.instance_logged(index).0
    }

    /// [`Shared::instance`], and its log (stderr) as it comes.
    pub fn instance_logged(&self, index: usize) -> (Instance, Log) {
        let data_dir = self.dir.path().join(format!("instance-{index}"));
        let mut command = airlock();
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(&data_dir)
            .env("CLUSTER_MASTER_KEY", MASTER_KEY)
            .env("CLUSTER_PROVIDER_KEY", PROVIDER_KEY)
            .env("CLUSTER_MEDIA_KEY", MEDIA_KEY)
            .env("CLUSTER_RECEIPTS_KEY", RECEIPTS_KEY)
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        let (child, addr, banner, lines) = start_serve_logged(&mut command);
        let log = Log::follow(&banner, lines);
        let admin = banner
            .iter()
            .find_map(|line| line.split("admin API, /metrics and probes: http://").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no admin address in the banner: {banner:?}"))
            .to_string();
        let instance = Instance {
            child,
            addr,
            admin,
            http: client(),
        };
        (instance, log)
    }

    /// The sum of a shared counter's per-instance counts (`name` without
    /// the prefix), read with `redis-cli`.
    pub fn redis_count(&self, name: &str) -> i64 {
        let output = Command::new("redis-cli")
            .args(["-u", &self.redis_url, "--raw", "HVALS"])
            .arg(format!("{}:{name}", self.prefix))
            .output()
            .expect("redis-cli must be installed for the cluster tests");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.trim().parse::<i64>().ok())
            .sum()
    }

    /// Three instances.
    pub fn three(&self) -> Vec<Instance> {
        (0..3).map(|i| self.instance(i)).collect()
    }
}

/// What a process wrote to stderr, kept as it comes.
#[derive(Clone, Default)]
pub struct Log(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    fn follow(seen: &[String], lines: std::sync::mpsc::Receiver<String>) -> Log {
        let log = Log(std::sync::Arc::new(std::sync::Mutex::new(seen.to_vec())));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines {
                kept.0.lock().unwrap().push(line);
            }
        });
        log
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// One running `airlock serve`.
pub struct Instance {
    child: Child,
    pub addr: String,
    /// The admin listener's address.
    pub admin: String,
    pub http: reqwest::Client,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// An admin API call with the master key; the answer's status and body.
    pub async fn admin_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.admin_url(&format!("/admin/v1{path}")))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates project `name` with `limits`, and one key with
    /// `key_limits`; returns the key's id and secret.
    pub async fn project_key(
        &self,
        name: &str,
        limits: Value,
        key_limits: Value,
    ) -> (String, String) {
        let (status, body) = self
            .admin_call(
                reqwest::Method::POST,
                "/projects",
                json!({"name": name, "limits": limits}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = self
            .admin_call(
                reqwest::Method::POST,
                &format!("/projects/{name}/keys"),
                json!({"limits": key_limits}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["key"]["id"].as_str().unwrap().to_string(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// A chat completion with `key`; its status and `Retry-After`.
    pub async fn chat(&self, key: &str) -> (u16, Option<String>) {
        let response = self
            .http
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat_body())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let _ = response.bytes().await;
        (status, retry_after)
    }

    /// The value of a metric line starting with `prefix` on `/metrics`.
    pub async fn metric(&self, prefix: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    }

    /// SIGKILL: gone without a goodbye, its places in flight left in Redis.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis server of the test's own on a free port, which it may stop and
/// start again (the machine's Redis must not go down under other tests).
/// A server that cannot start fails the test.
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
    /// `requirepass`, when set.
    password: Option<String>,
    /// TLS only, with this certificate and key, when set.
    tls: Option<ServerCertificate>,
}

/// A certificate for `localhost` and 127.0.0.1, signed by a CA of the
/// test's own, made with `openssl`.
pub struct ServerCertificate {
    dir: tempfile::TempDir,
}

impl ServerCertificate {
    pub fn make() -> ServerCertificate {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl must be installed for the TLS test");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        std::fs::write(
            dir.path().join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=airlock-test-ca",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ]);
        ServerCertificate { dir }
    }

    /// The CA's certificate, for a client to trust (`SSL_CERT_FILE`).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        Self::start_with(None, None)
    }

    /// A server that asks for `password` (`requirepass`).
    pub fn with_password(password: &str) -> PrivateRedis {
        Self::start_with(Some(password.to_string()), None)
    }

    /// A server that speaks TLS only, with `certificate`.
    pub fn with_tls(certificate: ServerCertificate) -> PrivateRedis {
        Self::start_with(None, Some(certificate))
    }

    fn start_with(password: Option<String>, tls: Option<ServerCertificate>) -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = PrivateRedis {
            child: None,
            port,
            password,
            tls,
        };
        redis.start_again();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn start_again(&mut self) {
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        command.args(["--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(certificate) => command.args([
                "--port",
                "0",
                "--tls-port",
                &port,
                "--tls-cert-file",
                &certificate.file("server.pem"),
                "--tls-key-file",
                &certificate.file("server.key"),
                "--tls-ca-cert-file",
                &certificate.file("ca.pem"),
                "--tls-auth-clients",
                "no",
            ]),
        };
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the cluster tests");
        self.child = Some(child);
        // Bounded: a server that never answers fails the test.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server: connections are cut, new ones refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
