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
//! the one job runner (`airlock-jobs`); requests are sent by
//! [`crate::self_request`].

pub mod items;

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::cache::policy::{CACHE_HEADER, CACHE_TTL_HEADER};
use crate::context::Pricing;
use crate::self_request::{SelfRequest, SelfRequests};
use crate::state::AppState;

/// The job kind's name.
pub const KIND: &str = "pregenerate";
/// A job's settings: how long its answers are kept.
pub const PARAM_TTL_SECS: &str = "ttl_secs";

/// The pre-generation kind: runs one request of the job's file.
pub(crate) struct Pregenerate {
    requests: SelfRequests,
}

impl Pregenerate {
    pub(crate) fn new(state: AppState) -> Pregenerate {
        Pregenerate {
            requests: SelfRequests::new(state),
        }
    }
}

impl JobKind for Pregenerate {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(self.run_item(job, item))
    }
}

impl Pregenerate {
    async fn run_item(&self, job: &JobInfo, item: &Value) -> ItemOutcome {
        let Some((path, body)) = items::request_of(item) else {
            return failed("the stored item is not a request", 0.0);
        };
        let principal = match self
            .requests
            .principal(job.project_id.as_deref(), &job.id, "pre-generation job")
            .await
        {
            Ok(principal) => principal,
            Err(reason) => return ItemOutcome::StopJob { reason },
        };
        let mut headers = vec![(
            HeaderName::from_static(CACHE_HEADER),
            HeaderValue::from_static("use"),
        )];
        if let Some(ttl) = job.params.get(PARAM_TTL_SECS).and_then(Value::as_u64) {
            headers.push((
                HeaderName::from_static(CACHE_TTL_HEADER),
                HeaderValue::from(ttl),
            ));
        }
        let request = SelfRequest {
            path,
            body: Bytes::from(Value::Object(body.clone()).to_string()),
            principal: &principal,
            headers,
            pricing: Pricing::Standard,
        };
        let answer = match self.requests.send(request).await {
            Ok(answer) => answer,
            Err(reason) => return failed(reason, 0.0),
        };
        if answer.status.is_success() {
            return ItemOutcome::Done {
                result: Some(json!({"status": answer.status.as_u16(), "cache": answer.cache})),
                spend_usd: answer.spent,
            };
        }
        if answer.budget_spent {
            return ItemOutcome::StopJob {
                reason: format!("the project's budget is spent: {}", answer.message()),
            };
        }
        let reason = format!("{}: {}", answer.status.as_u16(), answer.message());
        failed(reason, answer.spent)
    }
}

fn failed(reason: impl Into<String>, spend_usd: f64) -> ItemOutcome {
    ItemOutcome::Failed {
        reason: reason.into(),
        result: None,
        spend_usd,
    }
}
