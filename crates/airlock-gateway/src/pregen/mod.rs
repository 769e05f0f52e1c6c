//! Pre-generation: a job of requests run in the background to fill the
//! response cache, so a story app's next branches are ready before the
//! reader clicks. A job's file is read by [`items`]; each item is sent
//! through Airlock's own API routes as its project (a synthetic key of the
//! project named after the job, so the project's limits and budget apply
//! and its records say which job made them) with `x-airlock-cache: use`,
//! exactly as a client's request would be: the same translation, media
//! storage, retries and fallbacks, and the same cache keys.
//!
//! An item is done when its answer is a success (a hit costs nothing), and
//! failed with the answer's error otherwise, after waiting out Airlock's
//! own rate limits a few times. A spent budget stops the whole job (it
//! can be resumed once there is budget again). Jobs are stored and run by
//! the one job runner (`airlock-jobs`).

pub mod items;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind, JobRunner, RunnerLimits};
use airlock_store::{ApiKey, KeyKind, KeySettings, StoreError};
use axum::Router;
use axum::body::Body;
use http::{HeaderValue, Request, StatusCode, header};
use serde_json::{Value, json};
use tower_service::Service;

use crate::auth::Principal;
use crate::cache::CACHE_STATUS_HEADER;
use crate::cache::policy::{CACHE_HEADER, CACHE_TTL_HEADER};
use crate::context::{InternalCaller, SpendProbe};
use crate::state::AppState;
use crate::tenancy::KeyGrant;

/// The job kind's name.
pub const KIND: &str = "pregenerate";
/// A job's settings: how long its answers are kept.
pub const PARAM_TTL_SECS: &str = "ttl_secs";
/// How often an item waits out Airlock's own rate limits before failing.
const RATE_LIMIT_WAITS: u32 = 5;
/// The longest one such wait.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Starts the job runner with the pre-generation kind and registers it in
/// the state; whoever starts it owns it.
pub async fn start_runner(
    state: &AppState,
    limits: RunnerLimits,
) -> Result<Arc<JobRunner>, StoreError> {
    let kind: Arc<dyn JobKind> = Arc::new(Pregenerate {
        state: state.clone(),
        api: OnceLock::new(),
    });
    let runner =
        Arc::new(JobRunner::start(state.config().store.clone(), vec![kind], limits).await?);
    state.set_jobs(&runner);
    Ok(runner)
}

/// The pre-generation kind: runs one request of the job's file.
struct Pregenerate {
    state: AppState,
    /// The API routes, built on first use.
    api: OnceLock<Router>,
}

impl JobKind for Pregenerate {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(self.run_item(job, item))
    }
}

/// One answer to an item's request.
struct Answer {
    status: StatusCode,
    cache: Option<String>,
    retry_after: Option<Duration>,
    budget_spent: bool,
    body: bytes::Bytes,
    spent: f64,
}

impl Pregenerate {
    async fn run_item(&self, job: &JobInfo, item: &Value) -> ItemOutcome {
        let Some((path, body)) = items::request_of(item) else {
            return failed("the stored item is not a request", 0.0);
        };
        let principal = match self.principal(job).await {
            Ok(principal) => principal,
            Err(reason) => return ItemOutcome::StopJob { reason },
        };
        let ttl = job.params.get(PARAM_TTL_SECS).and_then(Value::as_u64);
        let body = bytes::Bytes::from(Value::Object(body.clone()).to_string());
        let mut spent = 0.0;
        let mut waits = 0;
        loop {
            let answer = match self.send(path, body.clone(), &principal, ttl).await {
                Ok(answer) => answer,
                Err(reason) => return failed(reason, spent),
            };
            spent += answer.spent;
            if answer.status.is_success() {
                return ItemOutcome::Done {
                    result: Some(json!({"status": answer.status.as_u16(), "cache": answer.cache})),
                    spend_usd: spent,
                };
            }
            if answer.budget_spent {
                return ItemOutcome::StopJob {
                    reason: format!("the project's budget is spent: {}", message(&answer.body)),
                };
            }
            match answer.retry_after {
                Some(wait)
                    if answer.status == StatusCode::TOO_MANY_REQUESTS
                        && waits < RATE_LIMIT_WAITS =>
                {
                    waits += 1;
                    tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
                }
                _ => {
                    let reason = format!("{}: {}", answer.status.as_u16(), message(&answer.body));
                    return failed(reason, spent);
                }
            }
        }
    }

    /// Who the job's requests run as: its project, through a key that is
    /// the job's own (no limits of its own; the project's apply).
    async fn principal(&self, job: &JobInfo) -> Result<Principal, String> {
        let Some(project_id) = &job.project_id else {
            return Ok(Principal::Master);
        };
        let project = self
            .state
            .config()
            .store
            .projects()
            .await
            .map_err(|error| format!("the project could not be read: {error}"))?
            .into_iter()
            .find(|project| &project.id == project_id)
            .ok_or_else(|| "the job's project no longer exists".to_string())?;
        let key = ApiKey {
            id: job.id.clone(),
            project_id: project_id.clone(),
            kind: KeyKind::Secret,
            name: "pre-generation job".into(),
            prefix: String::new(),
            secret_sha256: String::new(),
            settings: KeySettings::default(),
            created_at_ms: crate::clock::now_ms(),
            expires_at_ms: None,
            revoked_at_ms: None,
        };
        Ok(Principal::Key(Arc::new(KeyGrant {
            key,
            project: Arc::new(project),
        })))
    }

    /// Sends one request through the API routes and reads its answer whole.
    async fn send(
        &self,
        path: &str,
        body: bytes::Bytes,
        principal: &Principal,
        ttl: Option<u64>,
    ) -> Result<Answer, String> {
        let spend = Arc::new(SpendProbe::default());
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(CACHE_HEADER, "use")
            .body(Body::from(body))
            .map_err(|error| format!("the request could not be made: {error}"))?;
        if let Some(ttl) = ttl {
            request
                .headers_mut()
                .insert(CACHE_TTL_HEADER, HeaderValue::from(ttl));
        }
        request.extensions_mut().insert(InternalCaller {
            principal: principal.clone(),
            spend: spend.clone(),
        });
        let mut api = self
            .api
            .get_or_init(|| crate::server::api_router(self.state.clone()))
            .clone();
        let response = match api.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|error| format!("the answer broke off: {error}"))?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        Ok(Answer {
            status: parts.status,
            cache: header(CACHE_STATUS_HEADER).map(str::to_string),
            retry_after: header("retry-after")
                .and_then(|secs| secs.parse().ok())
                .map(Duration::from_secs),
            // Set by Airlock only when a budget is spent (see `ApiError`).
            budget_spent: parts.status == StatusCode::TOO_MANY_REQUESTS
                && header("x-should-retry") == Some("false"),
            body,
            // Written when the request's record was: for a stream, at its end,
            // which reading the body whole has waited for.
            spent: spend.spent().unwrap_or(0.0),
        })
    }
}

fn failed(reason: impl Into<String>, spend_usd: f64) -> ItemOutcome {
    ItemOutcome::Failed {
        reason: reason.into(),
        spend_usd,
    }
}

/// An error answer's message, in either protocol (both say
/// `error.message`), else its first bytes.
fn message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|answer| answer["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}
