//! Who may call the admin API: the admin token (or master key) as
//! `Authorization: Bearer`, or a dashboard session's cookie. A session's
//! changes must echo its CSRF token in `x-csrf-token`; a viewer changes
//! nothing, and only an admin manages admin users. Every caller becomes
//! the [`Actor`] its changes are audited under.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};

use airlock_store::{Actor, AdminRole, AdminSession};

use super::AdminError;
use crate::clock::now_ms;
use crate::dashboard::sign_in::{CSRF_HEADER, session_cookie, token_digest, tokens_equal};
use crate::state::AppState;

/// The admin users' routes, which only an admin session may call.
const ADMINS_PATH: &str = "/admin/v1/admins";

fn refusal(status: StatusCode, code: &'static str, message: &str) -> AdminError {
    AdminError {
        status,
        code,
        message: message.to_string(),
    }
}

/// The address a request came from.
pub(super) fn client_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// What the gate reads of a request (owned: the request itself is not
/// `Sync`, so cannot be borrowed across the session lookup).
struct Asked {
    method: Method,
    path: String,
    headers: HeaderMap,
    address: Option<IpAddr>,
}

impl Asked {
    fn actor(&self, name: String) -> Actor {
        Actor {
            name,
            remote_addr: self.address.map(|ip| ip.to_string()),
        }
    }
}

/// Whether a method changes something.
fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The signed-in session a request's cookie names, if it is still valid.
pub(super) async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, AdminSession)>, AdminError> {
    let Some(token) = session_cookie(headers) else {
        return Ok(None);
    };
    let digest = token_digest(token);
    let session = state
        .config()
        .store
        .admin_session(&digest)
        .await
        .map_err(|e| AdminError::from(crate::tenancy::manage::ManageError::Store(e)))?
        .ok_or_else(|| {
            refusal(
                StatusCode::UNAUTHORIZED,
                "no_session",
                "you are not signed in (or were signed out): sign in again",
            )
        })?;
    if session.expires_at_ms <= now_ms() {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "your session has expired: sign in again",
        ));
    }
    Ok(Some((digest, session)))
}

/// Refuses a session's change without its CSRF token.
pub(super) fn check_csrf(headers: &HeaderMap, session: &AdminSession) -> Result<(), AdminError> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    match presented {
        Some(token) if tokens_equal(token, &session.csrf_token) => Ok(()),
        _ => Err(refusal(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this change did not carry the session's CSRF token (x-csrf-token); reload the page",
        )),
    }
}

/// The audit name of a session's user.
pub(super) fn session_actor(session: &AdminSession) -> String {
    format!("dashboard:{}", session.username)
}

/// The admin API's gate.
pub(super) async fn require_admin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let asked = Asked {
        method: request.method().clone(),
        path: request.uri().path().to_string(),
        headers: request.headers().clone(),
        address: client_address(&request),
    };
    match admit(&state, &asked).await {
        Ok(actor) => {
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn admit(state: &AppState, request: &Asked) -> Result<Actor, AdminError> {
    let bearer = request
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let auth = &state.config().auth;
    if let Some(token) = bearer {
        return match auth.has_admin_token() {
            false => Err(admin_disabled()),
            true if auth.is_admin(token) => Ok(request.actor("admin-api".to_string())),
            true => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "invalid admin token",
            )),
        };
    }
    let Some((_, session)) = session_of(state, &request.headers).await? else {
        return Err(match auth.has_admin_token() {
            true => refusal(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "send the admin token as `Authorization: Bearer`, or sign in to the dashboard",
            ),
            false => admin_disabled(),
        });
    };
    if changes(&request.method) {
        check_csrf(&request.headers, &session)?;
        if session.role == AdminRole::Viewer {
            return Err(forbidden_role(session.role));
        }
    }
    if request.path.starts_with(ADMINS_PATH) && session.role != AdminRole::Admin {
        return Err(forbidden_role(session.role));
    }
    Ok(request.actor(session_actor(&session)))
}

fn admin_disabled() -> AdminError {
    refusal(
        StatusCode::FORBIDDEN,
        "admin_disabled",
        "the admin API is disabled: set AIRLOCK_ADMIN_TOKEN (or AIRLOCK_MASTER_KEY)",
    )
}

fn forbidden_role(role: AdminRole) -> AdminError {
    refusal(
        StatusCode::FORBIDDEN,
        "forbidden_role",
        &format!("your role ({}) cannot do this", role.as_str()),
    )
}
