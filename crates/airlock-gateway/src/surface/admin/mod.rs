//! The admin API under `/admin/v1`: projects, keys, spend, the audit log,
//! conversations, stored media, the response cache and its pre-generation
//! jobs, every background job, realtime session records, providers'
//! health, and one end user's data (GDPR export and erasure, a whole
//! project's erasure) and a project's exports.
//!
//! Authenticated by the admin token (`AIRLOCK_ADMIN_TOKEN`, or the master key
//! when no admin token is set) as `Authorization: Bearer`, or by a dashboard
//! session (`/admin/v1/session`; see [`access`]). Every change is
//! recorded in the audit log with who made it and from where; the audit log
//! itself can only be read. Errors are `{"error": {"message", "code"}}`.

mod access;
mod admins;
mod cache;
mod conversations;
mod jobs;
mod media;
mod openapi;
mod openapi_dashboard;
mod pregenerate;
mod project_exports;
mod projects;
mod providers;
mod reports;
mod requests;
mod session;
mod sessions;
mod stats;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequest, Request};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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
        .route(
            "/admin/v1/keys/{id}",
            axum::routing::patch(projects::update_key),
        )
        .route("/admin/v1/keys/{id}/revoke", post(projects::revoke_key))
        .route("/admin/v1/keys/{id}/usage", get(reports::key_usage))
        .route(
            "/admin/v1/requests/{id}/content",
            get(reports::request_content),
        )
        .route(
            "/admin/v1/projects/{name}/conversations",
            get(conversations::list),
        )
        .route("/admin/v1/conversations/{id}", get(conversations::get))
        .route("/admin/v1/projects/{name}/media", get(media::list))
        .route("/admin/v1/media/{id}", get(media::get))
        .route("/admin/v1/cache", get(cache::stats).delete(cache::clear))
        .route(
            "/admin/v1/pregenerate",
            get(pregenerate::list)
                .post(pregenerate::create)
                .layer(DefaultBodyLimit::max(pregenerate::MAX_FILE_BYTES)),
        )
        .route("/admin/v1/pregenerate/{id}", get(pregenerate::get))
        .route(
            "/admin/v1/pregenerate/{id}/cancel",
            post(pregenerate::cancel),
        )
        .route(
            "/admin/v1/pregenerate/{id}/resume",
            post(pregenerate::resume),
        )
        .route("/admin/v1/spend", get(reports::spend))
        .route("/admin/v1/audit", get(reports::audit))
        .route("/admin/v1/realtime/sessions", get(sessions::list))
        .route("/admin/v1/realtime/sessions/{id}", get(sessions::get))
        .route("/admin/v1/providers", get(providers::list))
        .route(
            "/admin/v1/projects/{name}/users/{user}",
            axum::routing::delete(users::erase_user),
        )
        .route(
            "/admin/v1/projects/{name}/users/{user}/export",
            post(users::export),
        )
        .route(
            "/admin/v1/projects/{name}/data",
            axum::routing::delete(users::erase_project),
        )
        .route("/admin/v1/exports/{id}", get(users::get_export))
        .route("/admin/v1/jobs", get(jobs::list))
        .route("/admin/v1/jobs/{id}", get(jobs::get))
        .route(
            "/admin/v1/projects/{name}/exports",
            post(project_exports::create),
        )
        .route("/admin/v1/requests", get(requests::list))
        .route("/admin/v1/requests/{id}", get(requests::get))
        .route("/admin/v1/stats/overview", get(stats::overview))
        .route("/admin/v1/stats/spend", get(stats::spend))
        .route("/admin/v1/admins", get(admins::list).post(admins::create))
        .route(
            "/admin/v1/admins/{username}",
            axum::routing::delete(admins::delete),
        )
        .route_layer(middleware::from_fn_with_state(state, access::require_admin))
        .route("/admin/v1/openapi.json", get(openapi::document))
        .route(
            "/admin/v1/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
}

/// An admin API error.
pub struct AdminError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
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
            ManageError::Unfit(_) => (StatusCode::CONFLICT, "conflict"),
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

/// A JSON request body, its numbers read as JSON (and JSON Schema) reads
/// them: a whole number written with a fraction (`30.0`, as Python writes a
/// float) is the integer it equals, so what the OpenAPI description calls
/// an integer is accepted however the client's JSON library spells it.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AdminError> {
        let axum::Json(mut value) = axum::Json::<Value>::from_request(request, state).await?;
        if let Some(name) = listed_object(&value) {
            return Err(AdminError::bad_request(format!(
                "`{name}` must be an object, not an array"
            )));
        }
        whole_numbers(&mut value);
        serde_json::from_value(value).map(Body).map_err(|error| {
            AdminError::bad_request(format!("the request body is not valid: {error}"))
        })
    }
}

/// The members of admin bodies that are objects: serde would also read
/// each from an array of its fields' values, which the API does not have.
const OBJECT_MEMBERS: [&str; 6] = [
    "limits",
    "end_user_limits",
    "ip_limits",
    "budget",
    "queue",
    "conversations",
];

/// The first member of `value` (at any depth) that should be an object and
/// is an array.
fn listed_object(value: &Value) -> Option<&str> {
    let members = value.as_object()?;
    members.iter().find_map(|(name, member)| match member {
        Value::Array(_) if OBJECT_MEMBERS.contains(&name.as_str()) => Some(name.as_str()),
        member => listed_object(member),
    })
}

/// Writes every whole number in `value` that has a fraction as an integer.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            // The casts are exact: whole, and within the integer's range.
            if float.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&float) {
                *value = Value::from(float as u64);
            } else if float.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&float) {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(members) => members.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_with_a_fraction_are_integers() {
        let mut value = json!({"queue": {"timeout_secs": 30.0, "max_in_flight": 2},
                               "budget": {"usd": 2.5}, "list": [-4.0, 1e300, 0.0]});
        whole_numbers(&mut value);
        assert_eq!(
            value,
            json!({"queue": {"timeout_secs": 30, "max_in_flight": 2},
                   "budget": {"usd": 2.5}, "list": [-4, 1e300, 0]})
        );
        assert!(value["queue"]["timeout_secs"].is_u64());
    }

    #[test]
    fn objects_given_as_arrays_are_named() {
        assert_eq!(
            listed_object(&json!({"name": "p", "conversations": [null, null]})),
            Some("conversations")
        );
        assert_eq!(
            listed_object(&json!({"limits": {"budget": [1.0, "day"]}})),
            Some("budget")
        );
        assert_eq!(
            listed_object(&json!({"allowed_origins": ["https://a.example"], "limits": {}})),
            None
        );
    }
}
