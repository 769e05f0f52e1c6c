//! The one place where failures become HTTP answers.
//!
//! Every handler error is an [`ApiError`]; [`ApiError::into_response`] renders
//! it in the caller's protocol: OpenAI's `{"error":{message,type,param,code}}`
//! or Google's `{"error":{code,message,status}}`. Messages never include a
//! provider key or request content.

use std::time::Duration;

use airlock_providers::ProviderError;
use airlock_providers::translate::TranslateError;

use crate::limits::{NotAdmitted, Refusal};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// Which protocol the client speaks, and so the shape of its error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    OpenAi,
    Gemini,
}

impl Surface {
    pub fn name(self) -> &'static str {
        match self {
            Surface::OpenAi => "openai",
            Surface::Gemini => "gemini",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing client key")]
    MissingKey,
    #[error("invalid client key")]
    InvalidKey,
    #[error("This key has been revoked.")]
    KeyRevoked,
    #[error("This key has expired.")]
    KeyExpired,
    #[error("This token has been used as many times as it allows.")]
    TokenUsedUp,
    #[error("Only a project's secret key (or the master key) can mint tokens.")]
    CannotMint,
    #[error("This publishable key may not be used from this origin.")]
    OriginNotAllowed,
    #[error("This key may not call `{operation}`.")]
    OperationNotAllowed { operation: String },
    #[error("This key may not use the model `{model}`.")]
    ModelNotAllowed { model: String },
    #[error("The project's constitution does not allow the model `{model}` (rule `{rule}`).")]
    ConstitutionRefusedModel { model: String, rule: String },
    #[error("Rate limit reached: the {} limit on {}. Retry after {:.1} s.", .0.scope, .0.limit, .0.retry_after.as_secs_f64())]
    LimitExceeded(Box<Refusal>),
    #[error("The {scope}'s budget is spent for this period.")]
    BudgetExhausted { scope: &'static str },
    #[error("internal error")]
    Internal,
    #[error("The gateway is shutting down; connect again shortly.")]
    ShuttingDown,
    #[error("The upstream queue is full{}; retry shortly.", if *.timed_out { " (waited too long)" } else { "" })]
    QueueFull { timed_out: bool },
    #[error("This address sent too many requests and is refused for {} s.", .retry_after.as_secs())]
    Banned { retry_after: Duration },
    #[error("end-user token: {0}")]
    EndUserToken(String),
    /// The end-user token's issuer has no signing keys the gateway could
    /// fetch yet: the token cannot be judged now (not the client's fault).
    #[error("end-user token: the issuer's signing keys are unavailable ({reason}); retry shortly.")]
    EndUserKeysUnavailable {
        reason: String,
        retry_after: Duration,
    },
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<String>,
    },
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("Content-Type must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("The request body arrived too slowly (it stalled, or came below the minimum rate).")]
    BodyTooSlow,
    #[error("The gateway is holding as many request bodies as it may; retry shortly.")]
    BodyBudgetFull,
    #[error("The model `{model}` does not exist or is not served by this gateway.")]
    ModelNotFound { model: String },
    #[error(
        "The model `{model}` is served over the {protocol} protocol; call it through that surface."
    )]
    WrongSurface {
        model: String,
        protocol: &'static str,
    },
    /// A `previous_response_id` that is not stored, was deleted, or is
    /// another owner's (OpenAI's words and code).
    #[error("Previous response with id '{id}' not found.")]
    PreviousResponseNotFound { id: String },
    /// A stored response that is not there for this caller.
    #[error("Response with id '{id}' not found.")]
    ResponseNotFound { id: String },
    /// The provider's circuit is open: it failed too often just now.
    #[error("The provider `{provider}` is failing; calls to it are paused for a few seconds.")]
    CircuitOpen {
        provider: String,
        retry_after: Duration,
    },
    /// A conversation object that is not there for this caller.
    #[error("Conversation with id '{id}' not found.")]
    ConversationNotFound { id: String },
    /// An item of a conversation object that is not there.
    #[error("Item with id '{id}' not found.")]
    ItemNotFound { id: String },
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the provider sent an answer that could not be read")]
    BadUpstreamAnswer,
    /// The media store failed while an answer's media was being kept.
    #[error(
        "Media storage is unavailable, so the answer's media could not be kept; retry shortly."
    )]
    MediaUnavailable,
    /// An uploaded file (or upload) that is not there for this caller:
    /// never stored, deleted, expired, or another project's.
    #[error("No such File object: {id}")]
    FileNotFound { id: String },
    /// A file over its project's size limit.
    #[error("The file is {bytes} bytes; this project takes files of at most {limit} bytes.")]
    FileTooLarge { bytes: u64, limit: u64 },
    /// The files' database or object store failed.
    #[error("File storage is unavailable; retry shortly.")]
    FilesUnavailable,
    /// A batch that is not there for this caller: never made, deleted, made
    /// through the other provider's API, or another project's.
    #[error("No batch found with id '{id}'.")]
    BatchNotFound { id: String },
    /// The job runner that runs batches is not running here, or its
    /// database failed.
    #[error("Batches are unavailable; retry shortly.")]
    BatchesUnavailable,
    /// Cluster mode's shared limits (Redis) cannot be reached and the
    /// failure policy refuses rather than count locally.
    #[error("The gateway cannot check this request's limits right now; retry shortly.")]
    SharedStateUnavailable,
}

