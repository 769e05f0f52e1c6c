//! Turning a provider's answer into an HTTP response under a request's
//! [`Plan`]: slow headers, latency pacing and connection aborts happen here.

use std::io;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::config::{Latency, STALL_LIMIT};

/// What the request's headers and the server's configuration ask of the
/// delivery of one response (or of one realtime session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    pub latency: Latency,
    pub disconnect_after: Option<usize>,
    pub slow_headers: Option<Duration>,
    /// Realtime sessions only: when the provider ends the session.
    pub go_away: Option<Duration>,
    /// HTTP only: chunks sent before the answer stalls (for a complete
    /// body: none, after the headers).
    pub stall_after: Option<usize>,
    /// HTTP only: the connection is closed without an answer.
    pub reset: bool,
}

#[derive(Debug)]
pub enum Body {
    /// A complete body. `pace` is how many chunks the same answer would take
    /// as a stream (0 for answers that are not paced by the latency profile).
    Whole { bytes: Bytes, pace: usize },
    /// Stream chunks; the terminator follows the last chunk unless the
    /// connection is cut first.
    Stream {
        chunks: Vec<Bytes>,
        terminator: Option<Bytes>,
    },
}

#[derive(Debug)]
pub struct Payload {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
}

impl Payload {
    pub fn json(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Self {
        let headers = vec![(header::CONTENT_TYPE, HeaderValue::from_static(content_type))];
        Self {
            status,
            headers,
            body: Body::Whole {
                bytes: bytes.into(),
                pace: 0,
            },
        }
    }

    pub fn stream(
        content_type: &'static str,
        chunks: Vec<Bytes>,
        terminator: Option<Bytes>,
    ) -> Self {
        let headers = vec![(header::CONTENT_TYPE, HeaderValue::from_static(content_type))];
        Self {
            status: StatusCode::OK,
            headers,
            body: Body::Stream { chunks, terminator },
        }
    }

    /// Marks a whole body as a generation the latency profile applies to.
    pub fn paced(mut self, chunks: usize) -> Self {
        if let Body::Whole { pace, .. } = &mut self.body {
            *pace = chunks.max(1);
        }
        self
    }

    pub fn with_header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.push((HeaderName::from_static(name), value));
        self
    }

    #[cfg(test)]
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "airlock-mock: injected disconnect",
    )
}

/// A body that fails at once: hyper has only buffered the headers when it
/// polls it, so the connection closes with nothing sent.
fn reset() -> AxumBody {
    AxumBody::from_stream(stream::once(async {
        Err::<Bytes, _>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "airlock-mock: injected reset",
        ))
    }))
}

/// A stalled answer: nothing more, then an abort after [`STALL_LIMIT`].
async fn stall() -> io::Result<Bytes> {
    tokio::time::sleep(STALL_LIMIT).await;
    Err(aborted())
}

pub async fn render(payload: Payload, plan: Plan) -> Response {
    if let Some(wait) = plan.slow_headers {
        tokio::time::sleep(wait).await;
    }
    if plan.reset {
        return Response::new(reset());
    }
    let Latency {
        first_token,
        per_chunk,
    } = plan.latency;
    let body = match payload.body {
        Body::Whole { bytes, pace } => {
            let rest = u32::try_from(pace.saturating_sub(1)).unwrap_or(u32::MAX);
            let wait = first_token.saturating_add(per_chunk.saturating_mul(rest));
            // A zero sleep would still wait for the timer's next 1 ms tick.
            if pace > 0 && !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            if plan.stall_after.is_some() {
                AxumBody::from_stream(stream::once(stall()))
            } else if plan.disconnect_after.is_some() {
                AxumBody::from_stream(stream::once(async {
                    // Let hyper flush the headers before the abort.
                    tokio::task::yield_now().await;
                    Err::<Bytes, _>(aborted())
                }))
            } else {
                AxumBody::from(bytes)
            }
        }
        Body::Stream { chunks, terminator } => {
            let total = chunks.len();
            let cut = plan.disconnect_after.or(plan.stall_after);
            let sent = cut.map_or(total, |n| n.min(total));
            let mut items: Vec<(Duration, io::Result<Bytes>)> = chunks
                .into_iter()
                .take(sent)
                .enumerate()
                .map(|(i, c)| (if i == 0 { first_token } else { per_chunk }, Ok(c)))
                .collect();
            match (plan.disconnect_after, terminator) {
                (Some(_), _) => items.push((Duration::ZERO, Err(aborted()))),
                (None, Some(t)) if plan.stall_after.is_none() => {
                    items.push((Duration::ZERO, Ok(t)));
                }
                _ => {}
            }
            let paced = stream::iter(items).then(|(wait, item)| async move {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                if item.is_err() {
                    // Let hyper flush what was sent before the abort.
                    tokio::task::yield_now().await;
                }
                item
            });
            if plan.stall_after.is_some() {
                AxumBody::from_stream(paced.chain(stream::once(stall())))
            } else {
                AxumBody::from_stream(paced)
            }
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = payload.status;
    response.headers_mut().extend(payload.headers);
    response
}
