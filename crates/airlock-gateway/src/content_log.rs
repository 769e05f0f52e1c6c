//! Content logging: for a project that turns it on (`log_content`), each
//! request's body and its answer (a stream's events as they were sent) are
//! stored beside its record, under its id, once the answer has ended.
//! Personal data (emails, phone numbers, card numbers) and the operator's
//! `[content_log] redact_patterns` are redacted before anything is
//! written ([`airlock_documents::Redactor`]).
//!
//! Authentication calls [`begin`] once it knows the project, so a request
//! of a project that does not log content costs one look at a setting.
//! The bodies are copied as they pass, never held back: the request's as
//! its handler reads it (under the handler's own limits and guards), the
//! answer's as the client is sent it. Each is kept up to
//! [`MAX_KEPT_BYTES`]; what is past that is dropped and the row says it was
//! cut. Only JSON requests are logged (generation, not uploads: files are
//! kept by the Files API); realtime sessions (an upgrade) are not logged
//! here.

use std::sync::{Arc, Mutex, PoisonError};

use airlock_documents::Redactor;
use airlock_store::{RequestContent, Store};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};

use crate::context::RequestContext;
use crate::state::AppState;

/// The most of a request's body, and of its answer, kept.
pub const MAX_KEPT_BYTES: usize = 1 << 20;

/// A capture of the request's bodies when its project logs content and it
/// is a JSON `POST`; `None` for any other request (the common case: one
/// look at the project's settings).
pub(crate) fn begin(
    state: &AppState,
    context: &RequestContext,
    method: &Method,
    headers: &HeaderMap,
) -> Option<Arc<Capture>> {
    let grant = context.principal.grant()?;
    if !grant.project.settings.log_content || method != Method::POST {
        return None;
    }
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !json {
        return None;
    }
    Some(Arc::new(Capture {
        store: state.config().store.clone(),
        redactor: state.config().content_redactor.clone(),
        id: context.id.clone(),
        project_id: grant.project.id.clone(),
        end_user: context.end_user.clone(),
        started_at_ms: crate::clock::now_ms(),
        kept: Mutex::new(Kept::default()),
    }))
}

impl Capture {
    /// The request's body, copied as its handler reads it.
    pub(crate) fn tee_request(self: &Arc<Self>, body: Body) -> Body {
        tee(body, self.clone(), Side::Request)
    }

    /// The answer, its body copied as it is sent.
    pub(crate) fn tee_response(self: Arc<Self>, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, tee(body, self, Side::Response))
    }
}

/// A body that copies what passes through it into the capture.
fn tee(body: Body, capture: Arc<Capture>, side: Side) -> Body {
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            capture.keep(side, bytes);
        }
        chunk
    }))
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// One request's copied bodies; written when the last of its bodies is
/// dropped (the answer sent, or the client gone).
pub(crate) struct Capture {
    store: Store,
    redactor: Arc<Redactor>,
    id: String,
    project_id: String,
    end_user: Option<String>,
    started_at_ms: i64,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    request: Vec<u8>,
    response: Vec<u8>,
    truncated: bool,
}

impl Capture {
    fn keep(&self, side: Side, bytes: &Bytes) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept {
            request,
            response,
            truncated,
        } = &mut *kept;
        let into = match side {
            Side::Request => request,
            Side::Response => response,
        };
        let room = MAX_KEPT_BYTES.saturating_sub(into.len());
        if bytes.len() > room {
            *truncated = true;
        }
        into.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let kept = std::mem::take(self.kept.get_mut().unwrap_or_else(PoisonError::into_inner));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let redactor = self.redactor.clone();
        let mut content = RequestContent {
            id: std::mem::take(&mut self.id),
            project_id: Some(std::mem::take(&mut self.project_id)),
            end_user: self.end_user.take(),
            created_at_ms: self.started_at_ms,
            request: String::new(),
            response: String::new(),
            truncated: kept.truncated,
        };
        // Redacting is CPU work on up to two megabytes: off the async
        // workers, as the write is off the request's path.
        runtime.spawn(async move {
            let named = content.end_user.is_none();
            let redacted = tokio::task::spawn_blocking(move || {
                let end_user = named
                    .then(|| crate::end_user::named_in_body(&kept.request))
                    .flatten();
                let request = redactor.redact(&String::from_utf8_lossy(&kept.request));
                let response = redactor.redact(&String::from_utf8_lossy(&kept.response));
                (request, response, end_user)
            })
            .await;
            let Ok((request, response, end_user)) = redacted else {
                return;
            };
            content.request = request;
            content.response = response;
            content.end_user = content.end_user.or(end_user);
            if let Err(error) = store.insert_request_content(&content).await {
                tracing::warn!(%error, request_id = %content.id, "a request's content could not be logged");
            }
        });
    }
}
