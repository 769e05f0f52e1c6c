//! Request inspection for tests: the simulator remembers the bodies of the
//! last [`CAPACITY`] requests whose handlers read a JSON body (every
//! provider POST past the fault and key rules), newest last, and shows them at `GET /mock/requests`
//! (`DELETE` forgets them) and through [`crate::MockServer::received`].
//!
//! Recording is cheap: the handler has already read the body into one
//! buffer, and the ring keeps a reference to it; it is parsed only when
//! the records are read.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::server::{MockServer, lock};

/// How many request bodies are remembered.
pub const CAPACITY: usize = 64;

/// A request body the simulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    /// The body as JSON; a body that is not JSON is shown as the string of
    /// its (lossily decoded) text.
    pub body: Value,
}

#[derive(Debug)]
struct Raw {
    method: Method,
    path: String,
    body: Bytes,
}

/// The ring of the last [`CAPACITY`] bodies.
#[derive(Debug, Default)]
pub struct Inspection {
    ring: Mutex<VecDeque<Raw>>,
}

impl Inspection {
    pub fn record(&self, method: &Method, path: &str, body: &Bytes) {
        let mut ring = lock(&self.ring);
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(Raw {
            method: method.clone(),
            path: path.to_owned(),
            body: body.clone(),
        });
    }

    /// The remembered requests, oldest first.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        lock(&self.ring)
            .iter()
            .map(|raw| ReceivedRequest {
                method: raw.method.as_str().to_owned(),
                path: raw.path.clone(),
                body: serde_json::from_slice(&raw.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&raw.body).into_owned())
                }),
            })
            .collect()
    }

    /// Forgets every record; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut ring = lock(&self.ring);
        let n = ring.len();
        ring.clear();
        n
    }
}

/// `GET /mock/requests` → `{"data": [{"method", "path", "body"}, …]}`,
/// newest last; `DELETE /mock/requests` forgets them (`{"deleted": N}`).
/// Neither is counted, faulted or recorded.
pub async fn route(State(server): State<MockServer>, request: Request) -> Response {
    let inspection = server.inspection();
    match *request.method() {
        Method::GET => {
            let data: Vec<Value> = inspection
                .received()
                .into_iter()
                .map(|r| json!({ "method": r.method, "path": r.path, "body": r.body }))
                .collect();
            axum::Json(json!({ "data": data })).into_response()
        }
        Method::DELETE => axum::Json(json!({ "deleted": inspection.clear() })).into_response(),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, DELETE")],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest() {
        let ring = Inspection::default();
        for i in 0..CAPACITY + 2 {
            ring.record(
                &Method::POST,
                "/v1/x",
                &Bytes::from(format!("{{\"n\": {i}}}")),
            );
        }
        ring.record(&Method::POST, "/v1/y", &Bytes::from_static(b"{nope"));
        let got = ring.received();
        assert_eq!(got.len(), CAPACITY);
        assert_eq!(got[0].body, json!({"n": 3}));
        assert_eq!(got.last().unwrap().body, json!("{nope"));
        assert_eq!(got.last().unwrap().path, "/v1/y");
        assert_eq!(ring.clear(), CAPACITY);
        assert!(ring.received().is_empty());
    }
}
