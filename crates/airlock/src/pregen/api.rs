//! The client side of the admin API's pre-generation endpoints: submitting
//! a file (`POST /admin/v1/pregenerate`) and reading a job's progress
//! (`GET /admin/v1/pregenerate/{id}`), with the errors a user can act on.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// How long a connection to the gateway may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reading a job's progress may take.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Completed,
    Stopped,
    Cancelled,
}

impl JobState {
    /// Completed, stopped or cancelled: the job runs no more items unless resumed.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Stopped | JobState::Cancelled
        )
    }

    /// The state as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Stopped => "stopped",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// A job's progress, as the API reports it (the fields this command uses).
#[derive(Debug, Clone, Deserialize)]
pub struct JobProgress {
    pub id: String,
    /// The project's name; `None` once the project is gone.
    pub project: Option<String>,
    pub state: JobState,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub spend_usd: f64,
    /// Seconds left at the current pace; `None` when unknown.
    pub eta_secs: Option<f64>,
    /// Why the job stopped (a budget, an upstream that kept failing).
    pub stop_reason: Option<String>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// The first failed items (the API keeps up to 100).
    #[serde(default)]
    pub failures: Vec<ItemFailure>,
}

impl JobProgress {
    /// Items that have ended, done or failed.
    pub fn ended(&self) -> u64 {
        self.done + self.failed
    }

    /// How long the job ran, from its start to its end, when both are known.
    pub fn run_time(&self) -> Option<Duration> {
        let (started, finished) = (self.started_at_ms?, self.finished_at_ms?);
        u64::try_from(finished - started)
            .ok()
            .map(Duration::from_millis)
    }
}

/// An item that failed.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemFailure {
    /// Its line in the file (1-based).
    pub line: u64,
    pub custom_id: Option<String>,
    pub error: String,
}

/// A line of the file that is not a valid item.
#[derive(Debug, Clone, Deserialize)]
pub struct RejectedLine {
    pub line: u64,
    pub error: String,
}

/// The answer to a submitted file: the new job and the lines left out.
#[derive(Debug, Deserialize)]
pub struct Submitted {
    #[serde(flatten)]
    pub progress: JobProgress,
    #[serde(default)]
    pub rejected: Vec<RejectedLine>,
}

/// How a job is to run (the query of the submission).
#[derive(Debug, Clone, Copy)]
pub struct JobOptions {
    /// Items in flight at once; the server's default when `None`.
    pub concurrency: Option<u32>,
    /// How long the cached answers are kept; the server's default when `None`.
    pub ttl_secs: Option<u64>,
}

/// What went wrong talking to the gateway. No message holds the token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The gateway could not be reached or did not answer in time.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The admin token was missing or wrong.
    #[error(
        "{url} refused the admin token ({message}): give it with --admin-token or AIRLOCK_ADMIN_TOKEN"
    )]
    Unauthorized { url: String, message: String },
    /// The server refused the input: a file with no valid item, an unknown project.
    #[error("{message}")]
    BadInput {
        message: String,
        rejected: Vec<RejectedLine>,
    },
    /// Any other answer this command did not expect.
    #[error("{url} answered {status}: {message}")]
    Unexpected {
        url: String,
        status: StatusCode,
        message: String,
    },
}

/// The body of an error answer: `{"error": {"message", "code"}, "rejected"?}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
    #[serde(default)]
    rejected: Vec<RejectedLine>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// The admin API of one gateway, with its token.
pub struct AdminClient {
    http: reqwest::Client,
    /// `BASE/admin/v1/pregenerate`.
    jobs: Url,
    token: Option<String>,
}

