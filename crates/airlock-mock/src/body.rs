//! Reading a request body as JSON, with the failure kinds each provider
//! reports in its own words. Every body read is remembered for inspection
//! ([`crate::inspect`]).

use axum::body::Body;
use serde_json::Value;

use crate::routes::Call;

/// Larger bodies are refused.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug)]
pub enum BodyError {
    /// No bytes at all.
    Empty,
    TooLarge,
    /// The connection failed while the body was read.
    Unreadable,
    /// Not JSON (or not UTF-8, or nested too deeply, or a number out of range).
    Malformed(serde_json::Error),
}

pub async fn read_json(call: &Call<'_>, body: Body) -> Result<Value, BodyError> {
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return Err(if too_large {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable
            });
        }
    };
    call.server
        .inspection()
        .record(&call.parts.method, call.parts.uri.path(), &bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    serde_json::from_slice(&bytes).map_err(BodyError::Malformed)
}
