//! Log output: human-readable on a terminal, JSON lines otherwise, filtered
//! by `RUST_LOG` (default `info`); the access log can be switched off alone.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

/// Installs the global subscriber; with `access_log` false the gateway's
/// access log target is filtered out, whatever `RUST_LOG` says.
pub fn init(format: LogFormat, access_log: bool) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if !access_log {
        filter = filter.add_directive(
            format!("{}=off", airlock_gateway::access_log::TARGET)
                .parse()
                .expect("a valid directive"),
        );
    }
    let json = match format {
        LogFormat::Auto => !std::io::stderr().is_terminal(),
        LogFormat::Text => false,
        LogFormat::Json => true,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}
