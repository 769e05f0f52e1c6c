//! `airlock mock`: the provider simulator as its own server.

use std::process::ExitCode;
use std::time::Duration;

use airlock_mock::{Latency, MockConfig, MockServer};

use crate::cli::MockArgs;
use crate::serve::shutdown_signal;

pub async fn run(args: MockArgs) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("airlock mock: cannot listen on {}: {error}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| args.listen.clone());
    let config = MockConfig {
        seed: args.seed,
        latency: Latency {
            first_token: Duration::from_millis(args.first_token_ms),
            per_chunk: Duration::from_millis(args.per_chunk_ms),
        },
        fault: None,
        live_echo: args.live_echo,
    };
    eprintln!("airlock mock: provider simulator listening on http://{addr}");
    eprintln!("  Gemini base URL: http://{addr}    OpenAI base URL: http://{addr}/v1");
    if args.live_echo {
        eprintln!("  realtime echo mode: input audio comes straight back");
    }
    match MockServer::new(config)
        .serve(listener, shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("airlock mock: {error}");
            ExitCode::FAILURE
        }
    }
}
