//! Minting ephemeral tokens through the providers' own endpoints, so the
//! official SDKs work unchanged: Gemini's `POST /{version}/auth_tokens`
//! (`client.auth_tokens.create(...)` in google-genai; the token's `name` is
//! then the client's key) and OpenAI's `POST /v1/realtime/client_secrets`.
//!
//! Only a project's secret key or the master key can mint. A token lives at
//! most 30 minutes, may be limited to a number of uses, and may be bound to
//! one model; it carries the minting key's project, scopes and limits.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::bad;
use crate::auth::Principal;
use crate::body::{parse_json_object, read_json_bytes};
use crate::clock::{self, now_ms};
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::state::AppState;
use crate::tenancy::tokens::{MAX_LIFETIME, TokenGrant};
use crate::tenancy::{KeyGrant, random_hex};

/// Google's default token lifetime, when `expireTime` is absent.
const GEMINI_DEFAULT_LIFETIME: Duration = MAX_LIFETIME;
/// OpenAI's default client-secret lifetime (ten minutes).
const OPENAI_DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

fn minting_grant(principal: &Principal) -> Result<Option<Arc<KeyGrant>>, ApiError> {
    match principal {
        Principal::Master => Ok(None),
        Principal::Key(grant) if grant.key.kind == airlock_store::KeyKind::Secret => {
            Ok(Some(grant.clone()))
        }
        _ => Err(ApiError::CannotMint),
    }
}

/// Who is minting, and the request's JSON object (an empty body is `{}`).
async fn mint_request(
    state: &AppState,
    request: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Option<Arc<KeyGrant>>, Map<String, Value>), ApiError> {
    let grant = minting_grant(&request.principal)?;
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let body = if bytes.is_empty() {
        Map::new()
    } else {
        parse_json_object(&bytes)?
    };
    Ok((grant, body))
}

/// A field in either proto3 JSON spelling.
fn field<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    object
        .get(camel)
        .or_else(|| object.get(snake))
        .filter(|v| !v.is_null())
}

/// `POST /{version}/auth_tokens`.
pub async fn gemini_auth_token(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match mint_gemini(&state, &request, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(Surface::Gemini),
    }
}

async fn mint_gemini(
    state: &AppState,
    request: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (grant, body) = mint_request(state, request, headers, body).await?;
    let now = now_ms();
    let expires_at_ms = match field(&body, "expireTime", "expire_time") {
        None => now + GEMINI_DEFAULT_LIFETIME.as_millis() as i64,
        Some(Value::String(text)) => clock::parse_rfc3339_ms(text)
            .ok_or_else(|| bad("expireTime must be an RFC 3339 time", "expireTime"))?,
        Some(_) => return Err(bad("expireTime must be an RFC 3339 time", "expireTime")),
    };
    if expires_at_ms <= now || expires_at_ms > now + MAX_LIFETIME.as_millis() as i64 {
        return Err(bad(
            "expireTime must be in the future and at most 30 minutes away",
            "expireTime",
        ));
    }
    let uses = match field(&body, "uses", "uses") {
        None => 1,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("uses must be a positive integer", "uses"))?,
    };
    let setup = field(
        &body,
        "bidiGenerateContentSetup",
        "bidi_generate_content_setup",
    );
    let model = match setup.and_then(|s| s.get("model")) {
        None | Some(Value::Null) => None,
        Some(Value::String(model)) => {
            Some(model.strip_prefix("models/").unwrap_or(model).to_string())
        }
        Some(_) => {
            return Err(bad(
                "bidiGenerateContentSetup.model must be a string",
                "bidiGenerateContentSetup.model",
            ));
        }
    };
    let token = TokenGrant {
        grant,
        expires_at_ms,
        model,
    };
    let name = keep_token(state, "auth_tokens/", token, Some(uses), now).await?;
    let mut answer =
        json!({"name": name, "expireTime": clock::rfc3339(expires_at_ms), "uses": uses});
    if let Some(setup) = setup {
        answer["bidiGenerateContentSetup"] = setup.clone();
    }
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// `POST /v1/realtime/client_secrets`.
pub async fn openai_client_secret(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match mint_openai(&state, &request, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

async fn mint_openai(
    state: &AppState,
    request: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (grant, body) = mint_request(state, request, headers, body).await?;
    for name in body.keys() {
        if !matches!(name.as_str(), "expires_after" | "session") {
            return Err(bad(
                format!("Unrecognized request argument supplied: {name}"),
                name,
            ));
        }
    }
    let lifetime = match body.get("expires_after") {
        None | Some(Value::Null) => OPENAI_DEFAULT_LIFETIME,
        Some(Value::Object(expiry)) => {
            if expiry.get("anchor").is_some_and(|a| a != "created_at") {
                return Err(bad(
                    "expires_after.anchor must be 'created_at'",
                    "expires_after.anchor",
                ));
            }
            let seconds = expiry
                .get("seconds")
                .and_then(Value::as_u64)
                .filter(|s| (10..=MAX_LIFETIME.as_secs()).contains(s))
                .ok_or_else(|| {
                    bad(
                        "expires_after.seconds must be between 10 and 1800",
                        "expires_after.seconds",
                    )
                })?;
            Duration::from_secs(seconds)
        }
        Some(_) => return Err(bad("expires_after must be an object", "expires_after")),
    };
    let session = body
        .get("session")
        .cloned()
        .unwrap_or_else(|| json!({"type": "realtime"}));
    let model = match session.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(model)) => Some(model.clone()),
        Some(_) => return Err(bad("session.model must be a string", "session.model")),
    };
    let now = now_ms();
    let expires_at_ms = now + lifetime.as_millis() as i64;
    let token = TokenGrant {
        grant,
        expires_at_ms,
        model,
    };
    let value = keep_token(state, "ek_", token, None, now).await?;
    let answer = json!({"value": value, "expires_at": expires_at_ms / 1000, "session": session});
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// Makes a token's secret (`auth_tokens/...` or `ek_...`) and keeps its grant.
async fn keep_token(
    state: &AppState,
    prefix: &str,
    token: TokenGrant,
    uses: Option<u32>,
    now: i64,
) -> Result<String, ApiError> {
    let secret = format!("{prefix}{}", random_hex());
    state
        .config()
        .auth
        .tokens()
        .insert(&secret, token, uses, now)
        .await
        .map_err(|_| ApiError::SharedStateUnavailable)?;
    Ok(secret)
}