impl From<TranslateError> for ApiError {
    fn from(error: TranslateError) -> Self {
        ApiError::BadRequest {
            message: error.message,
            param: error.param,
        }
    }
}

impl From<NotAdmitted> for ApiError {
    fn from(refusal: NotAdmitted) -> Self {
        match refusal {
            NotAdmitted::Limit(refusal) => ApiError::LimitExceeded(refusal),
            NotAdmitted::Budget { scope } => ApiError::BudgetExhausted { scope },
            NotAdmitted::SpendUnknown => ApiError::Internal,
            NotAdmitted::SharedStateUnavailable => ApiError::SharedStateUnavailable,
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey
            | ApiError::InvalidKey
            | ApiError::KeyRevoked
            | ApiError::KeyExpired
            | ApiError::TokenUsedUp
            | ApiError::EndUserToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::CannotMint => StatusCode::FORBIDDEN,
            ApiError::ModelNotAllowed { .. }
            | ApiError::ConstitutionRefusedModel { .. }
            | ApiError::OriginNotAllowed
            | ApiError::OperationNotAllowed { .. } => StatusCode::FORBIDDEN,
            ApiError::LimitExceeded(_)
            | ApiError::BudgetExhausted { .. }
            | ApiError::Banned { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::QueueFull { .. }
            | ApiError::ShuttingDown
            | ApiError::BodyBudgetFull
            | ApiError::EndUserKeysUnavailable { .. }
            | ApiError::CircuitOpen { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTooSlow => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadRequest { .. }
            | ApiError::PreviousResponseNotFound { .. }
            | ApiError::InvalidJson(_)
            | ApiError::WrongSurface { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } | ApiError::FileTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::ModelNotFound { .. }
            | ApiError::NotFound { .. }
            | ApiError::ResponseNotFound { .. }
            | ApiError::ConversationNotFound { .. }
            | ApiError::ItemNotFound { .. }
            | ApiError::FileNotFound { .. }
            | ApiError::BatchNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Provider(error) => match error {
                ProviderError::Unsupported { .. } => StatusCode::NOT_IMPLEMENTED,
                ProviderError::NoUsableKey { .. } => StatusCode::SERVICE_UNAVAILABLE,
                ProviderError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                ProviderError::Unreachable { .. } | ProviderError::BrokeOff { .. } => {
                    StatusCode::BAD_GATEWAY
                }
                ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            },
            ApiError::BadUpstreamAnswer => StatusCode::BAD_GATEWAY,
            ApiError::MediaUnavailable
            | ApiError::FilesUnavailable
            | ApiError::BatchesUnavailable
            | ApiError::SharedStateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Provider(ProviderError::RateLimited { retry_after, .. }) => {
                Some(*retry_after)
            }
            ApiError::LimitExceeded(refusal) => Some(refusal.retry_after),
            ApiError::Banned { retry_after } => Some(*retry_after),
            ApiError::CircuitOpen { retry_after, .. }
            | ApiError::EndUserKeysUnavailable { retry_after, .. } => {
                Some((*retry_after).max(Duration::from_secs(1)))
            }
            ApiError::QueueFull { .. }
            | ApiError::ShuttingDown
            | ApiError::BodyBudgetFull
            | ApiError::MediaUnavailable
            | ApiError::FilesUnavailable
            | ApiError::BatchesUnavailable
            | ApiError::SharedStateUnavailable => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    fn openai_type_and_code(&self) -> (&'static str, Option<&'static str>) {
        match self {
            ApiError::MissingKey => ("invalid_request_error", None),
            ApiError::InvalidKey
            | ApiError::KeyRevoked
            | ApiError::KeyExpired
            | ApiError::TokenUsedUp => ("invalid_request_error", Some("invalid_api_key")),
            ApiError::ModelNotAllowed { .. } => {
                ("invalid_request_error", Some("model_not_allowed"))
            }
            ApiError::ConstitutionRefusedModel { .. } => {
                ("invalid_request_error", Some("constitution_violation"))
            }
            ApiError::OriginNotAllowed => ("invalid_request_error", Some("origin_not_allowed")),
            ApiError::OperationNotAllowed { .. } => {
                ("invalid_request_error", Some("operation_not_allowed"))
            }
            ApiError::LimitExceeded(_) | ApiError::Banned { .. } => {
                ("rate_limit_error", Some("rate_limit_exceeded"))
            }
            ApiError::BudgetExhausted { .. } => ("insufficient_quota", Some("insufficient_quota")),
            ApiError::Internal => ("api_error", None),
            ApiError::QueueFull { .. } => ("api_error", Some("queue_full")),
            ApiError::ShuttingDown => ("api_error", Some("shutting_down")),
            ApiError::CircuitOpen { .. } => ("api_error", Some("provider_unavailable")),
            ApiError::EndUserKeysUnavailable { .. } => ("api_error", Some("issuer_unavailable")),
            ApiError::BodyBudgetFull => ("api_error", Some("server_busy")),
            ApiError::MediaUnavailable => ("api_error", Some("media_storage_unavailable")),
            ApiError::FilesUnavailable => ("api_error", Some("file_storage_unavailable")),
            ApiError::BatchesUnavailable => ("api_error", Some("batches_unavailable")),
            ApiError::SharedStateUnavailable => ("api_error", Some("limits_unavailable")),
            ApiError::FileTooLarge { .. } => ("invalid_request_error", Some("file_too_large")),
            ApiError::BodyTooSlow => ("invalid_request_error", Some("request_timeout")),
            ApiError::ModelNotFound { .. } => ("invalid_request_error", Some("model_not_found")),
            ApiError::PreviousResponseNotFound { .. } => {
                ("invalid_request_error", Some("previous_response_not_found"))
            }
            ApiError::PayloadTooLarge { .. } => {
                ("invalid_request_error", Some("request_too_large"))
            }
            ApiError::Provider(ProviderError::RateLimited { .. }) => {
                ("rate_limit_error", Some("rate_limit_exceeded"))
            }
            ApiError::Provider(_) | ApiError::BadUpstreamAnswer => ("api_error", None),
            _ => ("invalid_request_error", None),
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::MissingKey => {
                "Missing client key: send it as `Authorization: Bearer KEY` (OpenAI SDKs) \
                                     or `x-goog-api-key: KEY` (Google SDKs)."
                    .to_string()
            }
            ApiError::InvalidKey => "Invalid client key.".to_string(),
            other => other.to_string(),
        }
    }

    /// Renders the error in the caller's protocol.
    pub fn into_response_for(self, surface: Surface) -> Response {
        let status = self.status();
        let body = match surface {
            Surface::OpenAi => {
                let (kind, code) = self.openai_type_and_code();
                let param = match &self {
                    ApiError::BadRequest { param, .. } => param.clone(),
                    ApiError::PreviousResponseNotFound { .. } => {
                        Some("previous_response_id".to_string())
                    }
                    ApiError::ModelNotFound { .. }
                    | ApiError::WrongSurface { .. }
                    | ApiError::ModelNotAllowed { .. }
                    | ApiError::ConstitutionRefusedModel { .. } => Some("model".to_string()),
                    ApiError::FileNotFound { .. } => Some("id".to_string()),
                    ApiError::BatchNotFound { .. } => Some("batch_id".to_string()),
                    ApiError::FileTooLarge { .. } => Some("file".to_string()),
                    _ => None,
                };
                json!({"error": {"message": self.message(), "type": kind, "param": param, "code": code}})
            }
            Surface::Gemini => google_error_body(status, &self.message()),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(retry_after) = self.retry_after() {
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        match (&self, surface) {
            (ApiError::LimitExceeded(refusal), Surface::OpenAi) => {
                for (name, value) in &refusal.headers {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            // A spent budget does not come back by retrying: tell the SDKs not to.
            (ApiError::BudgetExhausted { .. }, _) => {
                response
                    .headers_mut()
                    .insert("x-should-retry", HeaderValue::from_static("false"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON answer, or the error in the caller's protocol.
pub fn json_or_error(result: Result<serde_json::Value, ApiError>, surface: Surface) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response_for(surface),
    }
}

/// Google's error body for a status.
pub fn google_error_body(status: StatusCode, message: &str) -> serde_json::Value {
    json!({"error": {"code": status.as_u16(), "message": message, "status": google_status(status)}})
}

/// Google's canonical status name for an HTTP status.
fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 415 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 => "DEADLINE_EXCEEDED",
        405 | 501 => "UNIMPLEMENTED",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        503 | 502 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn renders_openai_shape() {
        let response = ApiError::ModelNotFound {
            model: "nope".into(),
        }
        .into_response_for(Surface::OpenAi);
        assert_eq!(response.status(), 404);
        let body = body(response).await;
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }

    #[tokio::test]
    async fn renders_google_shape_with_retry_after() {
        let error = ApiError::Provider(ProviderError::RateLimited {
            provider: "gemini".into(),
            retry_after: Duration::from_millis(1500),
        });
        let response = error.into_response_for(Surface::Gemini);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let body = body(response).await;
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(body["error"]["code"], 429);
    }

    #[tokio::test]
    async fn an_issuer_without_keys_is_a_503_in_both_shapes() {
        let error = || ApiError::EndUserKeysUnavailable {
            reason: "key set: could not connect".into(),
            retry_after: Duration::from_millis(300),
        };
        let response = error().into_response_for(Surface::OpenAi);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let openai = body(response).await;
        assert_eq!(openai["error"]["code"], "issuer_unavailable");
        assert_eq!(openai["error"]["type"], "api_error");
        let response = error().into_response_for(Surface::Gemini);
        assert_eq!(response.status(), 503);
        assert_eq!(body(response).await["error"]["status"], "UNAVAILABLE");
    }
}
