//! The access log: one line per request, at INFO on the `airlock::access`
//! target, written when the response's last byte has left (or the client
//! went away), so a stream's line carries its whole duration.
//!
//! A line holds the method, the path (never the query, which may carry a
//! key), the status, the latency, the model when the request named one, the
//! request id, and whether the response was cut short. Never content, never
//! keys. Off when that target is filtered out (`--access-log false` or
//! `RUST_LOG`): then responses pass through unwrapped.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::context::RequestContext;
use crate::watched_body::{self, Watcher};

/// The log target; filter it to switch the access log off.
pub const TARGET: &str = "airlock::access";

/// The model a request named, left on its response for the access log.
#[derive(Clone, Debug)]
pub struct LoggedModel(pub String);

/// Whether access lines are written (the target is not filtered out).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Middleware: logs each request once its response has been sent.
pub async fn access_log(request: Request, next: Next) -> Response {
    if !enabled() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let request_id = request
        .extensions()
        .get::<RequestContext>()
        .map(|context| context.id.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let line = Line {
        started,
        method,
        path,
        status: parts.status.as_u16(),
        model: parts.extensions.remove::<LoggedModel>().map(|m| m.0),
        request_id,
    };
    Response::from_parts(parts, watched_body::watch(body, line))
}

struct Line {
    started: Instant,
    method: http::Method,
    path: String,
    status: u16,
    model: Option<String>,
    request_id: String,
}

impl Watcher for Line {
    /// Writes the line once the response has ended.
    fn ended(self, complete: bool) {
        tracing::info!(
            target: TARGET,
            method = %self.method,
            path = %self.path,
            status = self.status,
            latency_ms = self.started.elapsed().as_micros() as f64 / 1000.0,
            model = self.model.as_deref().unwrap_or("-"),
            request_id = %self.request_id,
            complete,
            "{} {} {}",
            self.method,
            self.path,
            self.status,
        );
    }
}
