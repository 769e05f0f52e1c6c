//! The receipts log's HTTP surface (see `docs/receipts.md`).
//!
//! - `GET /v1/receipts/{id}` (a client key, its own project's receipts
//!   only; the master key, any): the entry, its leaf index, an inclusion
//!   proof and the signed checkpoint it leads to; `202` with
//!   `Retry-After` until a checkpoint covers it.
//! - `GET /log/checkpoint`, `GET /log/tile/…` (C2SP tlog-tiles paths,
//!   entry bundles included) and `GET /log/proof/consistency?from=&to=`:
//!   public, as they hold only hashes and the entries' digests.

use airlock_receipts::tiles::{TileId, TilePath};
use airlock_receipts::{Hash, ReceiptBundle};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::receipts::{ProofRefused, ReceiptLookup, Receipts};
use crate::state::AppState;

/// Seconds a client waits before asking again for a receipt no
/// checkpoint covers yet.
const RETRY_AFTER_S: u64 = 1;

/// An error in the OpenAI shape, as the API's other errors.
fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    let kind = match status {
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::BAD_REQUEST => "invalid_request_error",
        _ => "api_error",
    };
    let body = json!({"error": {"message": message, "type": kind, "code": code, "param": null}});
    (status, Json(body)).into_response()
}

fn receipts_off() -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "receipts_disabled",
        "Receipts are not enabled on this gateway ([receipts] enabled = false).",
    )
}

fn store_failed(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "receipts log read failed");
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "receipts_unavailable",
        "The receipts log cannot be read right now; try again.",
    )
}

/// `GET /v1/receipts/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let Some(receipts) = state.config().receipts.as_deref() else {
        return receipts_off();
    };
    let project = match &context.principal {
        Principal::Master | Principal::Anonymous => None,
        principal => match principal.grant() {
            Some(grant) => Some(grant.project.id.as_str()),
            None => return not_found(&id),
        },
    };
    match receipts.lookup(&id, project).await {
        Err(error) => store_failed(error),
        Ok(ReceiptLookup::NotFound) => not_found(&id),
        Ok(ReceiptLookup::Pending) => {
            let body = json!({
                "object": "receipt",
                "id": id,
                "status": "pending",
                "message": "The receipt is logged; no checkpoint covers it yet. Ask again after Retry-After seconds.",
            });
            let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
            response
        }
        Ok(ReceiptLookup::Proven(proven)) => {
            let entry = match serde_json::from_slice(&proven.receipt.entry) {
                Ok(entry) => entry,
                Err(error) => return store_failed(format!("a stored receipt entry: {error}")),
            };
            let bundle = ReceiptBundle {
                object: "receipt".to_string(),
                id: proven.receipt.receipt_id,
                leaf_index: proven.receipt.leaf_index,
                entry,
                entry_base64: STANDARD.encode(&proven.receipt.entry),
                inclusion_proof: proven.proof.iter().map(Hash::to_base64).collect(),
                checkpoint: proven.checkpoint.note,
            };
            Json(bundle).into_response()
        }
    }
}

fn not_found(id: &str) -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "receipt_not_found",
        &format!("No receipt {id} for this key's project."),
    )
}

/// `GET /log/checkpoint`: the latest signed checkpoint, as a signed note.
pub async fn checkpoint(State(state): State<AppState>) -> Response {
    let Some(receipts) = state.config().receipts.as_deref() else {
        return receipts_off();
    };
    match receipts.latest().await {
        Err(error) => store_failed(error),
        Ok(None) => refused(
            StatusCode::NOT_FOUND,
            "no_checkpoint",
            "The log has no checkpoint yet: nothing has been logged.",
        ),
        Ok(Some(checkpoint)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            checkpoint.note,
        )
            .into_response(),
    }
}

/// `GET /log/tile/{*path}`: a tile of hashes or an entry bundle. Tiles
/// never change once they have their width, so they are cached for good.
pub async fn tile(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let Some(receipts) = state.config().receipts.as_deref() else {
        return receipts_off();
    };
    let tile = match TilePath::parse(&format!("tile/{path}")) {
        Ok(tile) => tile,
        Err(error) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid_tile_path",
                &format!("tile/{path} is not a tile path: {error}"),
            );
        }
    };
    let read = match tile {
        TilePath::Hashes {
            level,
            index,
            width,
        } => {
            receipts
                .tile(TileId { level, index }, width.map(u64::from))
                .await
        }
        TilePath::Entries { index, width } => {
            receipts.entry_bundle(index, width.map(u64::from)).await
        }
    };
    match read {
        Err(error) => store_failed(error),
        Ok(None) => refused(
            StatusCode::NOT_FOUND,
            "tile_not_found",
            &format!("The log has no tile/{path} yet."),
        ),
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /log/proof/consistency?from=OLD&to=NEW`.
pub async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> Response {
    let Some(receipts) = state.config().receipts.as_deref() else {
        return receipts_off();
    };
    let size = |value: &Option<String>| value.as_deref().and_then(|value| value.parse().ok());
    let (Some(from), Some(to)) = (size(&query.from), size(&query.to)) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_tree_size",
            "`from` and `to` must be tree sizes (whole numbers).",
        );
    };
    proof_response(receipts, from, to).await
}

async fn proof_response(receipts: &Receipts, from: u64, to: u64) -> Response {
    match receipts.consistency(from, to).await {
        Ok(proof) => Json(json!({
            "from": from,
            "to": to,
            "proof": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(ProofRefused::Store(error)) => store_failed(error),
        Err(refusal) => refused(
            StatusCode::BAD_REQUEST,
            "invalid_tree_size",
            &refusal.to_string(),
        ),
    }
}
