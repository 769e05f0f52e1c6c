//! Requests Airlock sends through its own API routes for a project: a
//! pre-generation item, a batch's request. Each runs as its project
//! through a synthetic key named after its job (so the project's limits
//! and budget apply and the request log says which job made it), exactly
//! as a client's request would: the same translation, caching, retries and
//! fallbacks. An answer is read whole, with what it cost; Airlock's own
//! rate limits are waited out a few times before an answer counts.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use airlock_store::{ApiKey, KeyKind, KeySettings};
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode, header};
use serde_json::Value;
use tower_service::Service;

use crate::auth::Principal;
use crate::cache::CACHE_STATUS_HEADER;
use crate::context::{InternalCaller, Pricing, SpendProbe};
use crate::state::AppState;
use crate::tenancy::KeyGrant;

/// How often a request waits out Airlock's own rate limits before its
/// 429 counts as its answer.
const RATE_LIMIT_WAITS: u32 = 5;
/// The longest one such wait.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Sends requests through the API routes, built on first use.
pub struct SelfRequests {
    state: AppState,
    api: OnceLock<Router>,
}

/// One request to send.
pub struct SelfRequest<'a> {
    pub path: &'a str,
    pub body: Bytes,
    pub principal: &'a Principal,
    /// Headers beyond the JSON content type.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub pricing: Pricing,
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    /// The id Airlock gave the request (`x-request-id`).
    pub request_id: Option<String>,
    /// What the response cache said of it (`hit`, `miss`, ...).
    pub cache: Option<String>,
    /// Set when Airlock refused it because the project's budget is spent.
    pub budget_spent: bool,
    pub body: Bytes,
    /// What it cost (USD), together with the tries before it that were
    /// rate limited.
    pub spent: f64,
}

impl Answer {
    /// An error answer's message, in either protocol (both say
    /// `error.message`), else its first bytes.
    pub fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|answer| answer["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned()
            })
    }
}

/// A key of `project_id` that exists only in memory, for requests
/// Airlock makes itself (`id` and `name` say which part of Airlock made
/// them): no limits of its own, no secret.
pub fn synthetic_key(project_id: &str, id: &str, name: &str) -> ApiKey {
    ApiKey {
        id: id.to_string(),
        project_id: project_id.to_string(),
        kind: KeyKind::Secret,
        name: name.to_string(),
        prefix: String::new(),
        secret_sha256: String::new(),
        settings: KeySettings::default(),
        created_at_ms: crate::clock::now_ms(),
        expires_at_ms: None,
        revoked_at_ms: None,
    }
}

impl SelfRequests {
    pub fn new(state: AppState) -> SelfRequests {
        SelfRequests {
            state,
            api: OnceLock::new(),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Who a job's requests run as: its project, through a key that is the
    /// job's own (`key_id`, `key_name`: no limits of its own; the
    /// project's apply); the master key for a job of no project.
    pub async fn principal(
        &self,
        project_id: Option<&str>,
        key_id: &str,
        key_name: &str,
    ) -> Result<Principal, String> {
        let Some(project_id) = project_id else {
            return Ok(Principal::Master);
        };
        let project = self
            .state
            .config()
            .store
            .project_by_id(project_id)
            .await
            .map_err(|error| format!("the project could not be read: {error}"))?
            .ok_or_else(|| "the job's project no longer exists".to_string())?;
        let key = synthetic_key(project_id, key_id, key_name);
        Ok(Principal::Key(Arc::new(KeyGrant::new(
            key,
            Arc::new(project),
        ))))
    }

    /// Sends a request, waiting out Airlock's own rate limits (a 429 with
    /// a `retry-after` that is not a spent budget) up to a few times; the
    /// last answer, or why none came.
    pub async fn send(&self, request: SelfRequest<'_>) -> Result<Answer, String> {
        let mut spent = 0.0;
        let mut waits = 0;
        loop {
            let (mut answer, retry_after) = self.send_once(&request).await?;
            spent += answer.spent;
            answer.spent = spent;
            match retry_after {
                Some(wait)
                    if answer.status == StatusCode::TOO_MANY_REQUESTS
                        && !answer.budget_spent
                        && waits < RATE_LIMIT_WAITS =>
                {
                    waits += 1;
                    tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
                }
                _ => return Ok(answer),
            }
        }
    }

    async fn send_once(
        &self,
        request: &SelfRequest<'_>,
    ) -> Result<(Answer, Option<Duration>), String> {
        let spend = Arc::new(SpendProbe::default());
        let mut http = Request::post(request.path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(request.body.clone()))
            .map_err(|error| format!("the request could not be made: {error}"))?;
        for (name, value) in &request.headers {
            http.headers_mut().insert(name.clone(), value.clone());
        }
        http.extensions_mut().insert(InternalCaller {
            principal: request.principal.clone(),
            spend: spend.clone(),
            pricing: request.pricing,
        });
        let mut api = self
            .api
            .get_or_init(|| crate::server::api_router(self.state.clone()))
            .clone();
        let response = match api.call(http).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|error| format!("the answer broke off: {error}"))?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = header("retry-after")
            .and_then(|secs| secs.parse().ok())
            .map(Duration::from_secs);
        let answer = Answer {
            status: parts.status,
            request_id: header("x-request-id").map(str::to_string),
            cache: header(CACHE_STATUS_HEADER).map(str::to_string),
            // Set by Airlock only when a budget is spent (see `ApiError`).
            budget_spent: parts.status == StatusCode::TOO_MANY_REQUESTS
                && header("x-should-retry") == Some("false"),
            body,
            // Written when the request's record was: for a stream, at its
            // end, which reading the body whole has waited for.
            spent: spend.spent().unwrap_or(0.0),
        };
        Ok((answer, retry_after))
    }
}
