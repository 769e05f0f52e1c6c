//! Answers to requests whose body was not read to its end (an early error:
//! no key, an unknown path, a body over the limit) carry
//! `Connection: close`. hyper closes such a connection after the answer;
//! without the header a client that pooled it may send its next request into
//! the closing socket and see "server disconnected" instead of an answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

use crate::watched_body::{self, Watcher};

/// Middleware: watches the request body, and marks the answer when it was
/// left unread.
pub async fn close_if_unread(request: Request, next: Next) -> Response {
    if !has_body(request.headers()) {
        return next.run(request).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let watcher = ReadToEnd(read.clone());
    let request = request.map(|body| watched_body::watch(body, watcher));
    let mut response = next.run(request).await;
    if !read.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}

/// Marks `read` when the request body was read to its end.
struct ReadToEnd(Arc<AtomicBool>);

impl Watcher for ReadToEnd {
    fn ended(self, complete: bool) {
        if complete {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}
