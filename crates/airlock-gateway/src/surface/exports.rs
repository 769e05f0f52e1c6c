//! `GET /exports/{id}.zip?exp=…&sig=…`: a GDPR export's archive, for
//! whoever holds the signed URL the admin API gave (no key: the signature
//! is the credential, as for media), until it expires. The archive is
//! streamed from the object store as an attachment, never cached.

use airlock_store::BlobError;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use crate::state::AppState;
use crate::user_data::job::{KIND, archive_key};

#[derive(Deserialize)]
pub struct DownloadQuery {
    exp: Option<String>,
    sig: Option<String>,
}

fn refused(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::FORBIDDEN => "invalid_signature",
        StatusCode::GONE => "expired",
        _ => "unavailable",
    };
    (
        status,
        Json(json!({"error": {"message": message, "code": code}})),
    )
        .into_response()
}

/// `GET /exports/{name}`.
pub async fn download(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    let not_found = || refused(StatusCode::NOT_FOUND, "No such export.");
    let (Some(job_id), Some(media)) = (name.strip_suffix(".zip"), state.media()) else {
        return not_found();
    };
    let path = format!("/exports/{name}");
    let now = crate::clock::now_ms() / 1000;
    let checked = media.signer().check_path(
        &path,
        query.exp.as_deref(),
        query.sig.as_deref(),
        u64::try_from(now).unwrap_or(0),
    );
    match checked {
        Ok(_) => {}
        Err(crate::media::SignatureError::Expired) => {
            return refused(StatusCode::GONE, "This download has expired; export again.");
        }
        Err(_) => {
            return refused(
                StatusCode::FORBIDDEN,
                "This download URL is not signed for this export.",
            );
        }
    }
    // The job is gone when the export was erased or swept.
    match state.config().store.job_get(job_id).await {
        Ok(Some(job)) if job.kind == KIND => {}
        Ok(_) => return not_found(),
        Err(error) => {
            tracing::warn!(%error, "an export's job could not be read");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "Retry shortly.");
        }
    }
    let object = match media.blobs().get(&archive_key(job_id), None).await {
        Ok(object) => object,
        Err(BlobError::NotFound | BlobError::InvalidKey(_)) => return not_found(),
        Err(error) => {
            tracing::warn!(%error, "an export's archive could not be read");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "Retry shortly.");
        }
    };
    let disposition = format!("attachment; filename=\"airlock-export-{job_id}.zip\"");
    let mut response = Body::from_stream(object.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
