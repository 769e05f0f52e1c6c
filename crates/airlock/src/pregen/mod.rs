//! `airlock pregen FILE --project NAME`: sends a file of requests to a
//! running gateway's pre-generation API, watches the job with a live
//! progress bar, and prints a summary table when it has ended.
//!
//! Exit codes: 0 when every item is done; 1 when an item failed or the job
//! stopped or was cancelled; 2 for bad input (an unreadable file, no valid
//! item, an unknown project); 3 when the gateway cannot be reached, refuses
//! the admin token, or answers what this command does not expect; 130 on
//! Ctrl-C, which leaves the job running.

mod api;
mod summary;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use api::{AdminClient, ApiError, JobOptions, JobProgress, JobState, RejectedLine};
use watch::Watched;

#[derive(Args, Debug)]
pub struct PregenArgs {
    /// The requests: JSON Lines, or a JSON array, of OpenAI Batch API items
    /// (`{"custom_id", "method", "url", "body"}`); `-` reads standard input.
    pub file: PathBuf,
    /// The project whose limits and budget the job runs under, and whose cache it fills.
    #[arg(long, env = "AIRLOCK_PROJECT")]
    pub project: String,
    /// The running gateway.
    #[arg(long, env = "AIRLOCK_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bearer token for the admin API [default: AIRLOCK_MASTER_KEY, as the gateway does when it has no admin token].
    #[arg(long, env = "AIRLOCK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Items in flight at once [default: the gateway's].
    #[arg(long, env = "AIRLOCK_PREGEN_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Seconds the cached answers are kept [default: the cache's].
    #[arg(long, env = "AIRLOCK_PREGEN_TTL_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl_secs: Option<u64>,
    /// Print the job's id once it is submitted, and exit without watching it.
    #[arg(long, env = "AIRLOCK_PREGEN_DETACH")]
    pub detach: bool,
}

/// Every item done.
const EXIT_DONE: u8 = 0;
/// An item failed, or the job stopped or was cancelled.
const EXIT_NOT_ALL_DONE: u8 = 1;
/// The file or the project was refused.
const EXIT_BAD_INPUT: u8 = 2;
/// The gateway could not be reached, refused the token, or answered oddly.
const EXIT_GATEWAY: u8 = 3;
/// Ctrl-C (128 + SIGINT), as a shell reports it.
const EXIT_INTERRUPTED: u8 = 130;

pub async fn run(args: PregenArgs) -> ExitCode {
    ExitCode::from(pregenerate(args).await)
}

