//! Google's Interactions API (`/{version}/interactions`, google-genai's
//! `client.interactions`) ⇄ the OpenAI Responses API, which is the wire
//! format of the gateway's conversation engine. Pure functions over
//! `serde_json::Value`, no I/O. The gateway's
//! `surface/gemini/interactions.rs` runs, for a create:
//!
//! 1. [`interaction_request_to_responses`] on the Interactions body: the
//!    Responses request the engine runs (history, provider call, storage);
//! 2. for a complete answer, [`responses_to_interaction`] on the engine's
//!    response object (its id, the turn's, becomes the interaction's);
//! 3. for a stream, each Responses event through an
//!    [`InteractionsStreamTranslator`];
//! 4. for an error answer (OpenAI's shape), [`openai_error_to_interactions`].
//!
//! A stored turn is read back (`GET`) with [`stored_interaction`]: the
//! turn's input items as steps, then its output.
//!
//! Errors are the Interactions API's own shape, `{"error": {"code",
//! "message"}}` with a string code (google-genai's `Error` model: `code:
//! str`), the codes of <https://ai.google.dev/gemini-api/docs/api-errors>:
//! `invalid_request`, `parameter_unknown`, `not_found`, ...

#[path = "interactions_object.rs"]
mod object;
#[path = "interactions_request.rs"]
mod request;
#[path = "interactions_stream.rs"]
mod stream;

use serde_json::{Value, json};

use super::params::TranslateError;

pub use object::{responses_to_interaction, stored_interaction};
pub use request::interaction_request_to_responses;
pub use stream::InteractionsStreamTranslator;

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (the `created` and
/// `updated` of an interaction); the caller owns the calendar.
pub type Rfc3339 = fn(u64) -> String;

/// An answer in the Interactions API's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl InteractionsError {
    /// A 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "invalid_request",
            message: message.into(),
        }
    }

    /// A 400 `parameter_unknown` for a member the API does not have.
    fn unknown(param: &str) -> Self {
        Self {
            status: 400,
            code: "parameter_unknown",
            message: format!("Unknown parameter: '{param}'."),
        }
    }

    /// A 400 for something the API has but this gateway does not serve.
    fn unserved(param: &str, why: &str) -> Self {
        Self::invalid(format!("'{param}' is not supported by this gateway: {why}"))
    }

    /// `{"error": {"code", "message"}}`.
    pub fn body(&self) -> Value {
        error_body(self.code, &self.message)
    }
}

impl From<TranslateError> for InteractionsError {
    fn from(error: TranslateError) -> Self {
        Self::invalid(error.message)
    }
}

/// The Interactions API's error body.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The Interactions API's error code for an HTTP status.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 | 405 | 413 | 415 | 422 => "invalid_request",
        401 => "authentication",
        402 => "payment_required",
        403 => "permission_denied",
        404 => "not_found",
        416 => "out_of_range",
        429 => "rate_limit_exceeded",
        499 => "cancelled",
        503 => "service_unavailable",
        _ => "api_error",
    }
}

/// An OpenAI-shaped error answer (`{"error": {"message", "type", "param",
/// "code"}}`, as the engine relays or translates provider errors) → the
/// Interactions API's error body for the same status. A body that is not
/// OpenAI's keeps only the status's code and a generic message.
pub fn openai_error_to_interactions(status: u16, body: &[u8]) -> Value {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .map(|body| body["error"].clone())
        .unwrap_or(Value::Null);
    let code = openai_code(error["code"].as_str()).unwrap_or_else(|| code_for_status(status));
    let message = error["message"]
        .as_str()
        .filter(|message| !message.is_empty())
        .map_or_else(
            || format!("The provider answered with HTTP status {status}."),
            str::to_owned,
        );
    error_body(code, &message)
}

/// The Interactions code for an OpenAI error code that has its own.
fn openai_code(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "unknown_parameter" => Some("parameter_unknown"),
        "model_not_found" => Some("model_not_found"),
        "insufficient_quota" => Some("quota_exceeded"),
        "rate_limit_exceeded" => Some("rate_limit_exceeded"),
        _ => None,
    }
}

/// An OpenAI stream `error` event's or failed response's `error` → the
/// Interactions `error` member (no status is known mid-stream).
fn stream_error(error: &Value) -> Value {
    let code = openai_code(error["code"].as_str()).unwrap_or("api_error");
    let message = error["message"]
        .as_str()
        .unwrap_or("The provider's stream failed.");
    json!({"code": code, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openai_error_keeps_its_message_and_takes_the_status_code() {
        let body = br#"{"error": {"message": "Invalid value: 'x'.", "type": "invalid_request_error", "param": "input", "code": null}}"#;
        assert_eq!(
            openai_error_to_interactions(400, body),
            json!({"error": {"code": "invalid_request", "message": "Invalid value: 'x'."}})
        );
        let unknown = br#"{"error": {"message": "Unknown parameter: 'frobnicate'.", "type": "invalid_request_error", "param": "frobnicate", "code": "unknown_parameter"}}"#;
        assert_eq!(
            openai_error_to_interactions(400, unknown)["error"]["code"],
            "parameter_unknown"
        );
        assert_eq!(
            openai_error_to_interactions(429, br#"{"error": {"message": "slow down"}}"#)["error"]["code"],
            "rate_limit_exceeded"
        );
    }

    #[test]
    fn a_body_that_is_not_openais_still_answers_in_the_interactions_shape() {
        assert_eq!(
            openai_error_to_interactions(502, b"<html>bad gateway</html>"),
            json!({"error": {"code": "api_error", "message": "The provider answered with HTTP status 502."}})
        );
        assert_eq!(code_for_status(503), "service_unavailable");
        assert_eq!(code_for_status(404), "not_found");
    }

    #[test]
    fn request_errors_render_with_their_code() {
        assert_eq!(
            InteractionsError::unknown("frobnicate").body(),
            json!({"error": {"code": "parameter_unknown", "message": "Unknown parameter: 'frobnicate'."}})
        );
        let unserved = InteractionsError::unserved("seed", "the engine has no seed.");
        assert_eq!(unserved.status, 400);
        assert_eq!(unserved.code, "invalid_request");
        assert_eq!(
            unserved.message,
            "'seed' is not supported by this gateway: the engine has no seed."
        );
    }
}
