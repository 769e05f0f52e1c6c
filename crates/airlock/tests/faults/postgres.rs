//! A PostgreSQL server of the test's own, on a free port, that the test
//! can stop and start again: the shared test database
//! (`AIRLOCK_TEST_POSTGRES_URL`) must not go down under other tests.
//!
//! It is made with the server binaries the machine has (the newest
//! `/usr/lib/postgresql/*/bin`, as Debian installs them), in a temporary
//! directory, trusting local connections, with no fsync (the test is about
//! Airlock's writes, not the server's). PostgreSQL refuses to run as root,
//! so as root it runs as the `postgres` user. A server that cannot start
//! fails the test: it never skips.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{free_port, run};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Run the server's commands as `postgres` (the test runs as root).
    as_postgres: bool,
}

impl Postgres {
    /// Creates a cluster and starts it.
    pub fn start() -> Postgres {
        let bin = server_binaries();
        let dir = tempfile::Builder::new()
            .prefix("airlock-faults-pg")
            .tempdir()
            .unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let postgres = Postgres {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        run(postgres
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(postgres.data()));
        postgres.start_again();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's programs, as the user that may run it.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        // Away from the test's working directory, which `postgres` may not read.
        command.current_dir(self.dir.path());
        command
    }

    /// Starts the server (again) on its port, waiting until it accepts
    /// connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"));
    }

    /// Stops the server: connections are closed, new ones refused.
    pub fn stop(&self) {
        self.stop_with("fast");
    }

    fn stop_with(&self, mode: &str) {
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-m", mode, "-D"])
            .arg(self.data())
            .arg("stop"));
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` in it.
fn server_binaries() -> PathBuf {
    let root = std::path::Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install postgresql")
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0")
}