async fn pregenerate(args: PregenArgs) -> u8 {
    let file = match read_file(args.file.clone()).await {
        Ok(file) => file,
        Err(message) => {
            eprintln!("airlock: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let token = args
        .admin_token
        .or_else(|| std::env::var("AIRLOCK_MASTER_KEY").ok())
        .filter(|token| !token.is_empty());
    let client = match AdminClient::new(&args.url, token) {
        Ok(client) => client,
        Err(message) => {
            eprintln!("airlock: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let options = JobOptions {
        concurrency: args.concurrency,
        ttl_secs: args.ttl_secs,
    };
    let started = Instant::now();
    let submitted = match client.submit(&args.project, options, file).await {
        Ok(submitted) => submitted,
        Err(error) => return report(&error),
    };
    print_rejected(&submitted.rejected);
    let id = submitted.progress.id.clone();
    if args.detach {
        println!("{id}");
        eprintln!(
            "airlock: job {id} runs {} item(s)\n{}",
            submitted.progress.total,
            watch_hint(&client, &id)
        );
        return EXIT_DONE;
    }
    match watch::until_ended(&client, submitted.progress, started).await {
        Ok(Watched::Ended(progress)) => {
            let elapsed = progress.run_time().unwrap_or_else(|| started.elapsed());
            print!("{}", summary::table(&progress, elapsed));
            outcome(&progress)
        }
        Ok(Watched::Interrupted) => {
            eprintln!(
                "airlock: stopped watching; job {id} goes on\n{}",
                watch_hint(&client, &id)
            );
            EXIT_INTERRUPTED
        }
        Err(error) => {
            let code = report(&error);
            eprintln!(
                "airlock: job {id} may still be running\n{}",
                watch_hint(&client, &id)
            );
            code
        }
    }
}

/// The file's bytes, or standard input's for `-`.
async fn read_file(path: PathBuf) -> Result<Vec<u8>, String> {
    let read = tokio::task::spawn_blocking(move || {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map(|_| bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))
        } else {
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    })
    .await;
    read.map_err(|e| format!("cannot read the file: {e}"))?
}

/// Each line of the file the gateway left out, on standard error.
fn print_rejected(rejected: &[RejectedLine]) {
    for line in rejected {
        eprintln!("line {}: {}", line.line, line.error);
    }
}

/// Prints an error (and the lines behind a refusal); returns the exit code.
fn report(error: &ApiError) -> u8 {
    if let ApiError::BadInput { rejected, .. } = error {
        print_rejected(rejected);
    }
    eprintln!("airlock: {error}");
    match error {
        ApiError::BadInput { .. } => EXIT_BAD_INPUT,
        ApiError::Unreachable { .. }
        | ApiError::Unauthorized { .. }
        | ApiError::Unexpected { .. } => EXIT_GATEWAY,
    }
}

/// 0 when every item is done, else 1.
fn outcome(progress: &JobProgress) -> u8 {
    if progress.state == JobState::Completed
        && progress.failed == 0
        && progress.done == progress.total
    {
        EXIT_DONE
    } else {
        EXIT_NOT_ALL_DONE
    }
}

/// How to follow or cancel a job from a shell, the token named by its
/// variable, on two lines.
fn watch_hint(client: &AdminClient, id: &str) -> String {
    let url = client.job_url(id);
    let auth = "-H \"Authorization: Bearer $AIRLOCK_ADMIN_TOKEN\"";
    format!("  watch it:  curl {auth} {url}\n  cancel it: curl -X POST {auth} {url}/cancel")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(state: JobState, done: u64, failed: u64) -> JobProgress {
        JobProgress {
            id: "job_1".into(),
            project: Some("story".into()),
            state,
            total: 3,
            done,
            failed,
            spend_usd: 0.0,
            eta_secs: None,
            stop_reason: None,
            started_at_ms: None,
            finished_at_ms: None,
            failures: Vec::new(),
        }
    }

    #[test]
    fn only_a_job_with_every_item_done_exits_zero() {
        assert_eq!(outcome(&ended(JobState::Completed, 3, 0)), EXIT_DONE);
        assert_eq!(
            outcome(&ended(JobState::Completed, 2, 1)),
            EXIT_NOT_ALL_DONE
        );
        assert_eq!(outcome(&ended(JobState::Stopped, 1, 0)), EXIT_NOT_ALL_DONE);
        assert_eq!(
            outcome(&ended(JobState::Cancelled, 0, 0)),
            EXIT_NOT_ALL_DONE
        );
    }

    #[test]
    fn a_refused_file_is_bad_input_and_an_unreachable_gateway_is_not() {
        let refused = ApiError::BadInput {
            message: "no valid item".into(),
            rejected: Vec::new(),
        };
        assert_eq!(report(&refused), EXIT_BAD_INPUT);
        let unreachable = ApiError::Unreachable {
            url: "http://127.0.0.1:1/admin/v1/pregenerate".into(),
            reason: "Connection refused".into(),
        };
        assert_eq!(report(&unreachable), EXIT_GATEWAY);
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_read_is_named() {
        let message = read_file(PathBuf::from("/nonexistent/items.jsonl"))
            .await
            .unwrap_err();
        assert!(message.contains("/nonexistent/items.jsonl"), "{message}");
    }
}
