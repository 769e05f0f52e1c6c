//! The `airlock` command: `serve`, `mock` and `config check`.
//!
//! Owns the command line and start-up: it reads configuration, builds the
//! gateway's parts and hands them to `airlock-gateway`. No request handling
//! lives here.

mod admins;
mod backup;
mod cli;
mod config;
mod conversations;
mod health;
mod key_file;
mod logging;
mod media_key;
mod mock;
mod pregen;
mod receipts;
mod receipts_key;
mod scheduled_backup;
mod serve;
mod telemetry;
mod tenants;
mod users;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: a proxy allocates many small,
/// short-lived buffers across threads, where glibc's malloc showed up as
/// about 15 % of the CPU under load (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // `serve` runs on a single-threaded runtime: start-up, the background
    // writers and worker 0 share the main thread, and `serve` starts a thread
    // with its own single-threaded runtime per further worker
    // (airlock_gateway::Listeners). The simulator and the admin commands use
    // Tokio's work-stealing runtime.
    let mut builder = match cli.command {
        cli::Command::Serve(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("airlock: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(cli::run(cli))
}
