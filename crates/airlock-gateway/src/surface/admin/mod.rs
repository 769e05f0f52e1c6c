//! The admin API under `/admin/v1`: projects, keys, spend, the audit log,
//! conversations and realtime session records.
//!
//! Authenticated by the admin token (`AIRLOCK_ADMIN_TOKEN`, or the master key
//! when no admin token is set) as `Authorization: Bearer`. Every change is
//! recorded in the audit log with who made it and from where; the audit log
//! itself can only be read. Errors are `{"error": {"message", "code"}}`.

mod conversations;
mod openapi;
mod projects;
mod reports;
mod sessions;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::json;

use airlock_store::Actor;

use crate::state::AppState;
use crate::tenancy::manage::ManageError;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/admin/v1/projects/{name}",
            get(projects::get).patch(projects::update),
        )
        .route(
            "/admin/v1/projects/{name}/keys",
            get(projects::list_keys).post(projects::create_key),
        )
        .route("/admin/v1/keys/{id}/revoke", post(projects::revoke_key))
        .route(
            "/admin/v1/projects/{name}/conversations",
            get(conversations::list),
        )
        .route("/admin/v1/conversations/{id}", get(conversations::get))
        .route("/admin/v1/spend", get(reports::spend))
        .route("/admin/v1/audit", get(reports::audit))
        .route("/admin/v1/realtime/sessions", get(sessions::list))
        .route("/admin/v1/realtime/sessions/{id}", get(sessions::get))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
        .route("/admin/v1/openapi.json", get(openapi::document))
}

/// An admin API error.
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AdminError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "code": self.code}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<ManageError> for AdminError {
    fn from(error: ManageError) -> Self {
        let (status, code) = match &error {
            ManageError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ManageError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ManageError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ManageError::Store(store) => {
                tracing::error!(error = %store, "admin operation failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = match error {
            ManageError::Store(_) => "the operation failed; see the server log".to_string(),
            other => other.to_string(),
        };
        AdminError {
            status,
            code,
            message,
        }
    }
}

/// JSON bodies that fail to parse are the caller's mistake: say which.
impl From<axum::extract::rejection::JsonRejection> for AdminError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        AdminError::bad_request(rejection.body_text())
    }
}

/// The actor of an admin request, for the audit log.
fn actor(request: &Request) -> Actor {
    let remote_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    Actor {
        name: "admin-api".to_string(),
        remote_addr,
    }
}

async fn require_admin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let refusal = |status, code, message: &str| {
        AdminError {
            status,
            code,
            message: message.to_string(),
        }
        .into_response()
    };
    match (presented, state.config().auth.has_admin_token()) {
        (_, false) => refusal(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is disabled: set AIRLOCK_ADMIN_TOKEN (or AIRLOCK_MASTER_KEY)",
        ),
        (None, true) => refusal(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "send the admin token as `Authorization: Bearer`",
        ),
        (Some(token), true) if state.config().auth.is_admin(token) => {
            let actor = actor(&request);
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        (Some(_), true) => refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "invalid admin token",
        ),
    }
}
