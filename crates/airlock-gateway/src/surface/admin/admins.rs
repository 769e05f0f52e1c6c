//! `/admin/v1/admins`: the dashboard's users (admins only): listed,
//! created with a role and a password (hashed with argon2id, off the async
//! workers), deleted (which signs them out).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use airlock_store::{Actor, AdminRole, StoreError};

use super::{AdminError, Body};
use crate::dashboard::sign_in::{check_password, check_username, hash_password};
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    username: String,
    password: String,
    role: AdminRole,
}

fn store_error(error: StoreError) -> AdminError {
    ManageError::Store(error).into()
}

pub async fn list(State(state): State<AppState>) -> Result<Response, AdminError> {
    let users = state
        .config()
        .store
        .admin_users()
        .await
        .map_err(store_error)?;
    Ok(Json(json!({"data": users})).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(body): Body<NewAdmin>,
) -> Result<Response, AdminError> {
    check_username(&body.username).map_err(AdminError::bad_request)?;
    check_password(&body.password).map_err(AdminError::bad_request)?;
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| error.to_string())
        .and_then(|hashed| hashed)
        .map_err(|error| {
            tracing::error!(%error, "hashing an admin password failed");
            AdminError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "the password could not be hashed; see the server log".to_string(),
            }
        })?;
    let created = state
        .config()
        .store
        .create_admin_user(&body.username, &hash, body.role, &actor)
        .await;
    match created {
        Ok(user) => Ok((StatusCode::CREATED, Json(user)).into_response()),
        Err(StoreError::Conflict) => {
            Err(ManageError::Conflict(format!("admin user {}", body.username)).into())
        }
        Err(error) => Err(store_error(error)),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(username): Path<String>,
) -> Result<Response, AdminError> {
    match state
        .config()
        .store
        .delete_admin_user(&username, &actor)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(StoreError::NotFound) => {
            Err(ManageError::NotFound(format!("admin user {username}")).into())
        }
        Err(error) => Err(store_error(error)),
    }
}