impl AdminClient {
    /// A client for the gateway at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: Option<String>) -> Result<AdminClient, String> {
        let jobs = Url::parse(&format!(
            "{}/admin/v1/pregenerate",
            base.trim_end_matches('/')
        ))
        .map_err(|e| format!("--url {base} is not a URL: {e}"))?;
        if !matches!(jobs.scheme(), "http" | "https") {
            return Err(format!("--url {base} is not an http or https URL"));
        }
        airlock_providers::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(AdminClient { http, jobs, token })
    }

    /// `BASE/admin/v1/pregenerate/{id}`: where a job's progress is read.
    pub fn job_url(&self, id: &str) -> String {
        format!("{}/{id}", self.jobs)
    }

    /// Submits a file as it is: a JSON array or JSON Lines.
    pub async fn submit(
        &self,
        project: &str,
        options: JobOptions,
        file: Vec<u8>,
    ) -> Result<Submitted, ApiError> {
        let mut url = self.jobs.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("project", project);
            if let Some(concurrency) = options.concurrency {
                query.append_pair("concurrency", &concurrency.to_string());
            }
            if let Some(ttl) = options.ttl_secs {
                query.append_pair("ttl_secs", &ttl.to_string());
            }
        }
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type(&file))
            .body(file);
        self.call(request, url.as_str(), StatusCode::ACCEPTED).await
    }

    /// Reads a job's progress.
    pub async fn progress(&self, id: &str) -> Result<JobProgress, ApiError> {
        let url = self.job_url(id);
        let request = self.http.get(&url).timeout(PROGRESS_TIMEOUT);
        self.call(request, &url, StatusCode::OK).await
    }

    /// Sends `request` with the token and reads an answer of status `expected`.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        expected: StatusCode,
    ) -> Result<T, ApiError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let unreachable = |error: reqwest::Error| ApiError::Unreachable {
            url: url.to_string(),
            reason: root_cause(&error),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status == expected {
            return serde_json::from_slice(&body).map_err(|e| ApiError::Unexpected {
                url: url.to_string(),
                status,
                message: format!("an answer that is not a pre-generation job ({e})"),
            });
        }
        let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let message = error.as_ref().map_or_else(
            || {
                status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_string()
            },
            |body| body.error.message.clone(),
        );
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized {
                url: url.to_string(),
                message,
            },
            // A 404 with the API's error body is an unknown project; one
            // without is a gateway that has no pre-generation API.
            StatusCode::BAD_REQUEST
            | StatusCode::NOT_FOUND
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNPROCESSABLE_ENTITY
                if error.is_some() =>
            {
                ApiError::BadInput {
                    message,
                    rejected: error.map(|body| body.rejected).unwrap_or_default(),
                }
            }
            _ => ApiError::Unexpected {
                url: url.to_string(),
                status,
                message,
            },
        })
    }
}

/// `application/json` for a JSON array (the first non-blank byte is `[`),
/// else `application/jsonl`.
fn content_type(file: &[u8]) -> &'static str {
    match file.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => "application/json",
        _ => "application/jsonl",
    }
}

/// The innermost cause of a failed request, e.g. "Connection refused (os error 111)".
fn root_cause(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_array_is_sent_as_json_and_anything_else_as_json_lines() {
        assert_eq!(
            content_type(b"  \n[{\"custom_id\": 1}]"),
            "application/json"
        );
        assert_eq!(content_type(b"{\"custom_id\": 1}\n"), "application/jsonl");
        assert_eq!(content_type(b""), "application/jsonl");
    }

    #[test]
    fn a_url_that_is_not_http_is_refused_naming_it() {
        let Err(message) = AdminClient::new("ftp://example.com", None) else {
            panic!("an ftp URL was taken");
        };
        assert!(message.contains("ftp://example.com"), "{message}");
        assert!(AdminClient::new("not a url", None).is_err());
    }

    #[test]
    fn a_trailing_slash_in_the_base_url_is_not_doubled() {
        let client = AdminClient::new("http://127.0.0.1:8080/", None).unwrap();
        assert_eq!(
            client.job_url("job1"),
            "http://127.0.0.1:8080/admin/v1/pregenerate/job1"
        );
    }

    #[test]
    fn run_time_is_the_span_from_start_to_end() {
        let mut progress: JobProgress = serde_json::from_value(serde_json::json!({
            "id": "j", "project": "p", "state": "completed", "total": 2, "done": 1,
            "failed": 1, "pending": 0, "running": 0, "spend_usd": 0.5, "eta_secs": null,
            "stop_reason": null, "created_at_ms": 1000, "started_at_ms": 2000,
            "finished_at_ms": 4500, "failures": []
        }))
        .unwrap();
        assert_eq!(progress.run_time(), Some(Duration::from_millis(2500)));
        assert_eq!(progress.ended(), 2);
        progress.finished_at_ms = None;
        assert_eq!(progress.run_time(), None);
    }
}
