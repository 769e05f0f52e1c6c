//! `/admin/v1/session`: signing in to the dashboard (an admin user's name
//! and password, or the master key / admin token alone), reading the
//! signed-in session, and signing out. Failed attempts are bounded per
//! address and per name; passwords are checked off the async workers.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use airlock_store::{Actor, AdminRole, AdminSession};

use super::access::{check_csrf, client_address, session_actor, session_of};
use super::{AdminError, Body};
use crate::clock::now_ms;
use crate::connections::OverTls;
use crate::dashboard::sign_in::{
    ATTEMPTS_WINDOW, SESSION_LIFETIME, hash_password, new_token, password_matches, set_cookie,
    token_digest,
};
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

/// The name a master-key session goes by (user names cannot hold spaces).
const MASTER_KEY_USER: &str = "master key";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An admin user's name; absent, the password is the master key.
    username: Option<String>,
    password: String,
}

/// A hash compared when the user does not exist, so an unknown name takes
/// as long to refuse as a wrong password.
static NOBODY: LazyLock<String> =
    LazyLock::new(|| hash_password("nobody has this password").unwrap_or_default());

fn store_error(error: airlock_store::StoreError) -> AdminError {
    ManageError::Store(error).into()
}

fn session_body(session: &AdminSession) -> serde_json::Value {
    json!({
        "user": session.username,
        "role": session.role,
        "csrf_token": session.csrf_token,
        "expires_at_ms": session.expires_at_ms,
    })
}

/// Whether the browser reached Airlock over HTTPS.
fn over_https(tls: bool, headers: &HeaderMap) -> bool {
    tls || headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// `POST /admin/v1/session`.
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    match try_sign_in(&state, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn try_sign_in(state: &AppState, request: Request) -> Result<Response, Response> {
    let address = client_address(&request);
    let secure = over_https(
        request.extensions().get::<OverTls>().is_some(),
        request.headers(),
    );
    let Body(body) = Body::<SignIn>::from_request(request, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let name = body
        .username
        .clone()
        .unwrap_or_else(|| MASTER_KEY_USER.to_string());
    let attempts = state.sign_in_attempts();
    if attempts.refused(address, &name) {
        let mut response = AdminError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_attempts",
            message: format!(
                "too many failed sign-ins: try again in {} seconds",
                ATTEMPTS_WINDOW.as_secs()
            ),
        }
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(ATTEMPTS_WINDOW.as_secs()),
        );
        return Err(response);
    }
    let role = match &body.username {
        Some(username) => {
            let user = state
                .config()
                .store
                .admin_user(username)
                .await
                .map_err(|e| store_error(e).into_response())?;
            let stored = user.as_ref().map(|u| u.password_hash.clone());
            let password = body.password.clone();
            // Off the async workers: hashing takes tens of milliseconds
            // (the unknown user's stand-in hash too, made once).
            let matches = tokio::task::spawn_blocking(move || {
                password_matches(&password, stored.as_deref().unwrap_or(&NOBODY))
            })
            .await
            .unwrap_or(false);
            user.filter(|_| matches).map(|user| user.role)
        }
        None => {
            let auth = &state.config().auth;
            (auth.has_admin_token() && auth.is_admin(&body.password)).then_some(AdminRole::Admin)
        }
    };
    let Some(role) = role else {
        attempts.failed(address, &name);
        return Err(AdminError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_credentials",
            message: "wrong user name or password".to_string(),
        }
        .into_response());
    };
    let token = new_token();
    let now = now_ms();
    let session = AdminSession {
        username: name,
        role,
        csrf_token: new_token(),
        created_at_ms: now,
        expires_at_ms: now + SESSION_LIFETIME.as_millis() as i64,
    };
    let store = &state.config().store;
    store
        .create_admin_session(&token_digest(&token), &session)
        .await
        .map_err(|e| store_error(e).into_response())?;
    let actor = Actor {
        name: session_actor(&session),
        remote_addr: address.map(|ip| ip.to_string()),
    };
    let audited = store
        .record_audit(
            &actor,
            "session.sign_in",
            &session.username,
            json!({"role": role}),
        )
        .await;
    if let Err(error) = audited {
        tracing::warn!(%error, "a dashboard sign-in was not audited");
    }
    let mut response = Json(session_body(&session)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(Some(&token), secure)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /admin/v1/session`: who is signed in.
pub async fn current(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session_of(&state, &headers).await {
        Ok(Some((_, session))) => Json(session_body(&session)).into_response(),
        Ok(None) => AdminError {
            status: StatusCode::UNAUTHORIZED,
            code: "no_session",
            message: "you are not signed in".to_string(),
        }
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `DELETE /admin/v1/session`: signs out (with the session's CSRF token).
pub async fn sign_out(
    State(state): State<AppState>,
    tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
) -> Response {
    let secure = over_https(tls.is_some(), &headers);
    let (digest, session) = match session_of(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return AdminError {
                status: StatusCode::UNAUTHORIZED,
                code: "no_session",
                message: "you are not signed in".to_string(),
            }
            .into_response();
        }
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = check_csrf(&headers, &session) {
        return refusal.into_response();
    }
    if let Err(error) = state.config().store.delete_admin_session(&digest).await {
        return store_error(error).into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(None, secure)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
