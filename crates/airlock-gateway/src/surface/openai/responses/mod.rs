//! OpenAI's Responses API (`/v1/responses`) with Airlock's own state: a turn
//! names the turn it continues (`previous_response_id`), Airlock puts that
//! conversation's history before the new input and calls the provider
//! statelessly (`store: false`) through the dispatch seam, then keeps the
//! turn (unless the client said `store: false`) under an id of its own, so
//! the conversation is Airlock's whichever provider answers.
//! `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`
//! read and delete stored turns; only their project (and end user, when a
//! token names one) sees them.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::items::{ListQuery, listed, page};
use crate::body::{parse_json_object, read_json_bytes};
use crate::context::RequestContext;
use crate::conversations::turn::{self, Answered};
use crate::conversations::{self, Owner, history_policy};
use crate::dispatch::Operation;
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::relay::respond;
use crate::state::AppState;

/// `POST /v1/responses`.
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut exchange = Exchange::begin(
        &state,
        &context,
        Surface::OpenAi,
        Operation::Responses.name(),
    );
    let (result, dropped_turns) =
        match create_turn(&state, &context, &headers, body, &mut exchange).await {
            Ok(answered) => (Ok(answered.reply), answered.dropped_turns),
            Err(error) => (Err(error), 0),
        };
    let mut response = respond(Surface::OpenAi, exchange, result).await;
    if dropped_turns > 0 {
        response
            .headers_mut()
            .insert(TRUNCATED_HEADER, HeaderValue::from(dropped_turns));
    }
    response
}

/// Says how many of the oldest turns the project's history policy left out
/// of what the provider was sent.
const TRUNCATED_HEADER: &str = "x-airlock-history-truncated";

async fn create_turn(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    exchange: &mut Exchange,
) -> Result<Answered, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let request = parse_json_object(&bytes)?;
    let owner = Owner::of(context, &request);
    turn::run(state, request, owner, &history_policy(context), exchange).await
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    match conversations::readable(&state, &context, &id).await {
        Ok(record) => (StatusCode::OK, axum::Json(&record.response)).into_response(),
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    match conversations::delete_for(&state, &context, &id).await {
        Ok(()) => axum::Json(json!({"id": id, "object": "response.deleted", "deleted": true}))
            .into_response(),
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

/// `GET /v1/responses/{id}/input_items`: the items the turn's request sent
/// (each given a stable id when it had none), paged as OpenAI pages items.
pub async fn input_items_list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let listing = conversations::readable(&state, &context, &id)
        .await
        .and_then(|record| {
            let suffix = record.id.trim_start_matches("resp_");
            let items = record
                .input_items
                .iter()
                .enumerate()
                .map(|(index, item)| listed(item, &format!("msg_{suffix}_{index}")))
                .collect();
            page(items, &query)
        });
    match listing {
        Ok(list) => axum::Json(list).into_response(),
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}
