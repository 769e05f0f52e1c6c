//! `airlock health --url URL`: a probe for container health checks, where
//! the image has no shell or curl. Exits 0 when the URL answers 2xx within
//! the timeout, 1 otherwise; it reads no configuration.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The URL to probe, e.g. http://127.0.0.1:9090/healthz.
    #[arg(long)]
    pub url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 2)]
    pub timeout_secs: u64,
}

pub async fn run(args: HealthArgs) -> ExitCode {
    airlock_providers::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("airlock health: {error}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&args.url).send().await {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!(
                "airlock health: {} answered {}",
                args.url,
                response.status()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("airlock health: {}: {error}", args.url);
            ExitCode::FAILURE
        }
    }
}
